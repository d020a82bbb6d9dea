// The Backend interface forward() is written against. The CPU backend (core/cpu)
// implements it; a device backend (gpu/) implements the same calls.
//
// What crosses this seam is device-ready (docs/gpu.md, "The seam between the engine and a backend"):
// - activations are Tensor views with a runtime dtype into memory the backend owns
//   (host memory on the CPU, device memory on a GPU), not raw pointers chosen by a
//   template: one backend serves f32 and f64 runs alike, and says which activation
//   dtypes it runs (supports); an op given views it cannot run reports that through
//   sync() and touches nothing;
// - one backend serves every run on a model (core/backends: backend_for), so weights
//   are uploaded once; each engine owns only its KV cache (make_cache) and work
//   buffers, and NBCE's K+1 rows or a sweep's cells share the backend;
// - attention parameters are one plain struct (AttentionParams) with no host
//   pointers; the position tables (θ', the attention factor, ALiBi slopes) are
//   computed on the host from core/position and handed over once per forward
//   (set_positions), so a kernel never reads MethodParams' host-side factor lists;
// - the KV cache is made by the backend, in its own dtype and layout (one K copy,
//   kept rotated or raw as the method needs), opaque to the engine, which only
//   says how many tokens it must hold; the position tables live with it (each
//   sequence has its own current length);
// - the backend says how much memory it has and which chunk size suits it, and
//   reports asynchronous errors through sync(), which the engine calls once per layer;
// - the probabilities of a probed (layer, head) are produced by the backend and
//   handed to the observer on the host, one query row at a time.
// Weights are host views in their stored dtype (fp32, f16, bf16: Matrix) passed
// to matmul; a device backend maps them to its own copies.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/model/dtype.h"
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
  // The forward ends once `layer`'s attention has run (its output and the hidden states
  // are then not computed: only the observed probabilities are wanted).
  bool stop_after_layer = false;
  std::function<void(int layer)> on_layer;  // called as each layer starts (progress)
};

// Kinds of position tables a cache holds: the model's, and its local layers' own
// (Gemma-3's local layers rotate with base 10000, its global layers with 1e6 and
// the method).
constexpr int kPositionTableKinds = 3;  // every layer's, local layers' (Gemma-3), none (NoPE layers)

// `count` elements of a runtime dtype (F32, F64, F16, BF16) in memory a backend
// owns (Backend::alloc), or host memory a CPU backend is handed (host_tensor).
struct Tensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  size_t count = 0;
  // Elements [offset, offset + n) of this view; an empty view when they lie outside it.
  Tensor slice(size_t offset, size_t n) const {
    if (!data || offset > count || n > count - offset) return Tensor{nullptr, dtype, 0};
    return Tensor{static_cast<char*>(data) + dtype_bytes(dtype, offset), dtype, n};
  }
  Tensor head(size_t n) const { return slice(0, n); }
  size_t bytes() const { return dtype_bytes(dtype, count); }
};

// The activation dtype of element type T (float: F32, double: F64).
template <typename T>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "activations are float or double");
  return std::is_same_v<T, float> ? DType::F32 : DType::F64;
}

// A host array as a view (the CPU backend computes on host memory).
template <typename T>
Tensor host_tensor(T* p, size_t n) {
  return Tensor{const_cast<std::remove_const_t<T>*>(p), dtype_of<std::remove_const_t<T>>(), n};
}

// The elements of view `t` as T, or null when t holds another dtype or fewer than
// `need` elements (the backend then reports the mismatch instead of computing).
template <typename T>
T* typed(const Tensor& t, size_t need) {
  return t.data && t.dtype == dtype_of<T>() && t.count >= need ? static_cast<T*>(t.data) : nullptr;
}

// Which keys the cache holds (one copy either way).
//   Rotated: R(j)·k as appended, with the table of that forward (every RoPE-family
//            method with one table per key; ALiBi keys are stored as they are);
//   Raw:     k before RoPE, rotated inside attention as each band needs it
//            (remapping methods: near R(j)k and far R(far_key_pos(j))k; dynamic
//            methods with cache=raw: every key with the current table).
enum class KeyForm : int { Rotated, Raw };

struct KvSpec {
  DType act = DType::F32;  // the activation dtype of the calls on this cache
  int n_layers = 0;
  int kv_dim = 0;  // n_kv_heads · head_dim
  std::optional<DType> dtype;  // storage: F16 or BF16; none: the activation dtype (f32, or f64 for reference runs)
  KeyForm keys = KeyForm::Rotated;
};

