// Binds a model's weights from named tensors, whatever the file format: the family
// file (core/model/arch/) supplies the names of its format ("{}" stands for the
// layer index). Two shapes of block: LLaMA-style (separate or fused q/k/v and
// gate/up, optional biases and extra norms) and fused-QKV (BLOOM, GPT-NeoX, MPT).
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
  // Mixture of experts: the router, the experts' gate/up/down (GGUF: one stacked
  // tensor each, experts outermost; transformers: one tensor per expert, "{x}" its
  // index), the shared expert and its gate; empty: none.
  std::string router, exp_gate, exp_up, exp_down, sh_gate, sh_up, sh_down, sh_router;
  bool stacked_experts = false;
  // gpt-oss: the router's and experts' biases (stacked in GGUF), the attention sinks;
  // transformers' experts as one gate_up_proj (E, dim, 2·hidden: gate and up columns
  // alternating) and down_proj (E, hidden, dim), both stored input-major, with biases.
  std::string router_b, exp_gate_b, exp_up_b, exp_down_b, attn_sinks, exp_gate_up, exp_gate_up_b;
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

// Fills model.weights from the builder (the config must be resolved and valid).
Status build_llama_weights(WeightBuilder& b, Model& model, const LlamaTensorNames& n);
Status build_bloom_weights(WeightBuilder& b, Model& model, const BloomTensorNames& n);

}  // namespace ls
