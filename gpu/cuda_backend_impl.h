// The CUDA backend's class and the launchers its two translation units share
// (cuda_backend.cu: memory, weights, GEMMs, element-wise kernels, NLL;
// cuda_attention.cu: the KV cache, band operands, attention and the probe).
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/engine/backend.h"
#include "gpu/cuda_check.h"
#include "gpu/flash_tile.h"

namespace ls::gpu {

// A weight matrix on the device: BF16 or F16 elements.
struct DeviceMatrix {
  void* data = nullptr;
  DType dtype = DType::BF16;
};

// Launch shape of the grid-stride kernels: kThreads a block, enough blocks for n items (capped).
constexpr int kThreads = 256;
inline int blocks_for(size_t n) { return (int)std::min<size_t>((n + kThreads - 1) / kThreads, 65535u * 16u); }

// Element i of a 16-bit array of dtype DType::BF16 / DType::F16, as fp32.
__device__ inline float load16(const void* p, DType dtype, size_t i) {
  return dtype == DType::BF16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i])
                        : __half2float(static_cast<const __half*>(p)[i]);
}

// One sequence's cache: one K copy and V per layer, rows of kv_dim 16-bit elements
// (bf16, or fp16 when the spec asks), and the position tables of each kind.
struct CudaKvCache final : KvCache {
  struct Layer {
    uint16_t* k = nullptr;
    uint16_t* v = nullptr;
  };
  std::vector<Layer> layers;
  DType dtype = DType::BF16;
  struct Positions {
    PositionTables tables;        // host copy (far positions, the band helpers)
    double* inv_freq = nullptr;   // device θ' (rot_dim/2)
    float* slopes = nullptr;      // device ALiBi slopes (n_heads)
  };
  Positions pos[kPositionTableKinds];
  ~CudaKvCache() override;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  Status init();  // device, stream, cuBLAS handle
  const char* name() const override { return "cuda"; }
  bool supports(DType act) const override { return act == DType::F32; }  // fp32 activations, 16-bit weights and KV
  size_t memory_available() const override;
  int preferred_chunk() const override { return 512; }
  Status upload(const Model& model) override;
  Tensor alloc(DType dtype, size_t count) override;
  void release(const Tensor& t) override;
  void to_host(const Tensor& src, void* dst) override;
  void from_host(const void* src, const Tensor& dst) override;
  Status sync() override;
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
  void geglu(const Tensor& gate, const Tensor& up) override;
  void scale(const Tensor& x, double s) override;
  void softcap(const Tensor& x, double cap) override;
  void gelu(const Tensor& x, bool exact) override;
  void add(const Tensor& x, const Tensor& y) override;
  void zero(const Tensor& x) override;
  void swiglu_oai(const Tensor& gate, const Tensor& up, double limit) override;
  void gather_rows(const Tensor& x, const int* rows, int n, int dim, const Tensor& out) override;
  void scatter_add_rows(const Tensor& x, const int* rows, const float* weights, int n, int dim, const Tensor& y) override;
  Status attention(KvCache& cache, const AttentionParams& p, const Tensor& q, const Tensor& k_new, const Tensor& v_new,
                   const Tensor& out, const AttentionObserver* observer, const std::atomic<bool>* cancel) override;
  void nll(const Tensor& logits, int rows, int vocab, const int* targets, double* nll, int* rank) override;

 private:
  // The device copy of a host weight vector / matrix (upload()); null (and a pending
  // error) when the engine passes one that was never uploaded.
  const float* dev_vec(const float* host);
  const DeviceMatrix* dev_mat(const Matrix& m);
  // Scratch of at least `bytes`, reused across calls (slot: which buffer).
  void* scratch(int slot, size_t bytes);
  void fail(Status st);  // keeps the first error for sync()
  // View `t` as fp32 device memory of at least `need` elements; null (and an error
  // for sync) when it holds another dtype or fewer elements.
  float* f32(const Tensor& t, size_t need, const char* op);
  // With LONGSCOPE_CUDA_POISON set (the device checks), new device memory is filled
  // with NaN, so a kernel that reads what nobody wrote shows in every result.
  void poison(void* p, size_t bytes);
  // x ← op(x, y) element-wise (cuda_backend.cu: pointwise_kernel's op codes).
  void pointwise(float* x, const float* y, size_t n, int op, double a);
  Status check_launch(const char* what);

