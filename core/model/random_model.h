// Seeded random-weight models written in every supported format: for parity
// tests (the same weights as .bin, GGUF and safetensors must give the same
// logits) and for benchmarks on real shapes where no checkpoint can be downloaded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/model/dtype.h"
#include "core/model/gguf.h"
#include "core/model/model.h"

namespace ls {

struct RandomModelSpec {
  Arch arch = Arch::Llama;
  int dim = 64, hidden_dim = 172, n_layers = 2, n_heads = 8, n_kv_heads = 4, vocab_size = 512, train_len = 256;
  double rope_base = 10000.0;
  unsigned long long seed = 1234;
  float scale = 0.0f;  // weight std; 0: 1/sqrt(fan-in)
  bool qkv_bias = false;  // LLaMA with q/k/v biases, written as Qwen2 (qwen2 GGUF, Qwen2ForCausalLM)
  bool fused = false;     // fused qkv and gate+up projections, written as Phi-3 (phi3 GGUF, Phi3ForCausalLM)
  int rot_dim = 0;        // Arch::NeoX: rotary dims per head (0: the whole head)
  bool parallel_residual = true;  // Arch::NeoX: use_parallel_residual
  // Arch::NeoX with separate q/k/v: StableLM (SwiGLU; q/k/v biases with qkv_bias; the
  // parallel residual shares the attention norm) or Phi-2 (biases everywhere, the
  // classifier's too, one norm per block).
  bool stablelm = false, phi2 = false;
  // Gemma-2 (written as gemma2 GGUF / Gemma2ForCausalLM): post-block norms, GeGLU,
  // tied classifier, local layers with this window, these soft caps.
  bool gemma2 = false;
  int window = 0;
  double attn_softcap = 0.0, final_softcap = 0.0;
  // Gemma-3 (with gemma2 set; safetensors only): q/k norms, every pattern-th layer
  // global, local layers at local_base, global layers at rope_base with linear_factor.
  bool gemma3 = false;
  int pattern = 0;
  double local_base = 0.0, linear_factor = 0.0;
  // Qwen3 (qwen3 GGUF / Qwen3ForCausalLM): q/k norms per head, head_dim set apart
  // from dim / n_heads. SmolLM3 (smollm3 / SmolLM3ForCausalLM): every
  // nope_interval-th layer without position (llama.cpp's files: 4).
  bool qwen3 = false, smollm3 = false;
  int head_dim = 0;        // 0: dim / n_heads
  int nope_interval = 4;
  double yarn_factor = 0;  // > 0: the checkpoint's own YaRN (rope_scaling), with L its original length
  // Mixture of experts, written as `moe` (mixtral: GGUF llama / MixtralForCausalLM;
  // qwen2moe with q/k/v biases and a shared expert; qwen3moe with q/k norms;
  // gpt-oss with biases everywhere, attention sinks and sliding layers of `window`):
  // n_experts experts of width hidden_dim, n_used per token.
  std::string moe;
  int n_experts = 0, n_used = 0, shared_hidden = 0;
};

// The head dimension a spec's model has.
inline int random_head_dim(const RandomModelSpec& s) { return s.head_dim > 0 ? s.head_dim : s.dim / s.n_heads; }

// Named shapes: "bundled" (stories260K's), "tinyllama-1.1b", "llama2-7b", "tiny-bloom", "tiny-qwen2", "tiny-phi3",
// "tiny-neox", "tiny-stablelm", "tiny-phi2", "tiny-mpt", "tiny-gemma2", "tiny-gemma3", "tiny-qwen3", "tiny-smollm3",
// "qwen3-0.6b" (its real geometry), "tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-gptoss".
Result<RandomModelSpec> random_model_shape(const std::string& name);

// Weights in LongScope's canonical layout (interleaved rotary pairs; fused QKV as
// q all heads, k all, v all). GPT-NeoX weights are kept half-split, as both its
// formats store them.
struct RandomModel {
  RandomModelSpec spec;
  std::map<std::string, std::vector<float>> t;  // names as in GGUF ("blk.0.attn_q.weight", …)
};
RandomModel make_random_model(const RandomModelSpec& spec);
long long random_model_params(const RandomModelSpec& spec);

// Random blocks of a block type for `count` elements, every scale finite and about
// `scale` (MXFP4: the nearest power of two): files of the types LongScope reads but
// does not quantise itself (Q4_K, …), for tests and fuzz seeds.
std::vector<uint8_t> random_blocks(DType t, size_t count, float scale, unsigned long long seed);

// m's GGUF with every matrix as random_blocks of `t` (the output matrix of
// `output_type` when given: llama-quantize's Q6_K classifier), vectors F32, and
// general.file_type when >= 0. The values are random blocks, not m's weights.
Status write_gguf_blocks(const RandomModel& m, const std::string& path, DType t, DType output_type = DType::F64,
                         int file_type = -1, unsigned long long seed = 7);

Status write_llama2c(const RandomModel& m, const std::string& path);                  // .bin (LLaMA only)
// Matrices in `matrix_type` (F32, F16, BF16, Q8_0 or Q4_0); norms and biases stay F32.
// With `vocab`, the file embeds that SentencePiece vocabulary (tokenizer.ggml.*);
// `extra_meta` is appended to the metadata (scaling keys in tests). Tensors named
// rope_* (rope_freqs, rope_factors_long/short) are written as F32 vectors.
Status write_gguf_model(const RandomModel& m, const std::string& path, DType matrix_type = DType::F32,
                        const EmbeddedVocab* vocab = nullptr,
                        const std::vector<std::pair<std::string, GgufValue>>& extra_meta = {});
// Folder with config.json + model.safetensors (+ optional sharding) in HF layout;
// dtype F32, F16 or BF16.
Status write_hf_model(const RandomModel& m, const std::string& dir, const std::string& dtype = "F32", int shards = 1);

}  // namespace ls
