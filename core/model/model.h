// A loaded model: resolved configuration plus fp32 weight views.
// Loaders (llama2.c .bin, GGUF, safetensors + config.json) validate every count,
// offset and shape before use and return a Result; they never exit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/model/dtype.h"
#include "core/model/mapped_file.h"
#include "core/position/position.h"
#include "core/util/status.h"

namespace ls {

// The block structure. Llama: RMSNorm, SwiGLU, rotary. Bloom: LayerNorm (+ one on the
// embedding), tanh-GELU, ALiBi, biases. NeoX (GPT-NeoX / Pythia, StableLM, Phi-2):
// LayerNorm, partial rotary in half-split pairs, GELU (SwiGLU for StableLM), parallel
// residual (optional). Mpt: LayerNorm without biases, GELU, ALiBi, no biases anywhere.
enum class Arch { Llama, Bloom, NeoX, Mpt };
enum class ModelFormat { Llama2c, Gguf, Safetensors };

const char* arch_name(Arch a);
// Whether the architecture positions by ALiBi (no rotary dimensions).
inline bool arch_alibi(Arch a) { return a == Arch::Bloom || a == Arch::Mpt; }
const char* layout_name(PairLayout l);
const char* format_name(ModelFormat f);

// The block each family resolves (core/model/arch/), read by the forward, the
// reference forward and the summaries.
enum class NormKind { Rms, Layer };  // RMSNorm (the LLaMA and Gemma families) or LayerNorm (with biases)
// Gated: silu(gate)·up (SwiGLU) or tanh-GELU(gate)·up (GeGLU); plain: one GELU,
// erf-exact or its tanh approximation.
enum class FeedForward { SwiGlu, GeGlu, Gelu, GeluTanh };
// Sequential: x += attn(n1 x); x += ffn(n2 x). Parallel (GPT-NeoX
// use_parallel_residual): x += attn(n1 x) + ffn(n2 x). ParallelOneNorm (Phi-2, StableLM
// with use_parallel_residual): both read n1 x; the block has no feed-forward norm.
enum class Residual { Sequential, Parallel, ParallelOneNorm };
// Global: every earlier key, positioned by the method. Local: keys m - j < the
// model's window (Gemma's sliding layers), rotated at the local base when it has one.
// NoPosition: every earlier key and no position term whatever the method (SmolLM3's
// and Llama 4's "NoPE" layers: no rotation, no bias, no remapping, no log-n).
enum class LayerKind { Global, Local, NoPosition };

// A mixture-of-experts feed-forward (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE): a router
// (softmax over E logits) picks the k most probable experts per token; their SwiGLU
// outputs are summed weighted by those probabilities, renormalised to sum 1 or not
// (per family: transformers' norm_topk_prob; llama.cpp's norm_w). Qwen2-MoE adds a
// shared expert whose output is scaled by sigmoid(x · w).
struct MoeDesc {
  int n_experts = 0;         // E; 0: a dense feed-forward
  int n_used = 0;            // k
  bool renormalise = false;  // the k weights divided by their sum
  int shared_hidden = 0;     // the shared expert's width; 0: none
  // gpt-oss's clamped SwiGLU: g = min(gate, limit), u = clamp(up, ±limit),
  // out = (u + 1)·g·σ(1.702·g); 0: plain SwiGLU.
  double swiglu_limit = 0.0;
};

struct BlockDesc {
  NormKind norm = NormKind::Rms;
  FeedForward ffn = FeedForward::SwiGlu;
  Residual residual = Residual::Sequential;
  bool qkv_bias = false;      // q/k/v projections add biases (Qwen2, StableLM, Phi-2)
  bool qk_norm = false;       // q and k RMS-normed per head before rotation (Gemma-3, Qwen3)
  bool qk_norm_full = false;  // with qk_norm: over the whole q and k projections instead (OLMoE)
  bool embed_scale = false;   // embeddings × √dim (Gemma)
  double attn_scale = 0.0;     // query scale; 0: 1/√head_dim
  double attn_softcap = 0.0;   // scores become c·tanh(s/c); 0: none (Gemma-2)
  double final_softcap = 0.0;  // logits likewise
  std::vector<LayerKind> layers;  // one per layer; empty: every layer global
  int local_window = 0;           // the local layers' window
  int local_period = 0;           // the layers were laid out as (l + 1) % period != 0 → local (for summaries)
  double local_rope_base = 0.0;   // the local layers' own plain-RoPE base; 0: the global table (Gemma-3 has one)
  MoeDesc moe;                    // every layer's feed-forward is a mixture when moe.n_experts > 0 (hidden_dim: each expert's)
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string family = "llama";  // the checkpoint's own architecture name: llama, mistral, qwen2, bloom, gptneox, stablelm, phi2, mpt, …
  BlockDesc block;
  bool fused_projections = false;  // storage: one qkv and one gate+up tensor per layer (Phi-3), for the name table
  ModelFormat format = ModelFormat::Llama2c;
  std::string name;
  int dim = 0;         // model width
  int hidden_dim = 0;  // feed-forward width
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int rot_dim = 0;  // rotary dimension d (0 for ALiBi models)
  double rope_base = 10000.0;
  PairLayout layout = PairLayout::Interleaved;
  double norm_eps = 1e-5;
  int train_len = 0;                 // L used by every method (overridable by the user)
  std::string train_len_source;      // where L came from, e.g. "llama.context_length"
  int declared_context = 0;          // what the file declares as its context length
  MethodParams native_method;        // the checkpoint's own scaling (rope_scaling); rope/alibi if none
  std::string native_source;         // where native_method came from, e.g. "GGUF rope_freqs tensor"
  bool tied_embeddings = false;
  int bos_id = 1, eos_id = 2;
  long long n_params = 0;
  std::string file_type;  // GGUF general.file_type as llama.cpp names it (Q4_K_M, …); "" when the file has none
  std::vector<double> longrope_short, longrope_long;  // per-pair LongRoPE factors (rot_dim/2 each)
};

// Whether the feed-forward is gated (SwiGLU / GeGLU: gate, up and down matrices).
inline bool ffn_gated(const ModelConfig& c) {
  return c.block.ffn == FeedForward::SwiGlu || c.block.ffn == FeedForward::GeGlu;
}

inline LayerKind layer_kind(const ModelConfig& c, int l) {
  return l >= 0 && l < (int)c.block.layers.size() ? c.block.layers[(size_t)l] : LayerKind::Global;
}
// Whether layer l attends only within the model's local window.
inline bool layer_is_local(const ModelConfig& c, int l) { return layer_kind(c, l) == LayerKind::Local; }
// Whether layer l carries position (every layer but NoPE ones).
inline bool layer_has_position(const ModelConfig& c, int l) { return layer_kind(c, l) != LayerKind::NoPosition; }

// Local layers with `window`, every layer l with (l + 1) % period != 0 (Gemma-2: 2,
// the even layers; Gemma-3: 6, five local to one global); a window of 0: none.
void set_local_layers(ModelConfig& c, int window, int period);

// Points a longrope method at the model's factor lists (no-op for other methods).
inline void attach_model_tables(MethodParams& p, const ModelConfig& c) {
  if (p.method != Method::LongRope) return;
  const size_t half = (size_t)c.rot_dim / 2;
  p.rope.longrope_short = c.longrope_short.size() == half ? c.longrope_short.data() : nullptr;
  p.rope.longrope_long = c.longrope_long.size() == half ? c.longrope_long.data() : nullptr;
}

// A weight matrix (rows, cols), row-major, in the dtype the file stores it: F32,
// F16 / BF16, or a block type (Q4_K, …; each row a whole number of blocks), kept as
// stored in the mapped file: matmuls widen a block of rows at a time, so a
// quantised file needs no fp32 copy.
struct Matrix {
  const void* data = nullptr;
  DType dtype = DType::F32;
  explicit operator bool() const { return data != nullptr; }
  bool operator==(const Matrix& o) const { return data == o.data; }
  const float* f32() const { return dtype == DType::F32 ? static_cast<const float*>(data) : nullptr; }
  // Rows [r, r + n) of `cols` elements as fp32.
  void rows(size_t r, size_t n, size_t cols, float* out) const {
    dequantize(dtype, static_cast<const uint8_t*>(data) + r * dtype_bytes(dtype, cols), n * cols, out);
  }
  void row(size_t r, size_t cols, float* out) const { rows(r, 1, cols, out); }
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // (dim)
  const float* attn_norm_b = nullptr;  // (dim), LayerNorm models
  Matrix wq;  // (n_heads·head_dim, dim)
  Matrix wk;  // (n_kv_heads·head_dim, dim)
  Matrix wv;  // (n_kv_heads·head_dim, dim)
  Matrix wo;  // (dim, n_heads·head_dim)
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;  // biases (BLOOM)
  const float* ffn_norm = nullptr;    // (dim); null with Residual::ParallelOneNorm
  const float* ffn_norm_b = nullptr;  // (dim)
  const float* post_attn_norm = nullptr;  // (dim) on the attention output before the residual (Gemma-2)
  const float* post_ffn_norm = nullptr;   // (dim) on the feed-forward output before the residual (Gemma-2)
  const float* q_norm = nullptr;  // (head_dim) RMSNorm of each query head before RoPE (Gemma-3)
  const float* k_norm = nullptr;  // (head_dim) RMSNorm of each key head before RoPE
  const float* attn_sinks = nullptr;  // (n_heads) learned sink logits of the softmax (gpt-oss)
  Matrix w_gate;  // (hidden, dim), SwiGLU gate (LLaMA, StableLM)
  Matrix w_up;    // (hidden, dim)
  Matrix w_down;  // (dim, hidden)
  const float *b_up = nullptr, *b_down = nullptr;  // (BLOOM, GPT-NeoX, Phi-2)
  // Mixture of experts (BlockDesc::moe): the router, each expert's SwiGLU (views into
  // the file's stacked tensors, or its own tensors), the shared expert and its gate.
  Matrix router;                                   // (E, dim)
  const float* router_b = nullptr;                 // (E) the router's bias (gpt-oss)
  std::vector<const float*> exp_gate_b, exp_up_b, exp_down_b;  // E each, or empty: the experts' biases (gpt-oss)
  std::vector<Matrix> exp_gate, exp_up, exp_down;  // E each: (hidden, dim), (hidden, dim), (dim, hidden)
  Matrix sh_gate, sh_up, sh_down;                  // (shared, dim), (shared, dim), (dim, shared)
  Matrix sh_router;                                // (1, dim): the shared expert's gate logit
};

struct ModelWeights {
  Matrix tok_embd;     // (vocab, dim)
  const float* embd_norm = nullptr;    // (dim), BLOOM word_embeddings_layernorm
  const float* embd_norm_b = nullptr;  // (dim)
  std::vector<LayerWeights> layers;
  const float* out_norm = nullptr;    // (dim)
  const float* out_norm_b = nullptr;  // (dim)
  Matrix output;      // (vocab, dim); == tok_embd when tied
  const float* output_b = nullptr;  // (vocab), the classifier's bias (Phi-2)
};

// The vocabulary a GGUF file carries (tokenizer.ggml.*).
struct EmbeddedVocab {
  std::string kind = "llama";  // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE), …
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int> types;  // piece types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)
  std::vector<std::string> merges;  // byte-level BPE: "left right", by rank (tokenizer.ggml.merges)
  std::string pre;                  // byte-level BPE pre-tokenizer name (tokenizer.ggml.pre)
  int bos_id = 1, eos_id = 2, unk_id = 0;  // -1: the file names none
  // tokenizer.ggml.add_bos_token / add_eos_token: 1, 0, or -1 when the file has no such key
  // (llama.cpp's default for the vocabulary kind and pre-tokenizer applies).
  int add_bos = -1, add_eos = -1;
  bool add_space_prefix = true;            // tokenizer.ggml.add_space_prefix (SentencePiece vocabularies)
  bool remove_extra_whitespaces = false;   // tokenizer.ggml.remove_extra_whitespaces
};

struct Model {
  ModelConfig config;
  ModelWeights weights;
  std::string path;
  std::shared_ptr<EmbeddedVocab> vocab;  // null unless the file embeds one
  // Storage the views point into: mapped files and dequantised copies.
  std::vector<std::shared_ptr<MappedFile>> files;
  std::vector<std::vector<float>> owned;
};

struct LoadOptions {
  int train_len_override = 0;  // > 0: the user's L replaces the file's
  // Per-model settings (true training length of known checkpoints); "" to skip.
  std::string known_models = LONGSCOPE_RESOURCES_DIR "/models/known_models.json";
};

// Loads a .bin (llama2.c), .gguf, a .safetensors file, or a folder holding
// config.json + model.safetensors / model.safetensors.index.json.
Result<std::shared_ptr<const Model>> load_model(const std::string& path, const LoadOptions& opts = {});

// Format-specific loaders (load_model dispatches on magic / extension).
Result<std::shared_ptr<Model>> load_llama2c(const std::string& path);
Result<std::shared_ptr<Model>> load_gguf(const std::string& path);
// The vocabulary of a GGUF file alone (a vocab-only GGUF serves as a tokenizer).
Result<std::shared_ptr<const EmbeddedVocab>> load_gguf_vocab(const std::string& path);
Result<std::shared_ptr<Model>> load_safetensors(const std::string& path);

}  // namespace ls
