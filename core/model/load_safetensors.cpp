#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/model/arch_weights.h"
#include "core/model/safetensors.h"
#include "core/position/spec.h"
#include "core/util/files.h"
#include "core/util/json.h"
#include "core/util/memory.h"

namespace ls {
namespace fs = std::filesystem;
using nlohmann::json;

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  return read_regular_file(path, "file", max_bytes);
}

Status read_safetensors(const std::string& path, std::map<std::string, TensorSource>& out,
                        std::vector<std::shared_ptr<MappedFile>>& keep_alive) {
  auto mf = MappedFile::open(path, "safetensors file");
  if (!mf) return make_error(mf.error());
  auto f = mf.value();
  if (f->size() < 8) return make_error(path + ": truncated safetensors file (" + std::to_string(f->size()) + " bytes)");
  uint64_t header_len;
  std::memcpy(&header_len, f->data(), 8);
  if (header_len > f->size() - 8)
    return make_error(path + ": safetensors header length " + std::to_string(header_len) +
                      " runs past the end of the file (" + std::to_string(f->size()) + " bytes)");
  if (header_len > kMaxJsonHeaderBytes)
    return make_error(path + ": safetensors header of " + format_bytes(header_len) + " is larger than the " +
                      format_bytes(kMaxJsonHeaderBytes) + " limit (no real checkpoint has one this large)");
  auto parsed = parse_json(std::string_view(reinterpret_cast<const char*>(f->data()) + 8, header_len),
                           path + ": the safetensors header");
  if (!parsed) return make_error(parsed.error());
  const json& h = parsed.value();
  if (!h.is_object()) return make_error(path + ": the safetensors header is not a JSON object");
  const uint64_t data_start = 8 + header_len, data_size = f->size() - data_start;
  for (auto& [name, t] : h.items()) {
    if (name == "__metadata__") continue;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      return make_error(path + ": tensor " + name + " lacks dtype, shape or data_offsets");
    std::string dt = t["dtype"].is_string() ? t["dtype"].get<std::string>() : "";
    DType dtype;
    if (dt == "F32") dtype = DType::F32;
    else if (dt == "F16") dtype = DType::F16;
    else if (dt == "BF16") dtype = DType::BF16;
    else return make_error(path + ": tensor " + name + " has dtype " + dt + ", not supported (F32, F16, BF16)");
    TensorSource src;
    src.dtype = dtype;
    uint64_t count = 1;
    if (!t["shape"].is_array()) return make_error(path + ": tensor " + name + " has an invalid shape");
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() == 0 || d.get<uint64_t>() > (1ull << 32) ||
          count > (1ull << 40) / d.get<uint64_t>() || src.shape.size() >= 4)
        return make_error(path + ": tensor " + name + " has an invalid shape");
      src.shape.push_back(d.get<uint64_t>());
      count *= d.get<uint64_t>();
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return make_error(path + ": tensor " + name + " has invalid data_offsets");
    uint64_t b = off[0], e = off[1];
    if (b > e || e > data_size)
      return make_error(path + ": tensor " + name + ": bytes " + std::to_string(data_start + b) + " … " +
                        std::to_string(data_start + e) + " run past the end of the file (" +
                        std::to_string(f->size()) + " bytes)");
    if (e - b != dtype_bytes(dtype, count))
      return make_error(path + ": tensor " + name + " holds " + std::to_string(e - b) + " bytes, its shape needs " +
                        std::to_string(dtype_bytes(dtype, count)));
    src.data = f->data() + data_start + b;
    src.bytes = e - b;
    out[name] = src;
  }
  keep_alive.push_back(f);
  return Status::Ok();
}

