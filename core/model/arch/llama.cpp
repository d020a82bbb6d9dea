// The LLaMA family: LLaMA 1–3, Mistral, Qwen2 (q/k/v biases) and Phi-3 (fused qkv
// and gate+up projections). RMSNorm, SwiGLU, rotary over the whole head.
// Sources: transformers' modeling_llama.py, modeling_mistral.py, modeling_qwen2.py,
// modeling_phi3.py; llama.cpp b4747 (llama-arch.cpp tensor names, llama-model.cpp).
#include "core/model/arch/family.h"

namespace ls::arch {

using json = nlohmann::json;

LlamaTensorNames llama_names(ModelFormat f, bool qkv_bias, bool fused) {
  LlamaTensorNames n;
  if (f == ModelFormat::Gguf) {
    n = {"token_embd.weight", "output_norm.weight", "output.weight",
         "blk.{}.attn_norm.weight", "blk.{}.attn_q.weight", "blk.{}.attn_k.weight", "blk.{}.attn_v.weight",
         "blk.{}.attn_output.weight", "blk.{}.ffn_norm.weight", "blk.{}.ffn_gate.weight", "blk.{}.ffn_up.weight",
         "blk.{}.ffn_down.weight"};
    if (qkv_bias) n.bq = "blk.{}.attn_q.bias", n.bk = "blk.{}.attn_k.bias", n.bv = "blk.{}.attn_v.bias";
    if (fused) n.wqkv = "blk.{}.attn_qkv.weight", n.w_gate_up = "blk.{}.ffn_up.weight";  // llama.cpp's phi3 tensors
  } else {
    const std::string p = "model.layers.{}.";
    n = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
         p + "input_layernorm.weight", p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
         p + "self_attn.v_proj.weight", p + "self_attn.o_proj.weight", p + "post_attention_layernorm.weight",
         p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"};
    if (qkv_bias) n.bq = p + "self_attn.q_proj.bias", n.bk = p + "self_attn.k_proj.bias", n.bv = p + "self_attn.v_proj.bias";
    if (fused) n.wqkv = p + "self_attn.qkv_proj.weight", n.w_gate_up = p + "mlp.gate_up_proj.weight";
  }
  if (fused) n.wq = n.wk = n.wv = n.w_gate = n.w_up = "";  // the fused tensors replace them
  return n;
}

json llama_style_hf_config(const RandomModelSpec& s, const std::string& architecture, const std::string& model_type) {
  return {{"architectures", {architecture}}, {"model_type", model_type}, {"hidden_size", s.dim},
          {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers}, {"num_attention_heads", s.n_heads},
          {"num_key_value_heads", s.n_kv_heads}, {"rms_norm_eps", 1e-5}, {"vocab_size", s.vocab_size},
          {"max_position_embeddings", s.train_len}, {"rope_theta", s.rope_base}, {"tie_word_embeddings", false},
          {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "float32"}};
}

void gguf_rope_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  w.meta.push_back({a + ".rope.freq_base", {s.rope_base}});
  w.meta.push_back({a + ".rope.dimension_count", {(uint64_t)(s.rot_dim > 0 ? s.rot_dim : s.dim / s.n_heads)}});
}

namespace {

Status read_hf(const json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.family = name.is("Qwen2ForCausalLM", "qwen2")       ? "qwen2"
             : name.is("Phi3ForCausalLM", "phi3")       ? "phi3"
             : name.is("MistralForCausalLM", "mistral") ? "mistral"
                                                        : "llama";
  c.fused_projections = c.family == "phi3";  // Phi-3: qkv_proj and gate_up_proj
  c.block.qkv_bias = c.family == "qwen2";    // Qwen2: LLaMA with q/k/v biases
  c.dim = rd.integer(cfg, "hidden_size", 0);
  c.hidden_dim = rd.integer(cfg, "intermediate_size", 0);
  c.n_layers = rd.integer(cfg, "num_hidden_layers", 0);
  c.n_heads = rd.integer(cfg, "num_attention_heads", 0);
  c.n_kv_heads = rd.integer(cfg, "num_key_value_heads", c.n_heads);
  c.head_dim = rd.integer(cfg, "head_dim", c.n_heads ? c.dim / c.n_heads : 0);
  c.norm_eps = rd.num(cfg, "rms_norm_eps", 1e-6);
  c.layout = PairLayout::HalfSplit;  // HF rotate_half
  return resolve_hf_rope(cfg, rd, c, 10000.0, 1.0);
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.block.qkv_bias = a == "qwen2";  // LLaMA with q/k/v biases
  c.fused_projections = a == "phi3";  // fused qkv and gate+up
  // llama.cpp's converter permutes LLaMA's q/k into adjacent pairs; Qwen2 and Phi-3
  // keep the half-split rows and run with rope type NEOX.
  if (auto st = read_gguf_rope(g, a, c, a == "llama" ? PairLayout::Interleaved : PairLayout::HalfSplit); !st) return st;
  return read_gguf_norm_eps(g, a, c, true);
}

Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor&) {
  return TensorNames{llama_names(f, c.block.qkv_bias, c.fused_projections)};
}

json hf_config(const RandomModelSpec& s, const std::string& member) {
  return member == "qwen2" ? llama_style_hf_config(s, "Qwen2ForCausalLM", "qwen2")
         : member == "phi3" ? llama_style_hf_config(s, "Phi3ForCausalLM", "phi3")
                            : llama_style_hf_config(s, "LlamaForCausalLM", "llama");
}

void gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  gguf_rope_meta(s, a, w);
  w.meta.push_back({a + ".attention.layer_norm_rms_epsilon", {1e-5}});
}

}  // namespace

const Family kLlama{{"llama", "mistral", "qwen2", "phi3"},
                    {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Phi3ForCausalLM"},
                    {"llama", "mistral", "qwen2", "phi3"},
                    {"llama", "qwen2", "phi3"},
                    read_hf, read_gguf, names, hf_config, gguf_meta};

}  // namespace ls::arch
