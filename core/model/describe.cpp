#include "core/model/describe.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/model/dtype.h"
#include "core/position/spec.h"

namespace ls {

namespace {

using json = nlohmann::json;

json factor_summary(const ModelConfig& c) {
  auto one = [](const std::vector<double>& f) {
    return json{{"count", f.size()}, {"min", *std::min_element(f.begin(), f.end())},
                {"max", *std::max_element(f.begin(), f.end())}};
  };
  return json{{"short", one(c.longrope_short)}, {"long", one(c.longrope_long)}};
}

// A number as the model line shows it: six significant digits (%g).
std::string num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string num4(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string factor_range(const ModelConfig& c) {
  if (c.longrope_short.empty() || c.longrope_long.empty()) return {};
  auto [s0, s1] = std::minmax_element(c.longrope_short.begin(), c.longrope_short.end());
  auto [l0, l1] = std::minmax_element(c.longrope_long.begin(), c.longrope_long.end());
  return " (factors short " + num4(*s0) + "–" + num4(*s1) + ", long " + num4(*l0) + "–" + num4(*l1) + ")";
}

}  // namespace

json model_description(const Model& m) {
  const ModelConfig& c = m.config;
  const bool layers = !m.weights.layers.empty();
  return json{{"path", m.path},
              {"format", format_name(c.format)},
              {"architecture", arch_name(c.arch)},
              {"family", c.family},
              {"qkv_bias", layers && m.weights.layers[0].bq != nullptr},
              {"name", c.name},
              {"dim", c.dim},
              {"hidden_dim", c.hidden_dim},
              {"n_layers", c.n_layers},
              {"n_heads", c.n_heads},
              {"n_kv_heads", c.n_kv_heads},
              {"head_dim", c.head_dim},
              {"rot_dim", c.rot_dim},
              {"vocab_size", c.vocab_size},
              {"rope_base", c.rope_base},
              {"pair_layout", !arch_alibi(c.arch) ? json(layout_name(c.layout)) : json(nullptr)},
              {"parallel_residual", c.parallel_residual},
              {"shared_block_norm", c.shared_norm},
              {"classifier_bias", m.weights.output_b != nullptr},
              {"local_window", c.local_window > 0 ? json(c.local_window) : json(nullptr)},
              {"local_pattern", c.local_window > 0 ? json(c.local_pattern) : json(nullptr)},
              {"local_rope_base", c.local_rope_base > 0 ? json(c.local_rope_base) : json(nullptr)},
              {"qk_norm", c.qk_norm},
              {"attn_softcap", c.attn_softcap > 0 ? json(c.attn_softcap) : json(nullptr)},
              {"final_softcap", c.final_softcap > 0 ? json(c.final_softcap) : json(nullptr)},
              {"attn_scale", c.attn_scale > 0 ? c.attn_scale : 1.0 / std::sqrt((double)c.head_dim)},
              {"feed_forward", ffn_gated(c) ? (c.geglu ? "geglu" : "swiglu") : c.gelu_exact ? "gelu" : "gelu-tanh"},
              {"norm_eps", c.norm_eps},
              {"train_len", c.train_len},
              {"train_len_source", c.train_len_source},
              {"declared_context", c.declared_context},
              {"native_method", method_spec_string(c.native_method)},
              {"native_source", c.native_source.empty() ? json(nullptr) : json(c.native_source)},
              {"native_factors", c.longrope_short.empty() ? json(nullptr) : factor_summary(c)},
              {"tied_embeddings", c.tied_embeddings},
              {"n_params", c.n_params},
              {"embedded_vocab", m.vocab != nullptr},
              {"embedded_vocab_kind", m.vocab ? json(m.vocab->kind) : json(nullptr)},
              {"weights_dtype", dtype_name(layers ? m.weights.layers[0].wq.dtype : DType::F32)}};
}

std::string model_line(const Model& m, const std::string& tokenizer_kind, const std::string& backend) {
  const ModelConfig& c = m.config;
  std::string family = c.family + (c.qkv_bias ? " (q/k/v bias)" : "");
  if (c.local_window > 0)
    family += " (local layers: window " + std::to_string(c.local_window) +
              (c.local_rope_base > 0 ? ", base " + num(c.local_rope_base) : std::string()) + ")";
  if (c.attn_softcap > 0) family += " (score cap " + num(c.attn_softcap) + ")";
  if (c.parallel_residual) family += c.shared_norm ? " (parallel residual, one norm)" : " (parallel residual)";
  std::string native = method_spec_string(c.native_method) + factor_range(c) +
                       (c.native_source.empty() ? std::string() : " (" + c.native_source + ")");
  return c.name + " · " + family + " · " + format_name(c.format) + " · tokenizer " + tokenizer_kind + " · " +
         std::to_string(c.n_layers) + " layers · " + std::to_string(c.n_heads) + " heads (" +
         std::to_string(c.n_kv_heads) + " KV) · head_dim " + std::to_string(c.head_dim) + " · L = " +
         std::to_string(c.train_len) + " (" + c.train_len_source + ") · base " + num(c.rope_base) + " · " +
         (!arch_alibi(c.arch) ? layout_name(c.layout) : "ALiBi") + " · native " + native + " · backend " + backend;
}

}  // namespace ls
