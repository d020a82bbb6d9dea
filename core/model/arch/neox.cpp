// The GPT-NeoX family: GPT-NeoX / Pythia, StableLM and Phi-2. LayerNorm, partial
// rotary in half-split pairs. GPT-NeoX: one fused per-head qkv tensor, GELU,
// parallel residual unless use_parallel_residual is false. StableLM: separate
// q/k/v (biases with use_qkv_bias), SwiGLU; with use_parallel_residual both blocks
// read the one attention norm. Phi-2: biases everywhere (the classifier's too), a
// GELU feed-forward and one norm per parallel block.
// Sources: transformers' modeling_gpt_neox.py, modeling_stablelm.py (and its
// remote-code predecessor StableLMEpoch: rope_pct, norm_eps), modeling_phi.py;
// llama.cpp b4747 (llama-arch.cpp, llama-model.cpp LLM_ARCH_GPTNEOX / STABLELM / PHI2).
#include "core/model/arch/family.h"

namespace ls::arch {
namespace {

using json = nlohmann::json;

bool gelu_name(const std::string& act) {
  return act == "gelu" || act == "gelu_new" || act == "gelu_fast" || act == "gelu_pytorch_tanh";
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
  const bool swiglu = c.block.ffn == FeedForward::SwiGlu;
  if (swiglu ? act != "silu" : !gelu_name(act))
    return make_error(std::string("config.json: ") + name + " hidden_act \"" + act + "\" is not supported (" +
                      (swiglu ? "silu" : "gelu, gelu_new, gelu_fast, gelu_pytorch_tanh") + ")");
  if (!swiglu) c.block.ffn = act == "gelu" ? FeedForward::Gelu : FeedForward::GeluTanh;
  if (rd.flag(cfg, "qk_layernorm"))
    return make_error(std::string("config.json: a ") + name + " model with per-head q/k LayerNorms (qk_layernorm) is not "
                      "supported");
  return Status::Ok();
}

Status read_hf(const json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c) {
  c.arch = Arch::NeoX;
  c.block.norm = NormKind::Layer;
  if (name.is("GPTNeoXForCausalLM", "gpt_neox")) {
    c.family = "gptneox";
    c.dim = rd.integer(cfg, "hidden_size", 0);
    c.hidden_dim = rd.integer(cfg, "intermediate_size", 0);
    c.n_layers = rd.integer(cfg, "num_hidden_layers", 0);
    c.n_heads = rd.integer(cfg, "num_attention_heads", 0);
    c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
    c.norm_eps = rd.num(cfg, "layer_norm_eps", 1e-5);
    c.layout = PairLayout::HalfSplit;
    c.block.residual = rd.flag(cfg, "use_parallel_residual", true) ? Residual::Parallel : Residual::Sequential;
    const std::string act = rd.str(cfg, "hidden_act", "gelu");
    if (!gelu_name(act))
      return make_error("config.json: hidden_act \"" + act + "\" is not supported for GPT-NeoX (gelu, gelu_new, "
                        "gelu_fast, gelu_pytorch_tanh)");
    c.block.ffn = act == "gelu" ? FeedForward::Gelu : FeedForward::GeluTanh;
    return resolve_hf_rope(cfg, rd, c, rd.num(cfg, "rotary_emb_base", 10000.0), rd.num(cfg, "rotary_pct", 0.25));
  }
  if (name.is("StableLmForCausalLM", "stablelm") || name.is("StableLMEpochForCausalLM", "stablelm_epoch")) {
    c.family = "stablelm";
    c.block.ffn = FeedForward::SwiGlu;
    if (auto st = read_separate_qkv_block(cfg, rd, c, "StableLM", "silu"); !st) return st;
    c.block.qkv_bias = rd.flag(cfg, "use_qkv_bias");
    c.block.residual = rd.flag(cfg, "use_parallel_residual") ? Residual::ParallelOneNorm : Residual::Sequential;
    return resolve_hf_rope(cfg, rd, c, 10000.0, rd.num(cfg, "rope_pct", 0.25));
  }
  c.family = "phi2";  // PhiForCausalLM (Phi-1, Phi-1.5, Phi-2)
  c.block.residual = Residual::ParallelOneNorm;
  c.block.qkv_bias = true;
  c.block.ffn = FeedForward::GeluTanh;
  if (auto st = read_separate_qkv_block(cfg, rd, c, "Phi", "gelu_new"); !st) return st;
  return resolve_hf_rope(cfg, rd, c, 10000.0, 0.5);
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.arch = Arch::NeoX;
  c.block.norm = NormKind::Layer;
  if (auto st = read_gguf_rope(g, a, c, PairLayout::HalfSplit); !st) return st;
  if (auto st = read_gguf_norm_eps(g, a, c, false); !st) return st;
  if (a == "gptneox") {
    c.block.ffn = FeedForward::Gelu;
    bool parallel = true;
    LS_TRY_ASSIGN(parallel, g.opt_bool(a + ".use_parallel_residual", true));
    c.block.residual = parallel ? Residual::Parallel : Residual::Sequential;
  } else if (a == "stablelm") {
    // Biases on q/k/v when present (StableLM 2 1.6B); no ffn_norm means the parallel
    // residual over the one norm (StableLM 2 12B, which also has per-head q/k
    // LayerNorms LongScope does not run).
    c.block.ffn = FeedForward::SwiGlu;
    c.block.qkv_bias = g.tensors.count("blk.0.attn_q.bias") > 0;
    c.block.residual = g.tensors.count("blk.0.ffn_norm.weight") == 0 ? Residual::ParallelOneNorm : Residual::Sequential;
    if (g.tensors.count("blk.0.attn_q_norm.weight"))
      return make_error("a StableLM model with per-head q/k LayerNorms (qk_layernorm, StableLM 2 12B) is not supported");
  } else {  // phi2: tanh GELU
    c.block.residual = Residual::ParallelOneNorm;
    c.block.qkv_bias = true;
    c.block.ffn = FeedForward::GeluTanh;
    if (g.tensors.count("blk.0.attn_q_norm.weight"))
      return make_error("a Phi model with q/k LayerNorms (qk_layernorm) is not supported");
  }
  return Status::Ok();
}

// GPT-NeoX's fused tensors: per head (head, {q,k,v}, head_dim) in transformers,
// q all heads / k all / v all in GGUF.
BloomTensorNames neox_names(ModelFormat f) {
  BloomTensorNames n;
  if (f == ModelFormat::Gguf) {
    n = {"token_embd.weight", "", "", "output_norm.weight", "output_norm.bias", "output.weight",
         "blk.{}.attn_norm.weight", "blk.{}.attn_norm.bias", "blk.{}.attn_qkv.weight", "blk.{}.attn_qkv.bias",
         "blk.{}.attn_output.weight", "blk.{}.attn_output.bias", "blk.{}.ffn_norm.weight", "blk.{}.ffn_norm.bias",
         "blk.{}.ffn_up.weight", "blk.{}.ffn_up.bias", "blk.{}.ffn_down.weight", "blk.{}.ffn_down.bias"};
    return n;
  }
  const std::string p = "gpt_neox.", h = p + "layers.{}.";
  n = {p + "embed_in.weight", "", "", p + "final_layer_norm.weight", p + "final_layer_norm.bias", "embed_out.weight",
       h + "input_layernorm.weight", h + "input_layernorm.bias", h + "attention.query_key_value.weight",
       h + "attention.query_key_value.bias", h + "attention.dense.weight", h + "attention.dense.bias",
       h + "post_attention_layernorm.weight", h + "post_attention_layernorm.bias", h + "mlp.dense_h_to_4h.weight",
       h + "mlp.dense_h_to_4h.bias", h + "mlp.dense_4h_to_h.weight", h + "mlp.dense_4h_to_h.bias"};
  n.qkv_per_head = true;
  return n;
}

// StableLM: LLaMA's names, LayerNorms with biases; with the parallel residual there
// is no feed-forward norm (post_attention_layernorm).
LlamaTensorNames stablelm_names(ModelFormat f, bool qkv_bias, bool shared_norm) {
  LlamaTensorNames n = llama_names(f, qkv_bias);
  const bool gguf = f == ModelFormat::Gguf;
  n.attn_norm_b = gguf ? "blk.{}.attn_norm.bias" : "model.layers.{}.input_layernorm.bias";
  n.out_norm_b = gguf ? "output_norm.bias" : "model.norm.bias";
  if (shared_norm) n.ffn_norm = "";
  else n.ffn_norm_b = gguf ? "blk.{}.ffn_norm.bias" : "model.layers.{}.post_attention_layernorm.bias";
  return n;
}

// Phi-2: in transformers self_attn.dense is the output projection, mlp.fc1 / fc2
// the feed-forward, model.final_layernorm the last norm, lm_head has a bias;
// llama.cpp's older phi2 files fuse q/k/v into attn_qkv.
LlamaTensorNames phi2_names(ModelFormat f, bool fused_qkv) {
  LlamaTensorNames n = llama_names(f, !fused_qkv);
  n.ffn_norm = n.w_gate = "";
  if (f == ModelFormat::Gguf) {
    if (fused_qkv) n.wqkv = "blk.{}.attn_qkv.weight", n.bqkv = "blk.{}.attn_qkv.bias", n.wq = n.wk = n.wv = "";
    n.attn_norm_b = "blk.{}.attn_norm.bias";
    n.out_norm_b = "output_norm.bias";
    n.output_b = "output.bias";
    n.bo = "blk.{}.attn_output.bias";
    n.b_up = "blk.{}.ffn_up.bias";
    n.b_down = "blk.{}.ffn_down.bias";
    return n;
  }
  const std::string p = "model.layers.{}.";
  n.out_norm = "model.final_layernorm.weight";
  n.out_norm_b = "model.final_layernorm.bias";
  n.output_b = "lm_head.bias";
  n.attn_norm_b = p + "input_layernorm.bias";
  n.wo = p + "self_attn.dense.weight";
  n.bo = p + "self_attn.dense.bias";
  n.w_up = p + "mlp.fc1.weight";
  n.b_up = p + "mlp.fc1.bias";
  n.w_down = p + "mlp.fc2.weight";
  n.b_down = p + "mlp.fc2.bias";
  return n;
}

Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor& has) {
  if (c.family == "stablelm")
    return TensorNames{stablelm_names(f, c.block.qkv_bias, c.block.residual == Residual::ParallelOneNorm)};
  if (c.family == "phi2") return TensorNames{phi2_names(f, f == ModelFormat::Gguf && has("blk.0.attn_qkv.weight"))};
  return TensorNames{neox_names(f)};
}

json hf_config(const RandomModelSpec& s, const std::string& member) {
  const int hd = s.dim / s.n_heads;
  const double partial = (double)(s.rot_dim > 0 ? s.rot_dim : hd) / hd;
  if (member == "gptneox")
    return {{"architectures", {"GPTNeoXForCausalLM"}}, {"model_type", "gpt_neox"}, {"hidden_size", s.dim},
            {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers}, {"num_attention_heads", s.n_heads},
            {"rotary_pct", partial}, {"rotary_emb_base", s.rope_base}, {"max_position_embeddings", s.train_len},
            {"layer_norm_eps", 1e-5}, {"hidden_act", "gelu"}, {"use_parallel_residual", s.parallel_residual},
            {"tie_word_embeddings", false}, {"vocab_size", s.vocab_size}, {"bos_token_id", 0}, {"eos_token_id", 0}};
  const bool phi2 = member == "phi2";
  json cfg = {{"architectures", {phi2 ? "PhiForCausalLM" : "StableLmForCausalLM"}}, {"model_type", phi2 ? "phi" : "stablelm"},
              {"hidden_size", s.dim}, {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers},
              {"num_attention_heads", s.n_heads}, {"num_key_value_heads", s.n_kv_heads},
              {"partial_rotary_factor", partial}, {"rope_theta", s.rope_base},
              {"max_position_embeddings", s.train_len}, {"layer_norm_eps", 1e-5}, {"hidden_act", phi2 ? "gelu_new" : "silu"},
              {"qk_layernorm", false}, {"tie_word_embeddings", false}, {"vocab_size", s.vocab_size}, {"bos_token_id", 0},
              {"eos_token_id", 0}};
  if (!phi2) cfg["use_qkv_bias"] = s.qkv_bias, cfg["use_parallel_residual"] = s.parallel_residual;
  return cfg;
}

void gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  gguf_rope_meta(s, a, w);
  w.meta.push_back({a + ".attention.layer_norm_epsilon", {1e-5}});
  if (a == "gptneox") w.meta.push_back({a + ".use_parallel_residual", {s.parallel_residual}});
}

}  // namespace

const Family kNeoX{{"gptneox", "stablelm", "phi2"},
                   {"GPTNeoXForCausalLM", "StableLmForCausalLM", "StableLMEpochForCausalLM", "PhiForCausalLM"},
                   {"gpt_neox", "stablelm", "stablelm_epoch", "phi"},
                   {"gptneox", "stablelm", "phi2"},
                   read_hf, read_gguf, names, hf_config, gguf_meta};

}  // namespace ls::arch