// The key form a method needs (see KeyForm).
inline KeyForm key_form_for(const MethodParams& m) {
  if (method_is_remap(m.method)) return KeyForm::Raw;
  if (method_is_dynamic(m.method) && m.cache == KeyCache::Raw) return KeyForm::Raw;
  return KeyForm::Rotated;
}

// The cache's element type.
inline DType kv_storage(const KvSpec& s) { return s.dtype.value_or(s.act); }

// Bytes one K (or V) row of one layer takes: kv_dim elements of the cache dtype.
inline size_t kv_row_bytes(const KvSpec& s) { return (size_t)s.kv_dim * dtype_bytes(kv_storage(s), 1); }

// Bytes one cached token takes: one K row and one V row per layer.
inline size_t kv_token_bytes(const KvSpec& s) { return 2 * (size_t)s.n_layers * kv_row_bytes(s); }

// One sequence's KV cache and position state, made by Backend::make_cache: its
// storage is the backend's business. An engine owns one; engines share a backend.
struct KvCache {
  virtual ~KvCache() = default;
  KvSpec spec;
  int tokens = 0;  // rows each layer holds room for
};

// Position tables of one forward, computed on the host from core/position.
struct PositionTables {
  std::vector<double> inv_freq;      // θ'_i (rot_dim/2), radians per token; empty for ALiBi
  double attention_factor = 1.0;     // multiplies cos and sin
  std::vector<double> alibi_slopes;  // (n_heads) for ALiBi-family methods, else empty
};

// Everything one attention op needs besides its buffers: plain values only, so the
// block copies to a device unchanged.
struct AttentionParams {
  int layer = 0;
  int p0 = 0;     // position of the first new token
  int n_new = 0;  // new tokens (queries); keys [0, p0 + n_new) are attended
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, rot_dim = 0;
  PairLayout layout = PairLayout::Interleaved;
  Method method = Method::Rope;
  RelposRemap remap;        // bands: window, leak k, group, sinks
  int logn = 0;             // log-n query scale
  double train_len = 2048;  // L (log-n)
  double scale = 0.0;       // softmax scale of q·k; 0: 1/√head_dim
  int table = 0;            // which position tables (set_positions kind): 0 every layer's, 1 local layers' (Gemma-3), 2 none
  double softcap = 0.0;     // scores → softcap·tanh(s / softcap) before the softmax; 0: none
  // (n_heads) learned sink logits (gpt-oss): each head's softmax has one more term,
  // exp(sink), with no value, whatever the method; null: none. The model's weights.
  const float* sinks = nullptr;
};

// The scale of q·k: the model's (Gemma's query_pre_attn_scalar), else 1/√head_dim.
inline double softmax_scale(const AttentionParams& p) {
  return p.scale > 0 ? p.scale : 1.0 / std::sqrt((double)p.head_dim);
}

// The tables of method `m` at one moment (ctx.cur_len): θ' and the attention
// factor for rotary methods, the slopes of `n_heads` heads for ALiBi methods.
PositionTables position_tables(const MethodParams& m, const PositionContext& ctx, int n_heads);

// The parameter block of method `m` for one head geometry (layer, p0 and n_new left 0).
AttentionParams attention_params(const MethodParams& m, int n_heads, int n_kv_heads, int head_dim, int rot_dim,
                                 PairLayout layout, double train_len);

