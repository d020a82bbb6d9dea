// The CPU reference backend: ground truth for every faster path.
#pragma once

#include <list>
#include <vector>

#include "core/cpu/rope_apply.h"
#include "core/engine/backend.h"

namespace ls {

struct CpuOptions {
  int threads = 0;      // 0: all cores
  bool naive = false;   // plain loops, one thread: the baseline the benchmarks compare against
};

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  explicit CpuBackend(CpuOptions o);
  const char* name() const override { return opts_.naive ? "cpu-naive" : "cpu"; }
  T* alloc(size_t count) override;
  void release(T* p) override;
  void copy(const T* src, T* dst, size_t count) override;
  void to_host(const T* src, T* dst, size_t count) override;
  void from_host(const T* src, T* dst, size_t count) override;
  void embed(const int* tokens, int n, const float* table, int dim, T* out) override;
  void rmsnorm(const T* x, const float* w, int rows, int dim, double eps, T* y) override;
  void layernorm(const T* x, const float* w, const float* b, int rows, int dim, double eps, T* y) override;
  void matmul(const T* x, int rows, int in, const float* W, const float* b, int out, T* y) override;
  void swiglu(T* gate, const T* up, size_t n) override;
  void gelu(T* x, size_t n) override;
  void add(T* x, const T* y, size_t n) override;
  Status attention(const AttentionCall<T>& call) override;
  void nll(const T* logits, int rows, int vocab, const int* targets, double* nll, int* rank) override;

 private:
  CpuOptions opts_;
  std::list<std::vector<T>> buffers_;
  RopeAngleCache<T> angles_;  // integer-position cos/sin, shared by every layer of a forward
};

}  // namespace ls
