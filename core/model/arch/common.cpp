#include "core/model/arch/common.h"

#include <cmath>
#include <cstdio>

#include "core/position/spec.h"

namespace ls::arch {

using json = nlohmann::json;

void ConfigReader::fail(const std::string& msg) {
  if (error.empty()) error = "config.json: " + msg;
}

double ConfigReader::num(const json& j, const char* k, double fallback) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) return fail(std::string(k) + " is not a number"), fallback;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return fail(std::string(k) + " is not finite"), fallback;
  return v;
}

int ConfigReader::integer(const json& j, const char* k, double fallback, double lo, double hi) {
  const double v = num(j, k, fallback);
  if (v != std::floor(v) || v < lo || v > hi) {
    char buf[128];
    std::snprintf(buf, sizeof buf, " = %.17g is not a whole number in [%.0f, %.0f]", v, lo, hi);
    fail(k + std::string(buf));
    return 0;
  }
  return (int)v;
}

int ConfigReader::token_id(const json& j, const char* k, int fallback) {
  auto it = j.find(k);
  if (it != j.end() && it->is_array()) {
    if (it->empty() || !(*it)[0].is_number_integer()) return fail(std::string(k) + " is an empty or non-integer list"), fallback;
    json first = {{k, (*it)[0]}};
    return integer(first, k, fallback);
  }
  return integer(j, k, fallback);
}

bool ConfigReader::flag(const json& j, const char* k, bool fallback) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return fail(std::string(k) + " is not true or false"), fallback;
  return it->get<bool>();
}

std::string ConfigReader::str(const json& j, const char* k, const std::string& fallback) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) return fail(std::string(k) + " is not a string"), fallback;
  return it->get<std::string>();
}

Status resolve_hf_rope(const json& cfg, ConfigReader& rd, ModelConfig& c, double base_default, double partial_default) {
  auto num = [&](const json& j, const char* k, double fallback) { return rd.num(j, k, fallback); };
  auto integer = [&](const json& j, const char* k, double fallback) { return rd.integer(j, k, fallback); };
  const json* rs = nullptr;
  if (cfg.contains("rope_scaling") && cfg["rope_scaling"].is_object()) rs = &cfg["rope_scaling"];
  else if (cfg.contains("rope_parameters") && cfg["rope_parameters"].is_object()) rs = &cfg["rope_parameters"];
  // rope_theta inside rope_parameters (transformers v5) first, then at top level;
  // never dropped when scaling is present.
  c.rope_base = rs && rs->contains("rope_theta") ? num(*rs, "rope_theta", 10000.0) : num(cfg, "rope_theta", base_default);
  double partial = num(cfg, "partial_rotary_factor", rs ? num(*rs, "partial_rotary_factor", partial_default) : partial_default);
  if (!(partial > 0 && partial <= 1)) return make_error("config.json: partial_rotary_factor must be in (0, 1]");
  c.rot_dim = (int)(c.head_dim * partial);
  c.rot_dim -= c.rot_dim % 2;
  c.declared_context = integer(cfg, "max_position_embeddings", 2048);
  double orig = num(cfg, "original_max_position_embeddings", rs ? num(*rs, "original_max_position_embeddings", 0) : 0);
  if (!(orig >= 0 && orig <= INT32_MAX)) return make_error("config.json: original_max_position_embeddings is out of range");
  c.train_len = orig > 0 ? (int)orig : c.declared_context;
  c.train_len_source = orig > 0 ? "original_max_position_embeddings" : "max_position_embeddings";
  c.native_method = MethodParams{};
  if (rs) {
    std::string type = rd.str(*rs, "rope_type", rd.str(*rs, "type", "default"));
    double factor = num(*rs, "factor", 1.0);
    if (!(factor >= 1e-3 && factor <= 1e6)) return make_error("rope_scaling.factor must be in [0.001, 1e6]");
    MethodParams& m = c.native_method;
    m.rope.factor = factor;
    if (type == "default") {
      m.method = Method::Rope;
    } else if (type == "linear") {
      m.method = Method::Linear;
    } else if (type == "dynamic") {
      // HF measures n against max_position_embeddings (docs/methods.md §7).
      // (_compute_dynamic_ntk_parameters), even when an original length is given.
      m.method = Method::DynamicNtk;
      m.rope.alpha = factor;
      c.train_len = c.declared_context;
      c.train_len_source = "max_position_embeddings (HF dynamic)";
    } else if (type == "yarn") {
      m.method = Method::Yarn;
      m.rope.attention_factor = num(*rs, "attention_factor", 0.0);
      m.rope.beta_fast = num(*rs, "beta_fast", 32.0);
      m.rope.beta_slow = num(*rs, "beta_slow", 1.0);
      if (rs->contains("truncate") && (*rs)["truncate"].is_boolean()) m.rope.truncate = (*rs)["truncate"].get<bool>();
      // HF _compute_yarn_parameters: the correction range is measured against
      // max_position_embeddings when no original length is given (L stays as resolved
      // above); without an explicit attention_factor, mscale / mscale_all_dim
      // (DeepSeek) give get_mscale(s, mscale) / get_mscale(s, mscale_all_dim).
      const double mscale = num(*rs, "mscale", 0.0), mscale_all = num(*rs, "mscale_all_dim", 0.0);
      if (m.rope.attention_factor <= 0 && mscale > 0 && mscale_all > 0) {
        m.rope.attention_factor = rope_yarn_mscale(factor, mscale) / rope_yarn_mscale(factor, mscale_all);
      }
    } else if (type == "llama3") {
      m.method = Method::Llama3;
      m.rope.low_freq_factor = num(*rs, "low_freq_factor", 1.0);
      m.rope.high_freq_factor = num(*rs, "high_freq_factor", 4.0);
    } else if (type == "longrope" || type == "su") {
      m.method = Method::LongRope;
      auto list = [&](const char* key, std::vector<double>& out) -> Status {
        if (!rs->contains(key) || !(*rs)[key].is_array()) return make_error(std::string("rope_scaling.") + key + " is missing");
        for (const auto& x : (*rs)[key]) {
          if (!x.is_number() || !(x.get<double>() > 0) || !std::isfinite(x.get<double>())) return make_error(std::string("rope_scaling.") + key + " must hold positive numbers");
          out.push_back(x.get<double>());
        }
        if ((int)out.size() != c.rot_dim / 2)
          return make_error(std::string("rope_scaling.") + key + " has " + std::to_string(out.size()) +
                            " factors; the rotary dimension needs " + std::to_string(c.rot_dim / 2));
        return Status::Ok();
      };
      if (auto st = list("short_factor", c.longrope_short); !st) return st;
      if (auto st = list("long_factor", c.longrope_long); !st) return st;
      m.rope.attention_factor = num(*rs, "attention_factor", 0.0);
      // HF: factor = max_position_embeddings / original_max_position_embeddings when the
      // latter is given, else the config's own factor (default 1).
      m.rope.factor = orig > 0 ? (double)c.declared_context / orig : factor;
    } else {
      return make_error("rope_scaling type \"" + type + "\" is not supported (default, linear, dynamic, yarn, llama3, "
                        "longrope)");
    }
  }
  if (rs) c.native_source = "config.json rope_scaling";
  // Mistral's native window: transformers masks keys with m - j >= sliding_window.
  // Qwen2 configs carry a window with use_sliding_window = false (not applied).
  if (auto it = cfg.find("sliding_window"); it != cfg.end() && !it->is_null()) {
    auto use = cfg.find("use_sliding_window");
    const bool applied = use == cfg.end() || !use->is_boolean() || use->get<bool>();
    const int w = integer(cfg, "sliding_window", 0);
    // A window no shorter than the longest context masks nothing (Phi-3-128k: 262144).
    const int longest = integer(cfg, "max_position_embeddings", 0);
    if (applied && w > 0 && (longest <= 0 || w < longest)) {
      if (c.native_method.method != Method::Rope)
        return make_error("config.json: a sliding_window together with rope_scaling " +
                          method_spec_string(c.native_method) + " is not supported");
      c.native_method.method = Method::SlidingWindow;
      c.native_method.remap.window = w;
      c.native_source = "config.json sliding_window";
    }
  }
  return Status::Ok();
}

