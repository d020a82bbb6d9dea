// What the family files share: typed reads of config.json fields, the rotary
// settings every rotary family resolves the same way (transformers'
// modeling_rope_utils.py), and the matching GGUF keys (llama.cpp b4747).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/model/gguf.h"
#include "core/model/model.h"

namespace ls::arch {

// config.json's architectures[0] and model_type.
struct HfName {
  std::string architecture, model_type;
  bool is(const char* arch, const char* mtype) const { return architecture == arch || model_type == mtype; }
};

// Typed reads of config.json fields that never throw: a field of the wrong type,
// out of range or not finite records the first error and yields the fallback.
struct ConfigReader {
  std::string error;
  void fail(const std::string& msg);
  double num(const nlohmann::json& j, const char* k, double fallback);
  // A whole number in [lo, hi]; checked before the cast.
  int integer(const nlohmann::json& j, const char* k, double fallback, double lo = 0, double hi = 2147483647.0);
  // A token id, or the first of a list of them (Llama 3 lists several EOS ids).
  int token_id(const nlohmann::json& j, const char* k, int fallback);
  bool flag(const nlohmann::json& j, const char* k, bool fallback = false);
  std::string str(const nlohmann::json& j, const char* k, const std::string& fallback);
};

// The geometry of a LLaMA-style config.json (RMSNorm, transformers' names): width,
// layers, heads, KV heads, head_dim (head_dim_default when absent, 0: width / heads)
// and rms_norm_eps (eps_default when absent).
void read_hf_rms_geometry(const nlohmann::json& cfg, ConfigReader& rd, ModelConfig& c, int head_dim_default = 0,
                          double eps_default = 1e-6);

// Rotary settings of config.json: rope_theta (base_default when the config names
// none), the partial rotary factor, L, rope_scaling as transformers resolves it,
// and Mistral's native sliding window.
Status resolve_hf_rope(const nlohmann::json& cfg, ConfigReader& rd, ModelConfig& c, double base_default,
                       double partial_default);
// Whether config.json's layer_types (transformers >= 4.53) agree with c's local /
// global pattern.
Status check_layer_types(const nlohmann::json& t, const ModelConfig& c);

// GGUF: rotary dimension and base for a rotary family, in `layout`.
Status read_gguf_rope(const GgufFile& g, const std::string& a, ModelConfig& c, PairLayout layout);
// GGUF: the norm epsilon (RMSNorm key, or LayerNorm key).
Status read_gguf_norm_eps(const GgufFile& g, const std::string& a, ModelConfig& c, bool rms);

}  // namespace ls::arch
