// Assembles LLaMA / BLOOM / GPT-NeoX / StableLM / Phi-2 / MPT weights from named tensors, whatever the file format:
// each format supplies its own tensor names ("{}" stands for the layer index).
#pragma once

#include <string>

#include "core/model/weight_builder.h"

namespace ls {

struct LlamaTensorNames {
  std::string tok_embd, out_norm, output;
  std::string attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
  std::string bq, bk, bv;  // q/k/v biases (Qwen2); empty: none
  std::string wqkv, w_gate_up;  // fused projections (Phi-3): q, k, v rows / gate, up rows; empty: separate
  std::string post_attn_norm, post_ffn_norm;  // Gemma-2's norms on each block's output; empty: none
  std::string q_norm, k_norm;  // Gemma-3's per-head RMSNorms of q and k; empty: none
  bool norm_plus_one = false;  // RMSNorm weights stored as w - 1 (transformers' Gemma: x·(1 + w))
  // LayerNorm models with separate projections (StableLM, Phi-2): the norms' biases,
  // the fused q/k/v bias of an attn_qkv tensor, the other biases; empty: none. An
  // empty w_gate: a GELU feed-forward; an empty ffn_norm: the block's one shared norm.
  std::string attn_norm_b, ffn_norm_b, out_norm_b, bqkv, bo, b_up, b_down, output_b;
};

// Models with one fused QKV tensor, LayerNorm and a GELU feed-forward: BLOOM,
// GPT-NeoX, MPT. An empty name: the model has no such tensor (MPT's biases, NeoX's
// and MPT's embedding norm).
struct BloomTensorNames {
  std::string tok_embd, embd_norm, embd_norm_b, out_norm, out_norm_b, output;
  std::string attn_norm, attn_norm_b, qkv, qkv_b, wo, bo, ffn_norm, ffn_norm_b, w_up, b_up, w_down, b_down;
  bool qkv_per_head = false;  // HF layout (head, {q,k,v}, head_dim) vs GGUF's (q all, k all, v all)
  bool optional_biases = false;  // biases (norm biases too) read when present (llama.cpp's MPT: all optional)
};

// qkv_bias: with the q/k/v bias tensors (Qwen2); fused: one qkv and one gate+up tensor (Phi-3).
LlamaTensorNames gguf_llama_names(bool qkv_bias = false, bool fused = false);
LlamaTensorNames hf_llama_names(bool qkv_bias = false, bool fused = false);
LlamaTensorNames gguf_gemma2_names();  // llama.cpp's gemma2 (its converter stores the norms as 1 + w)
LlamaTensorNames gguf_gemma3_names();  // llama.cpp's gemma3 (norms, q/k norms included, as 1 + w)
LlamaTensorNames hf_gemma2_names();    // transformers' Gemma2ForCausalLM
// transformers' Gemma3ForCausalLM (prefix "model.") or the text model of
// Gemma3ForConditionalGeneration (prefix "language_model.model.").
LlamaTensorNames hf_gemma3_names(const std::string& prefix);
// StableLM (llama.cpp's stablelm, transformers' StableLmForCausalLM): q/k/v biases
// optional, no feed-forward norm with the parallel residual.
LlamaTensorNames gguf_stablelm_names(bool qkv_bias, bool shared_norm);
LlamaTensorNames hf_stablelm_names(bool qkv_bias, bool shared_norm);
// Phi-2 (llama.cpp's phi2, whose older files fuse q/k/v into attn_qkv; transformers'
// PhiForCausalLM): biases everywhere, the classifier's included, one norm per block.
LlamaTensorNames gguf_phi2_names(bool fused_qkv);
LlamaTensorNames hf_phi2_names();
BloomTensorNames gguf_bloom_names();
BloomTensorNames hf_bloom_names(const std::string& prefix);
BloomTensorNames gguf_neox_names();  // llama.cpp's gptneox: BLOOM's names without the embedding norm
BloomTensorNames hf_neox_names();
BloomTensorNames gguf_mpt_names();   // llama.cpp's mpt: biases optional
BloomTensorNames hf_mpt_names();     // transformers' MptForCausalLM (no_bias)

// Fills model.weights from the builder (the config must be resolved and valid).
Status build_llama_weights(WeightBuilder& b, Model& model, const LlamaTensorNames& n);
Status build_bloom_weights(WeightBuilder& b, Model& model, const BloomTensorNames& n);

}  // namespace ls
