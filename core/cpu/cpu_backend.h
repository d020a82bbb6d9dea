// The CPU backend: the tiled SIMD attention (float) and the row-by-row reference
// attention (double, the naive baseline, and the probed layer), OpenBLAS matmuls,
// and a KV cache of one K copy in f32/f64, f16 or bf16.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "core/cpu/flash_kernel.h"
#include "core/cpu/rope_apply.h"
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

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  explicit CpuBackend(CpuOptions o);
  const char* name() const override { return opts_.naive ? "cpu-naive" : "cpu"; }
  size_t memory_available() const override;
  int preferred_chunk() const override { return 256; }
  Status upload(const Model&) override { return Status::Ok(); }  // host views are used in place
  T* alloc(size_t count) override;
  void release(T* p) override;
  void to_host(const T* src, T* dst, size_t count) override;
  void from_host(const T* src, T* dst, size_t count) override;
  Status sync() override { return Status::Ok(); }  // every call is synchronous
  size_t kv_bytes_per_token(const KvSpec& spec) const override;
  std::unique_ptr<KvCache> make_cache(const KvSpec& spec) override;
  Status reserve_kv(KvCache& cache, int tokens, int keep) override;
  void set_positions(KvCache& cache, const PositionTables& tables, int kind) override;
  void embed(const int* tokens, int n, const Matrix& table, int dim, T* out) override;
  void rmsnorm(const T* x, const float* w, int rows, int dim, double eps, T* y) override;
  void layernorm(const T* x, const float* w, const float* b, int rows, int dim, double eps, T* y) override;
  void matmul(const T* x, int rows, int in, const Matrix& W, const float* b, int out, T* y) override;
  void swiglu(T* gate, const T* up, size_t n) override;
  void gelu(T* x, size_t n, bool exact) override;
  void geglu(T* gate, const T* up, size_t n) override;
  void scale(T* x, size_t n, double s) override;
  void softcap(T* x, size_t n, double cap) override;
  void add(T* x, const T* y, size_t n) override;
  Status attention(KvCache& cache, const AttentionParams& p, const T* q, const T* k_new, const T* v_new, T* out,
                   const AttentionObserver* observer, const std::atomic<bool>* cancel) override;
  void nll(const T* logits, int rows, int vocab, const int* targets, double* nll, int* rank) override;

  // The instruction set the tiled kernel uses ("generic", "avx2", "avx512").
  const std::string& isa() const { return isa_; }

 private:
  using Cache = CpuKvCache<T>;
  // `cache` as this backend's own kind; null when another backend made it.
  static Cache* own(KvCache& cache) { return dynamic_cast<Cache*>(&cache); }
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
  std::string isa_;
  CpuKernels kernels_;  // the entry points built for isa_
  std::list<std::vector<T>> buffers_;
};

}  // namespace ls
