#include "core/model/describe.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/model/dtype.h"
#include "core/model/weight_builder.h"
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

const char* feed_forward_name(FeedForward f) {
  switch (f) {
    case FeedForward::SwiGlu: return "swiglu";
    case FeedForward::GeGlu: return "geglu";
    case FeedForward::Gelu: return "gelu";
    case FeedForward::GeluTanh: return "gelu-tanh";
  }
  return "?";
}

// How many weight matrices are stored in each type, most first ("155 Q4_K, 23 Q6_K").
std::vector<std::pair<std::string, int>> weight_type_counts(const Model& m) {
  std::map<std::string, int> n;
  for (const WeightView& v : weight_views(m))
    if (v.matrix) ++n[dtype_name(v.dtype)];
  std::vector<std::pair<std::string, int>> out(n.begin(), n.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string weight_types_text(const Model& m) {
  std::string s;
  for (const auto& [type, count] : weight_type_counts(m)) s += (s.empty() ? "" : ", ") + std::to_string(count) + " " + type;
  return (m.config.file_type.empty() ? "" : m.config.file_type + ": ") + s;
}

json weight_types_json(const Model& m) {
  json j = json::object();
  for (const auto& [type, count] : weight_type_counts(m)) j[type] = count;
  return j;
}

// "global" / "local" / "no-position" per layer.
json layer_kinds(const ModelConfig& c) {
  json out = json::array();
  for (int l = 0; l < c.n_layers; ++l)
    out.push_back(layer_is_local(c, l) ? "local" : layer_has_position(c, l) ? "global" : "no-position");
  return out;
}

}  // namespace

std::vector<int> layers_without_position(const ModelConfig& c) {
  std::vector<int> out;
  for (int l = 0; l < c.n_layers; ++l)
    if (!layer_has_position(c, l)) out.push_back(l);
  return out;
}

std::string position_layers_text(const ModelConfig& c) {
  const std::vector<int> none = layers_without_position(c);
  if (none.empty()) return "";
  std::string list;
  for (size_t i = 0; i < none.size() && i < 8; ++i) list += (i ? ", " : "") + std::to_string(none[i]);
  if (none.size() > 8) list += ", …";
  return "position in " + std::to_string(c.n_layers - (int)none.size()) + " of " + std::to_string(c.n_layers) +
         " layers (none in " + list + ")";
}

namespace {

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
              {"parallel_residual", c.block.residual != Residual::Sequential},
              {"shared_block_norm", c.block.residual == Residual::ParallelOneNorm},
              {"classifier_bias", m.weights.output_b != nullptr},
              {"local_window", c.block.local_window > 0 ? json(c.block.local_window) : json(nullptr)},
              {"local_pattern", c.block.local_window > 0 ? json(c.block.local_period) : json(nullptr)},
              {"layer_kinds", layer_kinds(c)},
              {"local_rope_base", c.block.local_rope_base > 0 ? json(c.block.local_rope_base) : json(nullptr)},
              {"qk_norm", c.block.qk_norm},
              {"attention_sinks", layers && m.weights.layers[0].attn_sinks != nullptr},
              {"experts", c.block.moe.n_experts > 0 ? json(c.block.moe.n_experts) : json(nullptr)},
              {"experts_per_token", c.block.moe.n_experts > 0 ? json(c.block.moe.n_used) : json(nullptr)},
              {"expert_weights_renormalised", c.block.moe.n_experts > 0 ? json(c.block.moe.renormalise) : json(nullptr)},
              {"shared_expert_hidden", c.block.moe.shared_hidden > 0 ? json(c.block.moe.shared_hidden) : json(nullptr)},
              {"attn_softcap", c.block.attn_softcap > 0 ? json(c.block.attn_softcap) : json(nullptr)},
              {"final_softcap", c.block.final_softcap > 0 ? json(c.block.final_softcap) : json(nullptr)},
              {"attn_scale", c.block.attn_scale > 0 ? c.block.attn_scale : 1.0 / std::sqrt((double)c.head_dim)},
              {"feed_forward", feed_forward_name(c.block.ffn)},
              {"norm", c.block.norm == NormKind::Rms ? "rmsnorm" : "layernorm"},
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
              {"weights_dtype", dtype_name(layers ? m.weights.layers[0].wq.dtype : DType::F32)},
              {"weight_types", weight_types_json(m)},
              {"file_type", c.file_type.empty() ? json(nullptr) : json(c.file_type)}};
}

std::string model_line(const Model& m, const std::string& tokenizer_kind, const std::string& backend) {
  const ModelConfig& c = m.config;
  std::string family = c.family + (c.block.qkv_bias ? " (q/k/v bias)" : "");
  const BlockDesc& b = c.block;
  if (b.local_window > 0)
    family += " (local layers: window " + std::to_string(b.local_window) +
              (b.local_rope_base > 0 ? ", base " + num(b.local_rope_base) : std::string()) + ")";
  if (b.attn_softcap > 0) family += " (score cap " + num(b.attn_softcap) + ")";
  if (b.qk_norm) family += " (q/k norm)";
  if (!m.weights.layers.empty() && m.weights.layers[0].attn_sinks) family += " (attention sinks)";
  if (b.moe.n_experts > 0)
    family += " (" + std::to_string(b.moe.n_experts) + " experts, " + std::to_string(b.moe.n_used) + " per token" +
              (b.moe.shared_hidden > 0 ? " + a shared one" : "") + ")";
  if (const std::string nope = position_layers_text(c); !nope.empty()) family += " (" + nope + ")";
  if (b.residual != Residual::Sequential)
    family += b.residual == Residual::ParallelOneNorm ? " (parallel residual, one norm)" : " (parallel residual)";
  std::string native = method_spec_string(c.native_method) + factor_range(c) +
                       (c.native_source.empty() ? std::string() : " (" + c.native_source + ")");
  return c.name + " · " + family + " · " + format_name(c.format) + " · tokenizer " + tokenizer_kind + " · " +
         std::to_string(c.n_layers) + " layers · " + std::to_string(c.n_heads) + " heads (" +
         std::to_string(c.n_kv_heads) + " KV) · head_dim " + std::to_string(c.head_dim) + " · L = " +
         std::to_string(c.train_len) + " (" + c.train_len_source + ") · " +
         (!arch_alibi(c.arch) ? "base " + num(c.rope_base) + " · " + layout_name(c.layout)
                              : std::string("ALiBi (no rotary base)")) +
         " · native " + native + " · weights " +
         weight_types_text(m) + " · backend " + backend;
}

}  // namespace ls
