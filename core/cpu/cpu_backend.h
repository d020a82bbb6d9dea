// The CPU backend: the tiled SIMD attention (float) and the row-by-row reference
// attention (double, and the naive baseline), OpenBLAS matmuls, and a KV cache of
// one K copy in f32/f64, f16 or bf16.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "core/cpu/flash_kernel.h"
#include "core/position/rope_apply.h"
#include "core/engine/backend.h"

namespace ls {

// How the float attention runs. Tiled: the flash kernel (core/cpu/flash_kernel.h);
// Rows: one (query, head) at a time with materialised scores, the reference every
// faster path is checked against.
enum class CpuAttention : int { Tiled, Rows };

struct CpuOptions {
  int threads = 0;      // 0: all cores
  bool naive = false;   // plain loops, one thread: the baseline the benchmarks compare against
  CpuAttention attention = CpuAttention::Tiled;
  std::string isa;      // tiled kernel: "" = best this CPU has (env LONGSCOPE_ISA overrides), or generic/avx2/avx512
};

// The instruction sets the tiled kernel was built for and this CPU runs, best first
// (always ends with "generic").
std::vector<std::string> cpu_attention_isas();

// One sequence's cache (one K copy and V per layer, rows of kv_dim elements of
// the cache dtype) and its position state.
template <typename T>
struct CpuKvCache final : KvCache {
  struct Layer {
    std::vector<uint8_t> k, v;
  };
  std::vector<Layer> layers;
  // Position state per table kind (AttentionParams::table): 0 every layer's, 1 the
  // local layers' of a model whose local layers rotate with their own base (Gemma-3).
  struct Positions {
    PositionTables tables;
    RopeAngleCache<T> angles;      // cos/sin at key positions j, current table
    RopeAngleCache<T> far_angles;  // cos/sin at far_key_pos(j) (remapping methods)
    MethodParams far_bands;        // the bands far_angles were built for
  };
  Positions pos[kPositionTableKinds];
};

// The CPU ops for one activation type T (float, or double for reference runs).
// CpuBackend holds one of each and hands every call to the one its views' dtype names.
template <typename T>
class CpuOps {
 public:
  using Scalar = T;
  using Cache = CpuKvCache<T>;
  CpuOps(const CpuOptions& o, const CpuKernels& kernels);
  void embed(const int* tokens, int n, const Matrix& table, int dim, T* out);
  void rmsnorm(const T* x, const float* w, int rows, int dim, double eps, T* y);
  void layernorm(const T* x, const float* w, const float* b, int rows, int dim, double eps, T* y);
  void matmul(const T* x, int rows, int in, const Matrix& W, const float* b, int out, T* y);
  void swiglu(T* gate, const T* up, size_t n);
  void gelu(T* x, size_t n, bool exact);
  void geglu(T* gate, const T* up, size_t n);
  void scale(T* x, size_t n, double s);
  void softcap(T* x, size_t n, double cap);
  void add(T* x, const T* y, size_t n);
  void gather_rows(const T* x, const int* rows, int n, int dim, T* out);
  void swiglu_oai(T* gate, const T* up, size_t n, double limit);
  void scatter_add_rows(const T* x, const int* rows, const float* weights, int n, int dim, T* y);
  Status attention(Cache& c, const AttentionParams& p, const T* q, const T* k_new, const T* v_new, T* out,
                   const AttentionObserver* observer, const std::atomic<bool>* cancel);
  void nll(const T* logits, int rows, int vocab, const int* targets, double* nll, int* rank);

 private:
  // Writes rows [p0, p0+n) of a layer from activations (keys rotated first when the form is Rotated).
  void append_kv(Cache& c, const AttentionParams& p, const T* k_new, const T* v_new);
  // Keys [0, n) of a layer as T, in the band's rotation: near (R(j)k) or far (R(far_key_pos(j))k).
  void keys_as(const Cache& c, const AttentionParams& p, int n, bool far, std::vector<T>& out);
  void values_as(const Cache& c, const AttentionParams& p, int n, std::vector<T>& out);
  // Far-band key angles for keys [0, n) (remapping methods), kept while the table and the bands stay.
  void prepare_far_keys(Cache& c, const AttentionParams& p, int n);
  Status attention_rows(Cache& c, const AttentionParams& p, const T* q, T* out, const AttentionObserver* observer,
                        const std::atomic<bool>* cancel);
  Status attention_tiled(Cache& c, const AttentionParams& p, const T* q, T* out, const AttentionObserver* observer,
                         const std::atomic<bool>* cancel);
  // The probed heads' probabilities after a tiled pass: each score recomputed from the
  // same query operands and keys, exp(s - lse) with the row's log-sum-exp from the kernel.
  Status probe_rows(Cache& c, const AttentionParams& p, const float* qn, const float* qf, const float* lse,
                    const AttentionObserver& observer, const std::atomic<bool>* cancel);

