// The Gemma family, 2 and 3 (Gemma 1 is not supported): LLaMA's blocks with RMSNorm
// x·(1 + w) (transformers stores w; llama.cpp's converter stores 1 + w), norms on
// both blocks' outputs, a gated tanh-GELU (GeGLU), embeddings × √dim, a query scale
// of query_pre_attn_scalar^-½, and local (sliding-window) layers. Gemma-2 caps
// scores and logits with c·tanh(x/c) and makes every other layer local; Gemma-3
// drops the caps, RMS-norms q and k per head, and has five local layers (plain RoPE
// at rope_local_base_freq) to each global one (rope_theta and rope_scaling).
// Sources: transformers' modeling_gemma2.py, modeling_gemma3.py; llama.cpp b4747
// (llama-model.cpp build_gemma2 / LLM_ARCH_GEMMA3, convert_hf_to_gguf.py Gemma3Model).
#include <cmath>

#include "core/model/arch/family.h"

namespace ls::arch {
namespace {

using json = nlohmann::json;

// The text-model fields Gemma-2 and Gemma-3 share: sizes, RMSNorm epsilon,
// half-split pairs, the tanh GELU, query_pre_attn_scalar and the soft caps.
// head_dim_default 0: hidden_size / heads.
Status read_gemma_text(const json& t, ConfigReader& rd, ModelConfig& c, const char* name, int head_dim_default) {
  c.arch = Arch::Llama;
  c.block.embed_scale = true;
  c.block.ffn = FeedForward::GeGlu;
  read_hf_rms_geometry(t, rd, c, head_dim_default);
  c.hidden_dim = rd.integer(t, "intermediate_size", 0);
  c.layout = PairLayout::HalfSplit;
  const std::string act = rd.str(t, "hidden_activation", rd.str(t, "hidden_act", "gelu_pytorch_tanh"));
  if (act != "gelu_pytorch_tanh" && act != "gelu_new" && act != "gelu_fast")
    return make_error(std::string("config.json: ") + name + " hidden_activation \"" + act +
                      "\" is not supported (gelu_pytorch_tanh)");
  const double qpas = rd.num(t, "query_pre_attn_scalar", c.head_dim);
  if (!(qpas > 0)) return make_error("config.json: query_pre_attn_scalar must be positive");
  c.block.attn_scale = 1.0 / std::sqrt(qpas);
  c.block.attn_softcap = rd.num(t, "attn_logit_softcapping", 0.0);
  c.block.final_softcap = rd.num(t, "final_logit_softcapping", 0.0);
  if (c.block.attn_softcap < 0 || c.block.final_softcap < 0) return make_error("config.json: soft-capping values must be >= 0");
  return Status::Ok();
}

Status read_hf(const json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c) {
  if (name.is("Gemma2ForCausalLM", "gemma2")) {
    c.family = "gemma2";
    if (auto st = read_gemma_text(cfg, rd, c, "Gemma-2", 0); !st) return st;
    set_local_layers(c, rd.integer(cfg, "sliding_window", 0), 2);  // layers 0, 2, … are local
    if (auto st = check_layer_types(cfg, c); !st) return st;
    json rope_cfg = cfg;
    rope_cfg.erase("sliding_window");  // per layer kind here, not the whole model's native method
    return resolve_hf_rope(rope_cfg, rd, c, 10000.0, 1.0);
  }
  // Gemma-3: the multimodal checkpoint keeps the text model's fields in text_config.
  auto tc = cfg.find("text_config");
  const json& t = tc != cfg.end() && tc->is_object() ? *tc : cfg;
  c.family = "gemma3";
  c.block.qk_norm = true;
  if (auto st = read_gemma_text(t, rd, c, "Gemma-3", 256); !st) return st;
  const int window = rd.integer(t, "sliding_window", 4096);
  set_local_layers(c, window, rd.integer(t, "sliding_window_pattern", 6));
  c.block.local_rope_base = rd.num(t, "rope_local_base_freq", 10000.0);
  if (!(c.block.local_rope_base > 1)) return make_error("config.json: rope_local_base_freq must be > 1");
  if (auto st = check_layer_types(t, c); !st) return st;
  json rope_cfg = t;
  rope_cfg.erase("sliding_window");
  if (auto st = resolve_hf_rope(rope_cfg, rd, c, 1000000.0, 1.0); !st) return st;
  c.vocab_size = rd.integer(t, "vocab_size", 0);
  c.bos_id = rd.token_id(t, "bos_token_id", 2);
  c.eos_id = rd.token_id(t, "eos_token_id", 1);
  return Status::Ok();
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.block.embed_scale = true;
  c.block.ffn = FeedForward::GeGlu;
  c.block.qk_norm = a == "gemma3";
  if (auto st = read_gguf_rope(g, a, c, PairLayout::HalfSplit); !st) return st;
  if (auto st = read_gguf_norm_eps(g, a, c, true); !st) return st;
  if (a == "gemma2") {
    // Even layers slide; the query scale is 1/√head_dim, except the 46-layer 27B
    // model's 1/√(dim / heads).
    int window = 0;
    LS_TRY_ASSIGN(window, g.opt_int_in(a + ".attention.sliding_window", 0, 0, INT32_MAX));
    set_local_layers(c, window, 2);
    LS_TRY_ASSIGN(c.block.attn_softcap, g.opt_float(a + ".attn_logit_softcapping", 0.0));
    LS_TRY_ASSIGN(c.block.final_softcap, g.opt_float(a + ".final_logit_softcapping", 0.0));
    if (c.block.attn_softcap < 0 || c.block.final_softcap < 0) return make_error(a + " soft-capping values must be >= 0");
    c.block.attn_scale = 1.0 / std::sqrt(c.n_layers == 46 ? (double)c.dim / c.n_heads : (double)c.head_dim);
    return Status::Ok();
  }
  // gemma3: five local layers in six with plain RoPE at base 10000; rope.freq_base and
  // the linear rope.scaling are the global layers'; the query scale is 1/√head_dim,
  // except the 62-layer 27B model's 1/√(dim / heads); no soft caps.
  int window = 0;
  LS_TRY_ASSIGN(window, g.get_int_in(a + ".attention.sliding_window", 1, INT32_MAX));
  set_local_layers(c, window, 6);
  c.block.local_rope_base = 10000.0;
  c.block.attn_scale = 1.0 / std::sqrt(c.n_layers == 62 ? (double)c.dim / c.n_heads : (double)c.head_dim);
  return Status::Ok();
}

// Gemma-2's post_attention_layernorm (transformers) is applied to the attention
// output; the norm before the feed-forward is pre_feedforward_layernorm.
Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor& has) {
  LlamaTensorNames n = llama_names(f);
  const bool gemma3 = c.family == "gemma3";
  if (f == ModelFormat::Gguf) {
    n.post_attn_norm = "blk.{}.post_attention_norm.weight";
    n.post_ffn_norm = "blk.{}.post_ffw_norm.weight";
    if (gemma3) n.q_norm = "blk.{}.attn_q_norm.weight", n.k_norm = "blk.{}.attn_k_norm.weight";
    return TensorNames{n};
  }
  const std::string p = "model.layers.{}.";
  n.ffn_norm = p + "pre_feedforward_layernorm.weight";
  n.post_attn_norm = p + "post_attention_layernorm.weight";
  n.post_ffn_norm = p + "post_feedforward_layernorm.weight";
  n.norm_plus_one = true;
  if (gemma3) {
    n.output = "";  // tied
    n.q_norm = p + "self_attn.q_norm.weight";
    n.k_norm = p + "self_attn.k_norm.weight";
    // Gemma3ForConditionalGeneration keeps the text model under language_model.
    if (has("language_model.model.embed_tokens.weight"))
      for (std::string* s : {&n.tok_embd, &n.out_norm, &n.attn_norm, &n.wq, &n.wk, &n.wv, &n.wo, &n.ffn_norm, &n.w_gate,
                             &n.w_up, &n.w_down, &n.post_attn_norm, &n.post_ffn_norm, &n.q_norm, &n.k_norm})
        s->replace(0, 6, "language_model.model.");  // "model." → the text model's prefix
  }
  return TensorNames{n};
}

json hf_config(const RandomModelSpec& s, const std::string& member) {
  const int hd = s.dim / s.n_heads;
  json cfg = llama_style_hf_config(s, "Gemma2ForCausalLM", "gemma2");
  cfg["head_dim"] = hd;
  cfg["query_pre_attn_scalar"] = hd;
  cfg["sliding_window"] = s.window;
  cfg["attn_logit_softcapping"] = s.attn_softcap > 0 ? json(s.attn_softcap) : json(nullptr);
  cfg["final_logit_softcapping"] = s.final_softcap > 0 ? json(s.final_softcap) : json(nullptr);
  cfg["hidden_activation"] = "gelu_pytorch_tanh";
  cfg["tie_word_embeddings"] = true;
  if (member == "gemma3") {
    cfg["architectures"] = {"Gemma3ForCausalLM"};
    cfg["model_type"] = "gemma3_text";
    cfg["sliding_window_pattern"] = s.pattern;
    cfg["rope_local_base_freq"] = s.local_base;
    if (s.linear_factor > 0) cfg["rope_scaling"] = {{"rope_type", "linear"}, {"factor", s.linear_factor}};
  }
  return cfg;
}

void gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  gguf_rope_meta(s, a, w);
  w.meta.push_back({a + ".attention.layer_norm_rms_epsilon", {1e-5}});
  w.meta.push_back({a + ".attention.key_length", {(uint64_t)(s.dim / s.n_heads)}});
  w.meta.push_back({a + ".attention.sliding_window", {(uint64_t)s.window}});
  if (a == "gemma2") {
    w.meta.push_back({a + ".attn_logit_softcapping", {s.attn_softcap}});
    w.meta.push_back({a + ".final_logit_softcapping", {s.final_softcap}});
  } else if (s.linear_factor > 0) {
    w.meta.push_back({a + ".rope.scaling.type", {std::string("linear")}});
    w.meta.push_back({a + ".rope.scaling.factor", {s.linear_factor}});
  }
}

}  // namespace

const Family kGemma{{"gemma2", "gemma3"},
                    {"Gemma2ForCausalLM", "Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"},
                    {"gemma2", "gemma3", "gemma3_text"},
                    {"gemma2", "gemma3"},
                    read_hf, read_gguf, names, hf_config, gguf_meta};

}  // namespace ls::arch