 public:
  // Tests: run every head size on the warp kernel, to compare it with the flash kernel.
  void use_warp_attention(bool on) { warp_attention_ = on; }

 private:
  bool warp_attention_ = false;
  bool poison_ = false;

  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::map<const void*, float*> vecs_;
  std::map<const void*, DeviceMatrix> mats_;
  std::vector<void*> weight_memory_;
  static constexpr int kScratchSlots = 9;
  void* scratch_[kScratchSlots] = {};
  size_t scratch_bytes_[kScratchSlots] = {};
  Status pending_ = Status::Ok();
};

// Scratch slots (CudaBackend::scratch).
enum ScratchSlot : int {
  kScratchGemmIn = 0,  // a GEMM's input converted to the weight's dtype
  kScratchTokens,      // token ids / targets
  kScratchNll,         // NLL and rank results
  kScratchQNear,       // query operands, near band
  kScratchQFar,        // query operands, far band
  kScratchKNear,       // key operands, near band (fp32)
  kScratchKFar,        // key operands, far band (fp32)
  kScratchLse,         // per (query, head) log-sum-exp; the probe's rows share slot kScratchGemmIn
  kScratchRoute,       // mixture of experts: row indices and weights of one expert's tokens
};

// Operands of the band algebra (cuda_operands.cu), launched on `stream`. Each launch
// takes one argument block (passed to its kernel by value).

// The rotation every operand kernel applies: head geometry, pair layout, θ'_i on the
// device and YaRN's attention factor.
struct OperandRotation {
  int head_dim = 0, rot_dim = 0;
  PairLayout layout = PairLayout::Interleaved;
  const double* inv_freq = nullptr;  // device, rot_dim / 2
  double attention_factor = 1.0;
};
// Appends rows [p0, p0+n_new) of K and V in 16 bits (dtype), keys rotated at their position when `rotate`.
struct AppendKvArgs {
  const float *k_new = nullptr, *v_new = nullptr;  // (n_new, kv_dim)
  int n_new = 0, p0 = 0, kv_dim = 0;
  OperandRotation rot;
  bool rotate = false;
  uint16_t *k = nullptr, *v = nullptr;  // the layer's cache
  DType dtype = DType::BF16;
};
// Key operands of keys [0, n) (mode: gpu/band_operands.h KeyOperand), fp32 or, when out16, bf16.
struct KeyOperandArgs {
  const uint16_t* k = nullptr;  // the layer's key cache
  DType dtype = DType::BF16;
  int n = 0, kv_dim = 0;
  OperandRotation rot;
  int mode = 0;
  MethodParams bands;
  void* out = nullptr;
  bool out16 = false;
};
// Query operands (n_new, q_dim): R(pos)q · scale · log-n, pos = m (near) or far_query_pos(m) (far); fp32 or bf16.
struct QueryOperandArgs {
  const float* q = nullptr;
  int n_new = 0, p0 = 0, q_dim = 0;
  OperandRotation rot;
  bool rope = true, far = false;
  MethodParams bands;
  double scale = 1.0, train_len = 0;
  void* out = nullptr;
  bool out16 = false;
};
void launch_append_kv(const AppendKvArgs& a, cudaStream_t stream);
void launch_key_operands(const KeyOperandArgs& a, cudaStream_t stream);
void launch_query_operands(const QueryOperandArgs& a, cudaStream_t stream);

// One attention call's arguments on the device, for the flash kernel (cuda_flash.cu)
// and the warp kernel and probe (cuda_attention.cu): the band operands of each band
// (fp32 for the warp kernel, bf16 when op16 for the flash kernel; qf, kf null
// without a far band), the cache's values (dtype vdtype), the ALiBi slopes, and the
// outputs: out (n_new, q_dim) fp32, lse (n_new, n_heads) or null.
struct AttnArgs {
  FlashShape s;
  const float* slopes;  // device, null: no ALiBi
  const float* sinks;   // device (n_heads) sink logits (gpt-oss), null: none
  const void *qn, *qf, *kn, *kf;
  int op16;
  const uint16_t* v;
  DType vdtype;
  float* out;
  float* lse;
};
// Whether the flash kernel runs this head size on a cache of this dtype (64 and 128 dims, bf16).
bool flash_supported(int head_dim, DType cache_dtype);
cudaError_t launch_flash(const AttnArgs& a, cudaStream_t stream);  // bf16 operands and cache

}  // namespace ls::gpu
