// The Backend interface forward() is written against. The CPU reference backend
// (core/cpu) and the CUDA backend (gpu/) implement it; T is the activation type
// (float, or double for reference runs). Weights are fp32 host views; a device
// backend maps them to its own copies.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "core/model/model.h"
#include "core/position/position.h"
#include "core/util/status.h"

namespace ls {

// Hands the attention probabilities of one layer's heads to the caller, one query
// row at a time (head = -1: every head). May be called concurrently for
// different rows or heads.
struct AttentionObserver {
  int layer = -1;
  int head = -1;
  std::function<void(int head, int query_pos, const float* probs, int n_keys)> on_row;
};

// Everything one attention op needs for one layer. Keys are cached before RoPE
// (k_raw) and as rotated for the near band (k_rot).
template <typename T>
struct AttentionCall {
  int layer = 0;
  const T* q = nullptr;   // (n_new, n_heads·head_dim), before RoPE
  T* k_raw = nullptr;     // (capacity, kv_dim) keys before RoPE; rows [0, p0+n_new) valid
  T* k_rot = nullptr;     // (capacity, kv_dim) keys as rotated when appended (near band)
  const T* v = nullptr;   // (capacity, kv_dim)
  T* out = nullptr;       // (n_new, n_heads·head_dim)
  int p0 = 0;             // position of the first new token
  int n_new = 0;          // new tokens (queries)
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, rot_dim = 0;
  PairLayout layout = PairLayout::Interleaved;
  MethodParams method;
  PositionContext ctx;    // cur_len = p0 + n_new
  const double* alibi_slopes = nullptr;  // (n_heads) when the method is ALiBi-family
  const AttentionObserver* observer = nullptr;
  const std::atomic<bool>* cancel = nullptr;
};

template <typename T>
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Memory valid for the backend's lifetime (device memory on a GPU backend).
  virtual T* alloc(size_t count) = 0;
  // Returns memory from alloc() before the backend's end (a KV cache that grew).
  virtual void release(T* p) = 0;
  virtual void copy(const T* src, T* dst, size_t count) = 0;  // within the backend's memory
  virtual void to_host(const T* src, T* dst, size_t count) = 0;
  virtual void from_host(const T* src, T* dst, size_t count) = 0;

  virtual void embed(const int* tokens, int n, const float* table, int dim, T* out) = 0;  // out (n, dim)
  virtual void rmsnorm(const T* x, const float* w, int rows, int dim, double eps, T* y) = 0;
  virtual void layernorm(const T* x, const float* w, const float* b, int rows, int dim, double eps, T* y) = 0;
  // y (rows, out) = x (rows, in) · Wᵀ (+ b); W (out, in) row-major.
  virtual void matmul(const T* x, int rows, int in, const float* W, const float* b, int out, T* y) = 0;
  virtual void swiglu(T* gate, const T* up, size_t n) = 0;  // gate ← silu(gate)·up
  virtual void gelu(T* x, size_t n) = 0;                    // tanh approximation (BLOOM)
  virtual void add(T* x, const T* y, size_t n) = 0;         // x ← x + y
  virtual Status attention(const AttentionCall<T>& call) = 0;
  // nll[r] = logsumexp(logits[r]) - logits[r][target[r]]; logits (rows, vocab).
  // rank[r] (optional): how many tokens score above the target (0 = top-1).
  virtual void nll(const T* logits, int rows, int vocab, const int* targets, double* nll, int* rank) = 0;
};

}  // namespace ls
