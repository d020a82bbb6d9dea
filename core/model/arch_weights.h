// Assembles LLaMA / BLOOM weights from named tensors, whatever the file format:
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
};

struct BloomTensorNames {
  std::string tok_embd, embd_norm, embd_norm_b, out_norm, out_norm_b, output;
  std::string attn_norm, attn_norm_b, qkv, qkv_b, wo, bo, ffn_norm, ffn_norm_b, w_up, b_up, w_down, b_down;
  bool qkv_per_head = false;  // HF layout (head, {q,k,v}, head_dim) vs GGUF's (q all, k all, v all)
};

// qkv_bias: with the q/k/v bias tensors (Qwen2); fused: one qkv and one gate+up tensor (Phi-3).
LlamaTensorNames gguf_llama_names(bool qkv_bias = false, bool fused = false);
LlamaTensorNames hf_llama_names(bool qkv_bias = false, bool fused = false);
BloomTensorNames gguf_bloom_names();
BloomTensorNames hf_bloom_names(const std::string& prefix);

// Fills model.weights from the builder (the config must be resolved and valid).
Status build_llama_weights(WeightBuilder& b, Model& model, const LlamaTensorNames& n);
Status build_bloom_weights(WeightBuilder& b, Model& model, const BloomTensorNames& n);

}  // namespace ls