namespace {

// Typed reads of config.json fields that never throw: a field of the wrong type,
// out of range or not finite records the first error and yields the fallback.
struct ConfigReader {
  std::string error;
  void fail(const std::string& msg) {
    if (error.empty()) error = "config.json: " + msg;
  }
  double num(const json& j, const char* k, double fallback) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number()) return fail(std::string(k) + " is not a number"), fallback;
    const double v = it->get<double>();
    if (!std::isfinite(v)) return fail(std::string(k) + " is not finite"), fallback;
    return v;
  }
  // A whole number in [lo, hi]; checked before the cast.
  int integer(const json& j, const char* k, double fallback, double lo = 0, double hi = INT32_MAX) {
    const double v = num(j, k, fallback);
    if (v != std::floor(v) || v < lo || v > hi) {
      char buf[128];
      std::snprintf(buf, sizeof buf, " = %.17g is not a whole number in [%.0f, %.0f]", v, lo, hi);
      fail(k + std::string(buf));
      return 0;
    }
    return (int)v;
  }
  // A token id, or the first of a list of them (Llama 3 lists several EOS ids).
  int token_id(const json& j, const char* k, int fallback) {
    auto it = j.find(k);
    if (it != j.end() && it->is_array()) {
      if (it->empty() || !(*it)[0].is_number_integer()) return fail(std::string(k) + " is an empty or non-integer list"), fallback;
      json first = {{k, (*it)[0]}};
      return integer(first, k, fallback);
    }
    return integer(j, k, fallback);
  }
  bool flag(const json& j, const char* k, bool fallback = false) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return fail(std::string(k) + " is not true or false"), fallback;
    return it->get<bool>();
  }
  std::string str(const json& j, const char* k, const std::string& fallback) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) return fail(std::string(k) + " is not a string"), fallback;
    return it->get<std::string>();
  }
};

// Rotary settings shared by every rotary family: rope_theta (base_default when the
// config names none: GPT-NeoX's rotary_emb_base), the partial rotary factor
// (GPT-NeoX's rotary_pct), L, rope_scaling as transformers' modeling_rope_utils.py
// resolves it, and Mistral's native sliding window.
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

// The text-model fields Gemma-2 and Gemma-3 share: sizes, RMSNorm epsilon,
// half-split pairs, the tanh GELU, query_pre_attn_scalar and the soft caps.
// head_dim_default 0: hidden_size / heads.
Status read_gemma_text(const json& t, ConfigReader& rd, ModelConfig& c, const char* name, int head_dim_default) {
  c.arch = Arch::Llama;
  c.embed_scale = c.geglu = true;
  c.dim = rd.integer(t, "hidden_size", 0);
  c.hidden_dim = rd.integer(t, "intermediate_size", 0);
  c.n_layers = rd.integer(t, "num_hidden_layers", 0);
  c.n_heads = rd.integer(t, "num_attention_heads", 0);
  c.n_kv_heads = rd.integer(t, "num_key_value_heads", c.n_heads);
  c.head_dim = rd.integer(t, "head_dim", head_dim_default > 0 ? head_dim_default : c.n_heads ? c.dim / c.n_heads : 0);
  c.norm_eps = rd.num(t, "rms_norm_eps", 1e-6);
  c.layout = PairLayout::HalfSplit;
  const std::string act = rd.str(t, "hidden_activation", rd.str(t, "hidden_act", "gelu_pytorch_tanh"));
  if (act != "gelu_pytorch_tanh" && act != "gelu_new" && act != "gelu_fast")
    return make_error(std::string("config.json: ") + name + " hidden_activation \"" + act +
                      "\" is not supported (gelu_pytorch_tanh)");
  const double qpas = rd.num(t, "query_pre_attn_scalar", c.head_dim);
  if (!(qpas > 0)) return make_error("config.json: query_pre_attn_scalar must be positive");
  c.attn_scale = 1.0 / std::sqrt(qpas);
  c.attn_softcap = rd.num(t, "attn_logit_softcapping", 0.0);
  c.final_softcap = rd.num(t, "final_logit_softcapping", 0.0);
  if (c.attn_softcap < 0 || c.final_softcap < 0) return make_error("config.json: soft-capping values must be >= 0");
  return Status::Ok();
}