// The MethodParams the position.h band helpers take, rebuilt from the plain block
// (no frequency scaling and no host pointers: bands only).
inline MethodParams band_params(const AttentionParams& a) {
  MethodParams m;
  m.method = a.method;
  m.remap = a.remap;
  m.logn = a.logn;
  return m;
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Whether this backend runs activations of dtype `act` (the CPU: F32 and F64).
  virtual bool supports(DType act) const = 0;
  // Bytes this backend can still allocate (host memory budget, or free device memory).
  virtual size_t memory_available() const = 0;
  // Tokens per micro-batch of a forward that suit this backend.
  virtual int preferred_chunk() const = 0;
  // Makes the model's weights usable by the backend, once, before the first
  // forward (a device backend copies them in their dtype; the CPU reads the
  // host views in place). matmul/embed then receive those same Matrix views.
  virtual Status upload(const Model& model) = 0;

  // `count` elements of `dtype`, valid for the backend's lifetime (device memory on a
  // GPU backend); an empty view (and an error from sync) when they cannot be had.
  virtual Tensor alloc(DType dtype, size_t count) = 0;
  // Returns memory from alloc() before the backend's end (hidden states that grew).
  virtual void release(const Tensor& t) = 0;
  // Copies all of `src` to host memory `dst` (src.bytes() bytes), and back.
  virtual void to_host(const Tensor& src, void* dst) = 0;
  virtual void from_host(const void* src, const Tensor& dst) = 0;

  // Errors a device reports asynchronously since the last call (Ok on the CPU unless
  // an op was handed views it cannot run); the engine calls it once per layer.
  virtual Status sync() = 0;

  // KV cache: bytes per cached token; an empty cache of this layout; room for
  // `tokens` tokens keeping rows [0, keep) of what is cached (a cache that grows).
  // reserve_kv checks the memory budget.
  virtual size_t kv_bytes_per_token(const KvSpec& spec) const = 0;
  virtual std::unique_ptr<KvCache> make_cache(const KvSpec& spec) = 0;
  virtual Status reserve_kv(KvCache& cache, int tokens, int keep) = 0;
  // Position tables of kind `kind` (AttentionParams::table) for the following
  // attention calls on `cache` (once per forward and kind).
  virtual void set_positions(KvCache& cache, const PositionTables& tables, int kind) = 0;

  // Every view below holds activations of one dtype; shapes are given in elements.
  virtual void embed(const int* tokens, int n, const Matrix& table, int dim, const Tensor& out) = 0;  // out (n, dim)
  virtual void rmsnorm(const Tensor& x, const float* w, int rows, int dim, double eps, const Tensor& y) = 0;
  // b may be null (MPT's LayerNorm has no bias).
  virtual void layernorm(const Tensor& x, const float* w, const float* b, int rows, int dim, double eps,
                         const Tensor& y) = 0;
  // y (rows, out) = x (rows, in) · Wᵀ (+ b); W (out, in) row-major.
  // W is read in its own dtype (f16 / bf16 converted inside, never copied whole).
  virtual void matmul(const Tensor& x, int rows, int in, const Matrix& W, const float* b, int out, const Tensor& y) = 0;
  // Element-wise over all of the first view's elements.
  virtual void swiglu(const Tensor& gate, const Tensor& up) = 0;  // gate ← silu(gate)·up
  virtual void geglu(const Tensor& gate, const Tensor& up) = 0;   // gate ← gelu_tanh(gate)·up (Gemma)
  virtual void scale(const Tensor& x, double s) = 0;              // x ← s·x
  virtual void softcap(const Tensor& x, double cap) = 0;          // x ← cap·tanh(x / cap)
  // x·Φ(x): erf-exact (GPT-NeoX, MPT) or the tanh approximation (BLOOM).
  virtual void gelu(const Tensor& x, bool exact) = 0;
  virtual void add(const Tensor& x, const Tensor& y) = 0;         // x ← x + y
  virtual void zero(const Tensor& x) = 0;                         // x ← 0
  // gpt-oss's clamped SwiGLU: g = min(gate, limit), u = clamp(up, ±limit), gate ← (u + 1)·g·σ(1.702·g).
  virtual void swiglu_oai(const Tensor& gate, const Tensor& up, double limit) = 0;
  // Mixture of experts: out (n, dim) ← rows rows[0 … n) of x (host indices), and
  // y[rows[i]] += weights[i] · x[i] for the n rows of x (n, dim).
  virtual void gather_rows(const Tensor& x, const int* rows, int n, int dim, const Tensor& out) = 0;
  virtual void scatter_add_rows(const Tensor& x, const int* rows, const float* weights, int n, int dim,
                                const Tensor& y) = 0;
  // Appends k_new, v_new (n_new, kv_dim; keys before RoPE) to the layer's rows of
  // `cache` at p0, then out (n_new, n_heads·head_dim) = attention of q (before RoPE) over
  // keys [0, p0 + n_new). `observer` (optional) receives one layer's
  // probabilities; `cancel` (optional) stops a long call with "cancelled".
  virtual Status attention(KvCache& cache, const AttentionParams& p, const Tensor& q, const Tensor& k_new,
                           const Tensor& v_new, const Tensor& out, const AttentionObserver* observer,
                           const std::atomic<bool>* cancel) = 0;
  // nll[r] = logsumexp(logits[r]) - logits[r][target[r]]; logits (rows, vocab).
  // rank[r] (optional): how many tokens score above the target (0 = top-1).
  virtual void nll(const Tensor& logits, int rows, int vocab, const int* targets, double* nll, int* rank) = 0;
};

}  // namespace ls