  CpuOptions opts_;
  CpuKernels kernels_;  // the entry points built for the backend's instruction set
};

// The CPU backend: f32 and f64 activations in host memory (Tensor views of it).
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(CpuOptions o);
  const char* name() const override { return opts_.naive ? "cpu-naive" : "cpu"; }
  bool supports(DType act) const override { return act == DType::F32 || act == DType::F64; }
  size_t memory_available() const override;
  int preferred_chunk() const override { return 256; }
  Status upload(const Model&) override { return Status::Ok(); }  // host views are used in place
  Tensor alloc(DType dtype, size_t count) override;
  void release(const Tensor& t) override;
  void to_host(const Tensor& src, void* dst) override;
  void from_host(const void* src, const Tensor& dst) override;
  Status sync() override;  // every call is synchronous: only views an op could not run are reported
  size_t kv_bytes_per_token(const KvSpec& spec) const override;
  std::unique_ptr<KvCache> make_cache(const KvSpec& spec) override;
  Status reserve_kv(KvCache& cache, int tokens, int keep) override;
  void set_positions(KvCache& cache, const PositionTables& tables, int kind) override;
  void embed(const int* tokens, int n, const Matrix& table, int dim, const Tensor& out) override;
  void rmsnorm(const Tensor& x, const float* w, int rows, int dim, double eps, const Tensor& y) override;
  void layernorm(const Tensor& x, const float* w, const float* b, int rows, int dim, double eps,
                 const Tensor& y) override;
  void matmul(const Tensor& x, int rows, int in, const Matrix& W, const float* b, int out, const Tensor& y) override;
  void swiglu(const Tensor& gate, const Tensor& up) override;
  void gelu(const Tensor& x, bool exact) override;
  void geglu(const Tensor& gate, const Tensor& up) override;
  void scale(const Tensor& x, double s) override;
  void softcap(const Tensor& x, double cap) override;
  void add(const Tensor& x, const Tensor& y) override;
  void zero(const Tensor& x) override;
  void swiglu_oai(const Tensor& gate, const Tensor& up, double limit) override;
  void gather_rows(const Tensor& x, const int* rows, int n, int dim, const Tensor& out) override;
  void scatter_add_rows(const Tensor& x, const int* rows, const float* weights, int n, int dim, const Tensor& y) override;
  Status attention(KvCache& cache, const AttentionParams& p, const Tensor& q, const Tensor& k_new, const Tensor& v_new,
                   const Tensor& out, const AttentionObserver* observer, const std::atomic<bool>* cancel) override;
  void nll(const Tensor& logits, int rows, int vocab, const int* targets, double* nll, int* rank) override;

  // The instruction set the tiled kernel uses ("generic", "avx2", "avx512").
  const std::string& isa() const { return isa_; }

 private:
  // f(ops) with the ops of activation dtype `d` (f32's for a dtype it does not run:
  // the views then fail their check in `as`).
  template <typename F>
  decltype(auto) on(DType d, F&& f) {
    if (d == DType::F64) return f(f64_);
    return f(f32_);
  }
  // f(ops, cache) with `cache` as the ops' own cache type (its activation dtype, spec.act);
  // the pointer is null when another backend made it.
  template <typename F>
  decltype(auto) on_cache(KvCache& cache, F&& f) {
    return on(cache.spec.act, [&](auto& o) { return f(o, dynamic_cast<typename std::decay_t<decltype(o)>::Cache*>(&cache)); });
  }
  // View `t` as T when it holds T and at least `need` elements; else null, and sync()
  // reports that `op` was handed a view it cannot run.
  template <typename T>
  T* as(const Tensor& t, size_t need, const char* op) {
    T* p = typed<T>(t, need);
    if (!p) fail(op, t, need, dtype_of<T>());
    return p;
  }
  void fail(const char* op, const Tensor& t, size_t need, DType want);

  CpuOptions opts_;
  std::string isa_;
  CpuOps<float> f32_;
  CpuOps<double> f64_;
  std::list<std::vector<double>> buffers_;  // alloc's memory (8-byte aligned for every dtype)
  Status pending_ = Status::Ok();
};

}  // namespace ls