// The fields StableLM and Phi share: sizes (grouped KV heads allowed), the LayerNorm
// epsilon (layer_norm_eps, or StableLMEpoch's norm_eps), half-split pairs, the
// activation (SwiGLU's silu for StableLM; a GELU for Phi) and no q/k LayerNorms.
Status read_separate_qkv_block(const json& cfg, ConfigReader& rd, ModelConfig& c, const char* name, const char* act_default) {
  c.dim = rd.integer(cfg, "hidden_size", 0);
  c.hidden_dim = rd.integer(cfg, "intermediate_size", 0);
  c.n_layers = rd.integer(cfg, "num_hidden_layers", 0);
  c.n_heads = rd.integer(cfg, "num_attention_heads", 0);
  c.n_kv_heads = rd.integer(cfg, "num_key_value_heads", c.n_heads);
  c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
  c.norm_eps = rd.num(cfg, "layer_norm_eps", rd.num(cfg, "norm_eps", 1e-5));
  c.layout = PairLayout::HalfSplit;
  const std::string act = rd.str(cfg, "hidden_act", act_default);
  if (c.swiglu ? act != "silu"
               : act != "gelu" && act != "gelu_new" && act != "gelu_fast" && act != "gelu_pytorch_tanh")
    return make_error(std::string("config.json: ") + name + " hidden_act \"" + act + "\" is not supported (" +
                      (c.swiglu ? "silu" : "gelu, gelu_new, gelu_fast, gelu_pytorch_tanh") + ")");
  c.gelu_exact = act == "gelu";
  if (rd.flag(cfg, "qk_layernorm"))
    return make_error(std::string("config.json: a ") + name + " model with per-head q/k LayerNorms (qk_layernorm) is not "
                      "supported");
  return Status::Ok();
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

}  // namespace

