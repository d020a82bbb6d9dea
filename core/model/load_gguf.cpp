// GGUF models, architectures `llama` and `bloom` (llama.cpp's key and tensor names).
#include <cmath>

#include "core/model/arch_weights.h"
#include "core/model/gguf.h"
#include "core/position/spec.h"

namespace ls {
namespace {

// Optional numeric key with a default.
double num_or(const GgufFile& g, const std::string& k, double fallback) {
  auto r = g.get_float(k);
  return r ? r.value() : fallback;
}

Status read_vocab(const GgufFile& g, Model& m) {
  auto tok = g.meta.find("tokenizer.ggml.tokens");
  if (tok == g.meta.end()) return Status::Ok();
  auto* tokens = std::get_if<std::vector<std::string>>(&tok->second.v);
  if (!tokens) return make_error("tokenizer.ggml.tokens is not a string array");
  auto v = std::make_shared<EmbeddedVocab>();
  v->tokens = *tokens;
  if (auto it = g.meta.find("tokenizer.ggml.scores"); it != g.meta.end()) {
    auto* s = std::get_if<std::vector<double>>(&it->second.v);
    if (!s || s->size() != v->tokens.size()) return make_error("tokenizer.ggml.scores does not match the token list");
    v->scores.assign(s->begin(), s->end());
  } else {
    v->scores.assign(v->tokens.size(), 0.0f);
  }
  if (auto it = g.meta.find("tokenizer.ggml.token_type"); it != g.meta.end()) {
    auto* t = std::get_if<std::vector<int64_t>>(&it->second.v);
    if (!t || t->size() != v->tokens.size()) return make_error("tokenizer.ggml.token_type does not match the token list");
    v->types.assign(t->begin(), t->end());
  } else {
    v->types.assign(v->tokens.size(), 1);
  }
  v->bos_id = (int)num_or(g, "tokenizer.ggml.bos_token_id", 1);
  v->eos_id = (int)num_or(g, "tokenizer.ggml.eos_token_id", 2);
  v->unk_id = (int)num_or(g, "tokenizer.ggml.unknown_token_id", 0);
  m.config.bos_id = v->bos_id;
  m.config.eos_id = v->eos_id;
  m.vocab = v;
  return Status::Ok();
}

// The checkpoint's own rope scaling (llama.cpp: {arch}.rope.scaling.*).
Status read_native_scaling(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.native_method = MethodParams{};
  c.native_method.method = c.arch == Arch::Bloom ? Method::Alibi : Method::Rope;
  std::string type = g.has(a + ".rope.scaling.type") ? g.get_string(a + ".rope.scaling.type").value() : "none";
  double factor = num_or(g, a + ".rope.scaling.factor", 1.0);
  if (g.has(a + ".rope.scale_linear")) {  // older files
    type = "linear";
    factor = num_or(g, a + ".rope.scale_linear", 1.0);
  }
  if (type == "none" || factor == 1.0) return Status::Ok();
  if (!(factor > 0) || !std::isfinite(factor)) return make_error(a + ".rope.scaling.factor must be positive");
  if (type == "linear") {
    c.native_method.method = Method::Linear;
  } else if (type == "yarn") {
    c.native_method.method = Method::Yarn;
    c.native_method.rope.attention_factor = num_or(g, a + ".rope.scaling.attn_factor", 0.0);
    c.native_method.rope.beta_fast = num_or(g, a + ".rope.scaling.yarn_beta_fast", 32.0);
    c.native_method.rope.beta_slow = num_or(g, a + ".rope.scaling.yarn_beta_slow", 1.0);
  } else {
    return make_error(a + ".rope.scaling.type \"" + type + "\" is not supported (linear, yarn)");
  }
  c.native_method.rope.factor = factor;
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<Model>> load_gguf(const std::string& path) {
  auto gr = read_gguf(path);
  if (!gr) return make_error(gr.error());
  GgufFile& g = gr.value();
  auto model = std::make_shared<Model>();
  model->path = path;
  model->files.push_back(g.file);
  ModelConfig& c = model->config;
  c.format = ModelFormat::Gguf;
  auto arch = g.get_string("general.architecture");
  if (!arch) return make_error(path + ": " + arch.error());
  const std::string a = arch.value();
  if (a == "llama") c.arch = Arch::Llama;
  else if (a == "bloom") c.arch = Arch::Bloom;
  else return make_error(path + ": architecture \"" + a + "\" is not supported (llama, bloom)");
  c.name = g.has("general.name") ? g.get_string("general.name").value() : a;

  auto need = [&](const std::string& key, int& out) -> Status {
    auto v = g.get_int(a + "." + key);
    if (!v) return make_error(path + ": " + v.error());
    if (v.value() < 0 || v.value() > (1LL << 31)) return make_error(path + ": " + a + "." + key + " is out of range");
    out = (int)v.value();
    return Status::Ok();
  };
  for (auto [key, dst] : {std::pair{"embedding_length", &c.dim}, {"feed_forward_length", &c.hidden_dim},
                          {"block_count", &c.n_layers}, {"attention.head_count", &c.n_heads},
                          {"context_length", &c.declared_context}})
    if (auto st = need(key, *dst); !st) return make_error(st.error());
  c.n_kv_heads = g.has(a + ".attention.head_count_kv") ? (int)g.get_int(a + ".attention.head_count_kv").value() : c.n_heads;
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  if (g.has(a + ".attention.key_length")) c.head_dim = (int)g.get_int(a + ".attention.key_length").value();
  c.train_len = c.declared_context;
  c.train_len_source = a + ".context_length";
  if (g.has(a + ".rope.scaling.original_context_length")) {
    c.train_len = (int)g.get_int(a + ".rope.scaling.original_context_length").value();
    c.train_len_source = a + ".rope.scaling.original_context_length";
  }
  auto vocab_tensor = g.tensors.find("token_embd.weight");
  if (vocab_tensor == g.tensors.end()) return make_error(path + ": tensor token_embd.weight is missing");
  c.vocab_size = (int)vocab_tensor->second.shape[0];
  if (c.arch == Arch::Llama) {
    c.layout = PairLayout::Interleaved;  // llama.cpp's converter permutes q/k into adjacent pairs
    c.rot_dim = g.has(a + ".rope.dimension_count") ? (int)g.get_int(a + ".rope.dimension_count").value() : c.head_dim;
    c.rope_base = num_or(g, a + ".rope.freq_base", 10000.0);
    c.norm_eps = num_or(g, a + ".attention.layer_norm_rms_epsilon", 1e-5);
  } else {
    c.rot_dim = 0;
    c.norm_eps = num_or(g, a + ".attention.layer_norm_epsilon", 1e-5);
  }
  if (c.n_heads > 0 && c.arch == Arch::Bloom && c.dim % c.n_heads)
    return make_error(path + ": embedding length is not divisible by the head count");
  if (auto st = read_native_scaling(g, a, c); !st) return make_error(path + ": " + st.error());
  if (auto st = validate_config(c); !st) return make_error(path + ": " + st.error());
  if (auto st = read_vocab(g, *model); !st) return make_error(path + ": " + st.error());
  WeightBuilder b(*model, g.tensors);
  Status st = c.arch == Arch::Llama ? build_llama_weights(b, *model, gguf_llama_names())
                                    : build_bloom_weights(b, *model, gguf_bloom_names());
  if (!st) return make_error(path + ": " + st.error());
  return model;
}

}  // namespace ls
