// A model family: everything LongScope knows about one architecture, in one file
// under core/model/arch/ (llama.cpp, gemma.cpp, neox.cpp, bloom.cpp): how its
// config.json and its GGUF hyper-parameters resolve into a ModelConfig, its one
// tensor-name table (read by both loaders and by the random-model writers), and
// the configuration a random model of the family is written with.
//
// Adding a family: one file here with a `Family` (see the README's "Where a change
// goes"), one row in families.cpp, a random-model shape and its reference test.
#pragma once

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/arch/common.h"
#include "core/model/arch_weights.h"
#include "core/model/gguf.h"
#include "core/model/model.h"
#include "core/model/random_model.h"

namespace ls::arch {

// The tensors a loader binds: one column of the family's name table.
using TensorNames = std::variant<LlamaTensorNames, BloomTensorNames>;
using HasTensor = std::function<bool(const std::string&)>;

struct Family {
  // The values of ModelConfig::family this file resolves (llama, mistral, qwen2, phi3, …).
  std::vector<std::string> members;
  std::vector<std::string> hf_architectures;  // config.json architectures[0]
  std::vector<std::string> hf_model_types;    // config.json model_type
  std::vector<std::string> gguf_architectures;  // general.architecture
  // config.json → c: the family's block, geometry and rotary settings.
  Status (*read_hf)(const nlohmann::json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c);
  // GGUF: the family's keys past the common geometry, which the loader has read.
  Status (*read_gguf)(const GgufFile& g, const std::string& a, ModelConfig& c);
  // The name table in one format's column (Gguf or Safetensors) for a resolved
  // config and the tensors the file holds; an error for a layout LongScope refuses.
  Result<TensorNames> (*names)(ModelFormat format, const ModelConfig& c, const HasTensor& has);
  // Writers of random models: the config.json of `member`, and its GGUF keys past
  // the common ones.
  nlohmann::json (*hf_config)(const RandomModelSpec& s, const std::string& member);
  void (*gguf_meta)(const RandomModelSpec& s, const std::string& a, GgufWriter& w);
};

// The registry (families.cpp): by config.json names, GGUF architecture, or member.
const Family* family_for_hf(const HfName& name);
const Family* family_for_gguf(const std::string& architecture);
const Family* family_of(const std::string& member);
std::string supported_hf_architectures();   // "LlamaForCausalLM, …" for errors
std::string supported_gguf_architectures();  // "llama, qwen2, …"

// The LLaMA table (llama.cpp), which the Gemma, StableLM and Phi tables extend;
// qkv_bias: with q/k/v biases (Qwen2); fused: one qkv and one gate+up tensor (Phi-3);
// qk_norm: per-head q and k norms (Qwen3).
LlamaTensorNames llama_names(ModelFormat format, bool qkv_bias = false, bool fused = false, bool qk_norm = false);
// A LLaMA-style config.json of a random model (llama.cpp), which Gemma's extends.
nlohmann::json llama_style_hf_config(const RandomModelSpec& s, const std::string& architecture,
                                     const std::string& model_type);
// The rotary GGUF keys of a random model (every rotary family).
void gguf_rope_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w);
// The keys of a LLaMA-style random model (llama.cpp): rotary, RMSNorm epsilon, the
// head's key/value lengths when `head_lengths`, and its YaRN when the spec has one.
void llama_style_gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w, bool head_lengths);
// config.json's rope_scaling for a spec's YaRN (factor over its L).
nlohmann::json yarn_rope_scaling(const RandomModelSpec& s);

// The families (one per file).
extern const Family kLlama, kGemma, kNeoX, kBloom, kMoe, kGptOss;

// Mixture of experts (moe.cpp), shared with the LLaMA file's GGUF Mixtral (arch
// "llama" with experts): the expert tensor names of `c`'s family, the GGUF keys
// (expert_count …) and their writer.
void moe_names(ModelFormat format, const ModelConfig& c, LlamaTensorNames& n);
Status read_gguf_moe(const GgufFile& g, const std::string& a, ModelConfig& c);
void gguf_moe_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w);

// Every name of a table with its role ("wq", "qkv_b", "attn_norm", …), in a fixed
// order: two formats' columns of one family pair up row by row.
std::vector<std::pair<std::string, std::string>> table_rows(const TensorNames& names);

// Binds the weights named by `names` (LLaMA-style or fused-QKV builders).
Status build_weights(WeightBuilder& b, Model& model, const TensorNames& names);

}  // namespace ls::arch