Status resolve_hf_config(const json& cfg, ModelConfig& c) {
  if (!cfg.is_object()) return make_error("config.json is not a JSON object");
  ConfigReader rd;
  auto num = [&](const json& j, const char* k, double fallback) { return rd.num(j, k, fallback); };
  auto integer = [&](const json& j, const char* k, double fallback) { return rd.integer(j, k, fallback); };
  std::string arch;
  if (auto it = cfg.find("architectures"); it != cfg.end() && it->is_array() && !it->empty()) {
    if (!(*it)[0].is_string()) return make_error("config.json: architectures[0] is not a string");
    arch = (*it)[0].get<std::string>();
  }
  std::string mtype = rd.str(cfg, "model_type", "");
  if (arch == "BloomForCausalLM" || mtype == "bloom") {
    c.arch = Arch::Bloom;
    c.family = "bloom";
    c.dim = integer(cfg, "hidden_size", num(cfg, "n_embed", 0));
    c.n_layers = integer(cfg, "n_layer", num(cfg, "num_hidden_layers", 0));
    c.n_heads = integer(cfg, "n_head", num(cfg, "num_attention_heads", 0));
    c.n_kv_heads = c.n_heads;
    c.hidden_dim = c.dim <= (1 << 16) ? 4 * c.dim : 0;  // validate_config bounds dim
    c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
    c.norm_eps = num(cfg, "layer_norm_epsilon", 1e-5);
    c.rot_dim = 0;
    c.native_method.method = Method::Alibi;
    c.declared_context = integer(cfg, "seq_length", num(cfg, "max_position_embeddings", num(cfg, "n_positions", 2048)));
    c.train_len = c.declared_context;
    c.train_len_source = cfg.contains("seq_length") ? "config.json seq_length" : "config.json (default 2048)";
  } else if (arch == "LlamaForCausalLM" || arch == "MistralForCausalLM" || arch == "Qwen2ForCausalLM" ||
             arch == "Phi3ForCausalLM" || mtype == "llama" || mtype == "mistral" || mtype == "qwen2" || mtype == "phi3") {
    c.arch = Arch::Llama;
    c.family = mtype == "qwen2" || arch == "Qwen2ForCausalLM"     ? "qwen2"
               : mtype == "phi3" || arch == "Phi3ForCausalLM"     ? "phi3"
               : mtype == "mistral" || arch == "MistralForCausalLM" ? "mistral" : "llama";
    c.fused_projections = c.family == "phi3";  // Phi-3: qkv_proj and gate_up_proj
    c.qkv_bias = c.family == "qwen2";  // Qwen2: LLaMA with q/k/v biases
    c.dim = integer(cfg, "hidden_size", 0);
    c.hidden_dim = integer(cfg, "intermediate_size", 0);
    c.n_layers = integer(cfg, "num_hidden_layers", 0);
    c.n_heads = integer(cfg, "num_attention_heads", 0);
    c.n_kv_heads = integer(cfg, "num_key_value_heads", c.n_heads);
    c.head_dim = integer(cfg, "head_dim", c.n_heads ? c.dim / c.n_heads : 0);
    c.norm_eps = num(cfg, "rms_norm_eps", 1e-6);
    c.layout = PairLayout::HalfSplit;  // HF rotate_half
    if (auto st = resolve_hf_rope(cfg, rd, c, 10000.0, 1.0); !st) return st;
  } else if (arch == "Gemma2ForCausalLM" || mtype == "gemma2") {
    // transformers' modeling_gemma2.py: LLaMA's blocks with RMSNorm x·(1 + w), norms
    // on both blocks' outputs, GeGLU, embeddings × √dim, query_pre_attn_scalar^-½,
    // soft-capped scores and logits, and every other layer (0, 2, …) local.
    c.family = "gemma2";
    if (auto st = read_gemma_text(cfg, rd, c, "Gemma-2", 0); !st) return st;
    c.local_window = integer(cfg, "sliding_window", 0);
    c.local_pattern = 2;
    if (auto st = check_layer_types(cfg, c); !st) return st;
    json rope_cfg = cfg;
    rope_cfg.erase("sliding_window");  // per layer kind here, not the whole model's native method
    if (auto st = resolve_hf_rope(rope_cfg, rd, c, 10000.0, 1.0); !st) return st;
  } else if (arch == "Gemma3ForCausalLM" || arch == "Gemma3ForConditionalGeneration" || mtype == "gemma3" ||
             mtype == "gemma3_text") {
    // transformers' modeling_gemma3.py (text model): Gemma-2's blocks without soft caps,
    // q and k RMS-normed per head, five local layers (window, plain RoPE at
    // rope_local_base_freq) to each global one (rope_theta and rope_scaling). The
    // multimodal checkpoint keeps the text model's fields in text_config.
    auto tc = cfg.find("text_config");
    const json& t = tc != cfg.end() && tc->is_object() ? *tc : cfg;
    c.family = "gemma3";
    c.qk_norm = true;
    if (auto st = read_gemma_text(t, rd, c, "Gemma-3", 256); !st) return st;
    c.local_window = integer(t, "sliding_window", 4096);
    c.local_pattern = integer(t, "sliding_window_pattern", 6);
    c.local_rope_base = num(t, "rope_local_base_freq", 10000.0);
    if (!(c.local_rope_base > 1)) return make_error("config.json: rope_local_base_freq must be > 1");
    if (auto st = check_layer_types(t, c); !st) return st;
    json rope_cfg = t;
    rope_cfg.erase("sliding_window");  // per layer kind here, not the whole model's native method
    if (auto st = resolve_hf_rope(rope_cfg, rd, c, 1000000.0, 1.0); !st) return st;
    c.vocab_size = integer(t, "vocab_size", 0);
    c.bos_id = rd.token_id(t, "bos_token_id", 2);
    c.eos_id = rd.token_id(t, "eos_token_id", 1);
  } else if (arch == "GPTNeoXForCausalLM" || mtype == "gpt_neox") {
    // transformers' modeling_gpt_neox.py: LayerNorm, partial rotary (rotary_pct of each
    // head, rotate_half pairs), parallel residual unless use_parallel_residual is false.
    c.arch = Arch::NeoX;
    c.family = "gptneox";
    c.dim = integer(cfg, "hidden_size", 0);
    c.hidden_dim = integer(cfg, "intermediate_size", 0);
    c.n_layers = integer(cfg, "num_hidden_layers", 0);
    c.n_heads = integer(cfg, "num_attention_heads", 0);
    c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
    c.norm_eps = num(cfg, "layer_norm_eps", 1e-5);
    c.layout = PairLayout::HalfSplit;
    c.parallel_residual = rd.flag(cfg, "use_parallel_residual", true);
    const std::string act = rd.str(cfg, "hidden_act", "gelu");
    if (act != "gelu" && act != "gelu_new" && act != "gelu_fast" && act != "gelu_pytorch_tanh")
      return make_error("config.json: hidden_act \"" + act + "\" is not supported for GPT-NeoX (gelu, gelu_new, "
                        "gelu_fast, gelu_pytorch_tanh)");
    c.gelu_exact = act == "gelu";
    if (auto st = resolve_hf_rope(cfg, rd, c, num(cfg, "rotary_emb_base", 10000.0), num(cfg, "rotary_pct", 0.25)); !st)
      return st;
  } else if (arch == "StableLmForCausalLM" || arch == "StableLMEpochForCausalLM" || mtype == "stablelm" ||
             mtype == "stablelm_epoch") {
    // transformers' modeling_stablelm.py (and its remote-code predecessor
    // StableLMEpoch: rope_pct, norm_eps): LayerNorm with biases, SwiGLU, partial rotary
    // (a quarter of each head by default), q/k/v biases with use_qkv_bias; with
    // use_parallel_residual both blocks read input_layernorm's output.
    c.arch = Arch::NeoX;
    c.family = "stablelm";
    c.swiglu = true;
    if (auto st = read_separate_qkv_block(cfg, rd, c, "StableLM", "silu"); !st) return st;
    c.qkv_bias = rd.flag(cfg, "use_qkv_bias");
    c.parallel_residual = c.shared_norm = rd.flag(cfg, "use_parallel_residual");
    if (auto st = resolve_hf_rope(cfg, rd, c, 10000.0, num(cfg, "rope_pct", 0.25)); !st) return st;
  } else if ((arch == "PhiForCausalLM" && mtype != "phi-msft") || mtype == "phi") {
    // transformers' modeling_phi.py (Phi-1, Phi-1.5, Phi-2): LayerNorm with biases, one
    // per block read by both the attention and the GELU feed-forward (parallel), biases
    // everywhere (lm_head too), partial rotary (half of each head by default).
    c.arch = Arch::NeoX;
    c.family = "phi2";
    c.parallel_residual = c.shared_norm = c.qkv_bias = true;
    if (auto st = read_separate_qkv_block(cfg, rd, c, "Phi", "gelu_new"); !st) return st;
    if (auto st = resolve_hf_rope(cfg, rd, c, 10000.0, 0.5); !st) return st;
  } else if (arch == "MptForCausalLM" || arch == "MPTForCausalLM" || mtype == "mpt") {
    // transformers' modeling_mpt.py: LayerNorm without bias, fused Wqkv (q, k, v
    // chunks), exact GELU, ALiBi with alibi_bias_max 8, classifier tied to wte.
    c.arch = Arch::Mpt;
    c.family = "mpt";
    c.gelu_exact = true;
    c.dim = integer(cfg, "d_model", 0);
    c.n_layers = integer(cfg, "n_layers", 0);
    c.n_heads = integer(cfg, "n_heads", 0);
    c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
    const double expansion = num(cfg, "expansion_ratio", 4.0);
    c.hidden_dim = expansion > 0 && expansion <= 64 && c.dim <= (1 << 16) ? (int)(expansion * c.dim) : 0;
    c.norm_eps = num(cfg, "layer_norm_epsilon", 1e-5);
    c.rot_dim = 0;
    c.native_method.method = Method::Alibi;
    c.declared_context = integer(cfg, "max_seq_len", 2048);
    c.train_len = c.declared_context;
    c.train_len_source = "config.json max_seq_len";
    const json no_attn = json::object();
    auto ac = cfg.find("attn_config");
    const json& attn = ac != cfg.end() && ac->is_object() ? *ac : no_attn;
    if (attn.contains("alibi") && !rd.flag(attn, "alibi", true))
      return make_error("config.json: an MPT model without ALiBi (learned absolute positions) is not supported");
    if (num(attn, "alibi_bias_max", 8.0) != 8.0)
      return make_error("config.json: MPT alibi_bias_max other than 8 is not supported (LongScope's ALiBi slopes)");
    if (num(attn, "clip_qkv", 0.0) != 0.0 || rd.flag(attn, "qk_ln"))
      return make_error("config.json: MPT clip_qkv and qk_ln are not supported");
    if (num(attn, "softmax_scale", 0.0) != 0.0)
      return make_error("config.json: an MPT softmax_scale other than 1/sqrt(head_dim) is not supported");
    if (num(attn, "kv_n_heads", c.n_heads) != c.n_heads)
      return make_error("config.json: MPT grouped key/value heads (kv_n_heads) are not supported");
    if (!rd.flag(cfg, "no_bias", true))
      return make_error("config.json: an MPT model with biases (no_bias = false) is not supported");
    if (num(cfg, "logit_scale", 0.0) != 0.0) return make_error("config.json: MPT logit_scale is not supported");
  } else {
    // Named so a user knows it is a decision, not a parsing slip.
    const bool moe_or_mla = mtype == "deepseek_v2" || mtype == "deepseek_v3" || mtype == "mixtral" ||
                            mtype == "qwen2_moe" || mtype == "gpt_oss" || mtype == "phimoe";
    return make_error("config.json: architecture \"" + arch + "\" / model_type \"" + mtype + "\" is not supported" +
                      (moe_or_mla ? std::string(" (mixture-of-experts and multi-head latent attention models are outside "
                                                "LongScope's engine)")
                                  : std::string("")) +
                      (mtype == "phi-msft" ? std::string(" (Phi's remote-code checkpoint layout: use transformers' "
                                                         "PhiForCausalLM conversion of the model)")
                                           : std::string("")) +
                      " (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Phi3ForCausalLM, "
                      "Gemma2ForCausalLM, Gemma3ForCausalLM, BloomForCausalLM, GPTNeoXForCausalLM, StableLmForCausalLM, "
                      "PhiForCausalLM, MptForCausalLM)");
  }
  // (Gemma-3's multimodal config has them in text_config, read above.)
  c.vocab_size = integer(cfg, "vocab_size", c.vocab_size);
  c.bos_id = rd.token_id(cfg, "bos_token_id", c.family == "gemma3" ? c.bos_id : 1);
  c.eos_id = rd.token_id(cfg, "eos_token_id", c.family == "gemma3" ? c.eos_id : 2);
  c.name = rd.str(cfg, "_name_or_path", arch);
  if (!rd.error.empty()) return make_error(rd.error);
  return validate_config(c);
}

