// GGUF models (llama.cpp's key and tensor names): the shared geometry, the vocabulary
// and the native scaling here; each family's keys and tensors in core/model/arch/.
#include <cmath>
#include <cstdint>
#include <map>

#include "core/model/arch/family.h"
#include "core/model/gguf.h"
#include "core/position/spec.h"

namespace ls {
namespace {

Status read_vocab(const GgufFile& g, Model& m) {
  auto tok = g.meta.find("tokenizer.ggml.tokens");
  if (tok == g.meta.end()) return Status::Ok();
  auto* tokens = std::get_if<std::vector<std::string>>(&tok->second.v);
  if (!tokens) return make_error("tokenizer.ggml.tokens is not a string array");
  if (tokens->empty()) return make_error("tokenizer.ggml.tokens is empty");
  auto v = std::make_shared<EmbeddedVocab>();
  LS_TRY_ASSIGN(v->kind, g.opt_string("tokenizer.ggml.model", "llama"));
  v->tokens = *tokens;
  if (auto it = g.meta.find("tokenizer.ggml.scores"); it != g.meta.end()) {
    auto* s = std::get_if<std::vector<double>>(&it->second.v);
    if (!s || s->size() != v->tokens.size()) return make_error("tokenizer.ggml.scores does not match the token list");
    for (double x : *s)
      if (!std::isfinite(x)) return make_error("tokenizer.ggml.scores holds a NaN or infinite score");
    v->scores.assign(s->begin(), s->end());
  } else {
    v->scores.assign(v->tokens.size(), 0.0f);
  }
  if (auto it = g.meta.find("tokenizer.ggml.token_type"); it != g.meta.end()) {
    auto* t = std::get_if<std::vector<int64_t>>(&it->second.v);
    if (!t || t->size() != v->tokens.size()) return make_error("tokenizer.ggml.token_type does not match the token list");
    v->types.reserve(t->size());
    for (int64_t x : *t) v->types.push_back(x >= 0 && x <= 6 ? (int)x : 1);  // unknown kinds read as normal
  } else {
    v->types.assign(v->tokens.size(), 1);
  }
  if (auto it = g.meta.find("tokenizer.ggml.merges"); it != g.meta.end()) {
    auto* mg = std::get_if<std::vector<std::string>>(&it->second.v);
    if (!mg) return make_error("tokenizer.ggml.merges is not a string array");
    v->merges = *mg;
  }
  LS_TRY_ASSIGN(v->pre, g.opt_string("tokenizer.ggml.pre", "default"));
  const int64_t last = (int64_t)v->tokens.size() - 1;
  // Defaults as llama.cpp's for the vocabulary kind (a byte-level vocabulary names
  // its special tokens; a SentencePiece one has <unk>, <s>, </s> at 0, 1, 2).
  const bool spm = v->kind == "llama";
  LS_TRY_ASSIGN(v->bos_id, g.opt_int_in("tokenizer.ggml.bos_token_id", spm && last >= 1 ? 1 : -1, 0, last));
  LS_TRY_ASSIGN(v->eos_id, g.opt_int_in("tokenizer.ggml.eos_token_id", spm && last >= 2 ? 2 : -1, 0, last));
  LS_TRY_ASSIGN(v->unk_id, g.opt_int_in("tokenizer.ggml.unknown_token_id", spm ? 0 : -1, 0, last));
  bool flag = false;
  if (g.meta.count("tokenizer.ggml.add_bos_token")) {
    LS_TRY_ASSIGN(flag, g.opt_bool("tokenizer.ggml.add_bos_token", false));
    v->add_bos = flag;
  }
  if (g.meta.count("tokenizer.ggml.add_eos_token")) {
    LS_TRY_ASSIGN(flag, g.opt_bool("tokenizer.ggml.add_eos_token", false));
    v->add_eos = flag;
  }
  LS_TRY_ASSIGN(v->add_space_prefix, g.opt_bool("tokenizer.ggml.add_space_prefix", true));
  LS_TRY_ASSIGN(v->remove_extra_whitespaces, g.opt_bool("tokenizer.ggml.remove_extra_whitespaces", false));
  if (v->bos_id >= 0) m.config.bos_id = v->bos_id;
  if (v->eos_id >= 0) m.config.eos_id = v->eos_id;
  m.vocab = v;
  return Status::Ok();
}

// The checkpoint's own rope scaling, as llama.cpp (b4747, llama-model.cpp
// load_hparams and llama.cpp llama_new_context_with_model) resolves it:
// - rope.scaling.type defaults to "linear" ("none": never scaled); unknown types
//   are refused;
// - the factor is rope.scaling.factor, else the older rope.scale_linear;
// - the YaRN attention factor is attn_factor × yarn_attn_factor × (1 + 0.1·ln s)
//   (ggml's rope multiplies the given factor by YaRN's own term);
// - per-pair divisors stored as F32 tensors of rot_dim/2 values are applied as
//   freq_factors (θ'_i = θ_i / f_i): `rope_freqs` (Llama 3.x: the converter
//   precomputes HF's llama3 bands into it) or, with type longrope,
//   `rope_factors_short` / `rope_factors_long` (Phi-3). LongScope runs them as its
//   longrope method (short list up to L, long beyond), attention factor as given.
// What LongScope cannot express (divisors with another scaling, an attention
// factor on plain or linear RoPE) is refused.
Status read_native_scaling(const GgufFile& g, WeightBuilder& b, const std::string& a, ModelConfig& c) {
  MethodParams& m = c.native_method;
  m = MethodParams{};
  m.method = arch_alibi(c.arch) ? Method::Alibi : Method::Rope;
  c.native_source = "";
  if (arch_alibi(c.arch)) return Status::Ok();
  std::string type;
  double factor = 0.0, attn = 1.0, yarn_attn = 1.0;
  LS_TRY_ASSIGN(type, g.opt_string(a + ".rope.scaling.type", "linear"));
  if (g.has(a + ".rope.scaling.factor")) {
    LS_TRY_ASSIGN(factor, g.opt_float(a + ".rope.scaling.factor", 0.0));
  } else if (g.has(a + ".rope.scale_linear")) {  // older files
    LS_TRY_ASSIGN(factor, g.opt_float(a + ".rope.scale_linear", 0.0));
  }
  LS_TRY_ASSIGN(attn, g.opt_float(a + ".rope.scaling.attn_factor", 1.0));
  LS_TRY_ASSIGN(yarn_attn, g.opt_float(a + ".rope.scaling.yarn_attn_factor", 1.0));
  if (type != "none" && type != "linear" && type != "yarn" && type != "longrope")
    return make_error(a + ".rope.scaling.type \"" + type + "\" is not supported (none, linear, yarn, longrope)");
  if (factor == 0.0 || type == "none") factor = 1.0;  // llama.cpp: absent or 0, or type none: no scaling
  if (!(factor >= 1e-3 && factor <= 1e6)) return make_error(a + ".rope.scaling.factor must be in [0.001, 1e6]");
  if (!(attn > 0 && attn <= 100) || !(yarn_attn > 0 && yarn_attn <= 100))
    return make_error(a + ".rope.scaling.attn_factor and yarn_attn_factor must be in (0, 100]");
  m.rope.factor = factor;

  const uint64_t half = (uint64_t)c.rot_dim / 2;
  auto divisors = [&](const std::string& name, std::vector<double>& out) -> Status {
    auto r = b.get(name, {half});
    if (!r) return make_error(r.error());
    out.assign(r.value(), r.value() + half);
    for (double x : out)
      if (!(x > 0) || !std::isfinite(x)) return make_error("tensor " + name + " must hold positive finite divisors");
    return Status::Ok();
  };
  if (type == "longrope") {
    if (!b.has("rope_factors_long.weight") || !b.has("rope_factors_short.weight"))
      return make_error(a + ".rope.scaling.type longrope needs the tensors rope_factors_long and rope_factors_short");
    if (auto st = divisors("rope_factors_short.weight", c.longrope_short); !st) return st;
    if (auto st = divisors("rope_factors_long.weight", c.longrope_long); !st) return st;
    m.method = Method::LongRope;
    m.rope.attention_factor = attn;
    c.native_source = "GGUF rope_factors_short / rope_factors_long tensors (LongRoPE)";
    return Status::Ok();
  }
  if (b.has("rope_freqs.weight")) {
    if (factor != 1.0)
      return make_error("the rope_freqs tensor together with " + a + ".rope.scaling (" + type +
                        ") is not supported: LongScope cannot combine per-pair divisors with another scaling");
    if (auto st = divisors("rope_freqs.weight", c.longrope_short); !st) return st;
    c.longrope_long = c.longrope_short;
    m.method = Method::LongRope;
    m.rope.attention_factor = attn;
    c.native_source = "GGUF rope_freqs tensor (per-pair divisors, llama.cpp freq_factors)";
    return Status::Ok();
  }
  if (type == "yarn" && factor != 1.0) {
    m.method = Method::Yarn;
    LS_TRY_ASSIGN(m.rope.beta_fast, g.opt_float(a + ".rope.scaling.yarn_beta_fast", 32.0));
    LS_TRY_ASSIGN(m.rope.beta_slow, g.opt_float(a + ".rope.scaling.yarn_beta_slow", 1.0));
    if (!(m.rope.beta_fast > m.rope.beta_slow && m.rope.beta_slow > 0))
      return make_error(a + ".rope.scaling: yarn_beta_fast must exceed yarn_beta_slow > 0");
    m.rope.attention_factor = attn * yarn_attn * rope_yarn_mscale(factor);
    c.native_source = a + ".rope.scaling.*";
    return Status::Ok();
  }
  if (attn != 1.0) return make_error(a + ".rope.scaling.attn_factor without YaRN or per-pair factors is not supported");
  if (factor != 1.0) {
    m.method = Method::Linear;
    c.native_source = a + ".rope.scaling.*";
  }
  return Status::Ok();
}

// llama.cpp's names of general.file_type (llama.h enum llama_ftype, release b4747).
std::string file_type_name(int64_t t) {
  static const std::map<int64_t, const char*> kNames = {
      {0, "F32"},      {1, "F16"},       {2, "Q4_0"},     {3, "Q4_1"},     {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},     {10, "Q2_K"},     {11, "Q3_K_S"},  {12, "Q3_K_M"},  {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"},  {16, "Q5_K_S"},   {17, "Q5_K_M"},  {18, "Q6_K"},    {19, "IQ2_XXS"}, {20, "IQ2_XS"},
      {21, "Q2_K_S"},  {22, "IQ3_XS"},   {23, "IQ3_XXS"}, {24, "IQ1_S"},   {25, "IQ4_NL"}, {26, "IQ3_S"},
      {27, "IQ3_M"},   {28, "IQ2_S"},    {29, "IQ2_M"},   {30, "IQ4_XS"},  {31, "IQ1_M"},  {32, "BF16"},
      {36, "TQ1_0"},   {37, "TQ2_0"},    {38, "MXFP4_MOE"}};
  auto it = kNames.find(t);
  return it != kNames.end() ? it->second : "file type " + std::to_string(t);
}

// The geometry every family shares; the family file reads the rest.
Status read_config(const GgufFile& g, ModelConfig& c) {
  std::string a;
  LS_TRY_ASSIGN(a, g.get_string("general.architecture"));
  const arch::Family* family = arch::family_for_gguf(a);
  if (!family) return make_error("architecture \"" + a + "\" is not supported (" + arch::supported_gguf_architectures() + ")");
  c.family = a;
  LS_TRY_ASSIGN(c.name, g.opt_string("general.name", a));
  if (g.has("general.file_type")) {
    int64_t ft = 0;
    LS_TRY_ASSIGN(ft, g.get_int("general.file_type"));
    c.file_type = file_type_name(ft);
  }
  constexpr int64_t kMaxInt = INT32_MAX;
  LS_TRY_ASSIGN(c.dim, g.get_int_in(a + ".embedding_length", 1, kMaxInt));
  LS_TRY_ASSIGN(c.hidden_dim, g.get_int_in(a + ".feed_forward_length", 1, kMaxInt));
  LS_TRY_ASSIGN(c.n_layers, g.get_int_in(a + ".block_count", 1, kMaxInt));
  LS_TRY_ASSIGN(c.n_heads, g.get_int_in(a + ".attention.head_count", 1, kMaxInt));
  LS_TRY_ASSIGN(c.declared_context, g.get_int_in(a + ".context_length", 1, kMaxInt));
  LS_TRY_ASSIGN(c.n_kv_heads, g.opt_int_in(a + ".attention.head_count_kv", c.n_heads, 1, kMaxInt));
  LS_TRY_ASSIGN(c.head_dim, g.opt_int_in(a + ".attention.key_length", c.dim / c.n_heads, 1, kMaxInt));
  c.train_len = c.declared_context;
  c.train_len_source = a + ".context_length";
  if (g.has(a + ".rope.scaling.original_context_length")) {
    LS_TRY_ASSIGN(c.train_len, g.get_int_in(a + ".rope.scaling.original_context_length", 1, kMaxInt));
    c.train_len_source = a + ".rope.scaling.original_context_length";
  }
  auto vocab_tensor = g.tensors.find("token_embd.weight");
  if (vocab_tensor == g.tensors.end()) return make_error("tensor token_embd.weight is missing");
  if (vocab_tensor->second.shape[0] > (uint64_t)kMaxInt) return make_error("token_embd.weight has an absurd vocabulary");
  c.vocab_size = (int)vocab_tensor->second.shape[0];
  if (auto st = family->read_gguf(g, a, c); !st) return st;
  return validate_config(c);
}

}  // namespace

Result<std::shared_ptr<const EmbeddedVocab>> load_gguf_vocab(const std::string& path) {
  auto gr = read_gguf(path);
  if (!gr) return make_error(gr.error());
  Model m;
  if (auto st = read_vocab(gr.value(), m); !st) return make_error(path + ": " + st.error());
  if (!m.vocab) return make_error(path + " holds no vocabulary (tokenizer.ggml.tokens)");
  return std::shared_ptr<const EmbeddedVocab>(m.vocab);
}

Result<std::shared_ptr<Model>> load_gguf(const std::string& path) {
  auto gr = read_gguf(path);
  if (!gr) return make_error(gr.error());
  GgufFile& g = gr.value();
  auto model = std::make_shared<Model>();
  model->path = path;
  model->files.push_back(g.file);
  ModelConfig& c = model->config;
  c.format = ModelFormat::Gguf;
  if (auto st = read_config(g, c); !st) return make_error(path + ": " + st.error());
  if (auto st = read_vocab(g, *model); !st) return make_error(path + ": " + st.error());
  WeightBuilder b(*model, g.tensors);
  if (auto st = read_native_scaling(g, b, g.get_string("general.architecture").value(), c); !st)
    return make_error(path + ": " + st.error());
  auto names = arch::family_of(c.family)->names(ModelFormat::Gguf, c,
                                                [&](const std::string& t) { return g.tensors.count(t) > 0; });
  if (!names) return make_error(path + ": " + names.error());
  Status st = arch::build_weights(b, *model, names.value());
  if (!st) return make_error(path + ": " + st.error());
  return model;
}

}  // namespace ls