void read_hf_rms_geometry(const json& cfg, ConfigReader& rd, ModelConfig& c, int head_dim_default, double eps_default) {
  c.dim = rd.integer(cfg, "hidden_size", 0);
  c.n_layers = rd.integer(cfg, "num_hidden_layers", 0);
  c.n_heads = rd.integer(cfg, "num_attention_heads", 0);
  c.n_kv_heads = rd.integer(cfg, "num_key_value_heads", c.n_heads);
  c.head_dim = rd.integer(cfg, "head_dim", head_dim_default > 0 ? head_dim_default : c.n_heads ? c.dim / c.n_heads : 0);
  c.norm_eps = rd.num(cfg, "rms_norm_eps", eps_default);
}

// Whether a config's layer_types (transformers >= 4.53 spells them out) agree with
// the local / global pattern resolved for c.
Status check_layer_types(const json& t, const ModelConfig& c) {
  auto it = t.find("layer_types");
  if (it == t.end() || !it->is_array()) return Status::Ok();
  for (size_t l = 0; l < it->size(); ++l) {
    const bool local = (*it)[l].is_string() && (*it)[l].get<std::string>() == "sliding_attention";
    if (local != layer_is_local(c, (int)l))
      return make_error("config.json: layer_types other than the model's own local / global pattern are not supported");
  }
  return Status::Ok();
}

Status read_gguf_rope(const GgufFile& g, const std::string& a, ModelConfig& c, PairLayout layout) {
  c.layout = layout;
  LS_TRY_ASSIGN(c.rot_dim, g.opt_int_in(a + ".rope.dimension_count", c.head_dim, 0, INT32_MAX));
  LS_TRY_ASSIGN(c.rope_base, g.opt_float(a + ".rope.freq_base", 10000.0));
  return Status::Ok();
}

Status read_gguf_norm_eps(const GgufFile& g, const std::string& a, ModelConfig& c, bool rms) {
  LS_TRY_ASSIGN(c.norm_eps, g.opt_float(a + (rms ? ".attention.layer_norm_rms_epsilon" : ".attention.layer_norm_epsilon"), 1e-5));
  return Status::Ok();
}

}  // namespace ls::arch