Result<std::shared_ptr<Model>> load_safetensors(const std::string& path) {
  fs::path p(path);
  std::error_code ec;
  const bool is_dir = fs::is_directory(p, ec);
  fs::path dir = is_dir ? p : p.parent_path();
  if (dir.empty()) dir = ".";
  auto model = std::make_shared<Model>();
  model->path = path;
  model->config.format = ModelFormat::Safetensors;
  if (!fs::exists(fs::symlink_status(dir / "config.json", ec)))
    return make_error(clip(path) + ": config.json not found (a Hugging Face model folder holds config.json and "
                      "model.safetensors or its shards)");
  auto cfg_text = read_regular_file((dir / "config.json").string(), "config", kMaxConfigJsonBytes);
  if (!cfg_text) return make_error(cfg_text.error());
  auto cfg_parsed = parse_json(cfg_text.value(), clip((dir / "config.json").string()));
  if (!cfg_parsed) return make_error(cfg_parsed.error());
  const json& cfg = cfg_parsed.value();
  if (!cfg.is_object()) return make_error(clip((dir / "config.json").string()) + " is not a JSON object");
  if (auto st = resolve_hf_config(cfg, model->config); !st) return make_error(path + ": " + st.error());

  std::vector<fs::path> files;
  if (!is_dir) {
    files.push_back(p);
  } else if (fs::exists(fs::symlink_status(dir / "model.safetensors.index.json", ec))) {
    const std::string index = (dir / "model.safetensors.index.json").string();
    auto idx_text = read_regular_file(index, "index", kMaxConfigJsonBytes);
    if (!idx_text) return make_error(idx_text.error());
    auto idx_parsed = parse_json(idx_text.value(), clip(index));
    if (!idx_parsed) return make_error(idx_parsed.error());
    const json& idx = idx_parsed.value();
    auto wm = idx.is_object() ? idx.find("weight_map") : idx.end();
    if (wm == idx.end() || !wm->is_object()) return make_error(clip(index) + " has no weight_map");
    std::set<std::string> shards;
    for (auto it = wm->begin(); it != wm->end(); ++it)
      if (it->is_string()) shards.insert(it->get<std::string>());
    for (const auto& s : shards) {
      if (s.find('/') != std::string::npos || s.find("..") != std::string::npos)
        return make_error("shard name \"" + clip(s, 120) + "\" must be a plain file name");
      files.push_back(dir / s);
    }
  } else if (fs::exists(fs::symlink_status(dir / "model.safetensors", ec))) {
    files.push_back(dir / "model.safetensors");
  } else {
    return make_error(path + ": neither model.safetensors nor model.safetensors.index.json found");
  }
  std::map<std::string, TensorSource> tensors;
  for (const auto& f : files)
    if (auto st = read_safetensors(f.string(), tensors, model->files); !st) return make_error(st.error());

  WeightBuilder b(*model, tensors);
  Status st;
  if (model->config.family == "gemma2") {
    st = build_llama_weights(b, *model, hf_gemma2_names());
  } else if (model->config.family == "gemma3") {
    // Gemma3ForConditionalGeneration keeps the text model under language_model.
    const bool multimodal = tensors.count("language_model.model.embed_tokens.weight") > 0;
    st = build_llama_weights(b, *model, hf_gemma3_names(multimodal ? "language_model.model." : "model."));
  } else if (model->config.arch == Arch::Llama) {
    st = build_llama_weights(b, *model, hf_llama_names(model->config.qkv_bias, model->config.fused_projections));
  } else if (model->config.family == "stablelm") {
    st = build_llama_weights(b, *model, hf_stablelm_names(model->config.qkv_bias, model->config.shared_norm));
  } else if (model->config.family == "phi2") {
    st = build_llama_weights(b, *model, hf_phi2_names());
  } else if (model->config.arch == Arch::NeoX) {
    st = build_bloom_weights(b, *model, hf_neox_names());
  } else if (model->config.arch == Arch::Mpt) {
    if (tensors.count("transformer.wpe.weight"))
      return make_error(path + ": an MPT model with learned absolute position embeddings (wpe) is not supported");
    st = build_bloom_weights(b, *model, hf_mpt_names());
  } else {
    std::string prefix = tensors.count("transformer.word_embeddings.weight") ? "transformer." : "";
    st = build_bloom_weights(b, *model, hf_bloom_names(prefix));
  }
  if (!st) return make_error(path + ": " + st.error());
  return model;
}

Status SafetensorsWriter::write(const std::string& path) const {
  json h = json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t bytes = dtype_bytes(t.dtype, t.data.size());
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8) hs += ' ';  // keep the data 8-byte aligned
  std::ofstream f(path, std::ios::binary);
  if (!f) return make_error("cannot write " + path);
  uint64_t n = hs.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(hs.data(), (std::streamsize)hs.size());
  for (const auto& t : tensors) {
    if (t.dtype == DType::F32) {
      f.write(reinterpret_cast<const char*>(t.data.data()), (std::streamsize)(t.data.size() * 4));
    } else {
      for (float x : t.data) {
        uint16_t v = t.dtype == DType::F16 ? float_to_half(x) : float_to_bf16(x);
        f.write(reinterpret_cast<const char*>(&v), 2);
      }
    }
  }
  return f ? Status::Ok() : Status(make_error("write to " + path + " failed"));
}

}  // namespace ls
