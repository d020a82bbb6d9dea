// Operands of the band algebra for the CUDA attention (cuda_attention.cu): the
// cache append (keys rotated at their position when the cache keeps them so), the
// key operands of each band and the query operands, with angles formed from a
// double product pos·θ'_i (docs/methods.md §7) and positions from core/position.
// (Double-precision cos/sin keep a small stack for large arguments, so these
// kernels live apart from the attention kernels, which must use no local memory.)
#include <algorithm>
#include <cmath>

#include "gpu/band_operands.h"
#include "gpu/cuda_backend_impl.h"

namespace ls::gpu {
namespace {

__device__ inline void store16(void* p, DType dtype, size_t i, float v) {
  if (dtype == DType::BF16) static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v);
  else static_cast<__half*>(p)[i] = __float2half(v);
}

// An operand element: fp32 (the warp kernel's operands) or bf16 (the flash kernel's).
__device__ inline void store_operand(void* p, int out16, size_t i, float v) {
  if (out16) store16(p, DType::BF16, i, v);
  else static_cast<float*>(p)[i] = v;
}

// One thread per (new token, kv element).
__global__ void append_kv_kernel(const float* k_new, const float* v_new, int n_new, int p0, int kv_dim, int hd, int rd,
                                 int layout, int rotate, const double* inv_freq, double af, uint16_t* K, uint16_t* V,
                                 DType dtype) {
  const size_t total = (size_t)n_new * kv_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(e / kv_dim), c = (int)(e % kv_dim), i = c % hd;
    const float* head = k_new + (size_t)t * kv_dim + (c - i);
    const float kval = rotate ? band_rotated([head](int k) { return head[k]; }, i, rd, (PairLayout)layout, (double)(p0 + t),
                                             inv_freq, af)
                              : head[i];
    const size_t at = (size_t)(p0 + t) * kv_dim + c;
    store16(K, dtype, at, kval);
    store16(V, dtype, at, v_new[e]);
  }
}

// Key operands of keys [0, n) (band_key_operand's mode), fp32 or bf16 (out16).
__global__ void key_operands_kernel(const uint16_t* K, DType dtype, int n, int kv_dim, int hd, int rd, int layout, int mode,
                                    const double* inv_freq, double af, MethodParams bands, void* out, int out16) {
  const size_t total = (size_t)n * kv_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int j = (int)(e / kv_dim), c = (int)(e % kv_dim), i = c % hd;
    const size_t row = (size_t)j * kv_dim + (c - i);
    store_operand(out, out16, e,
                  band_key_operand([=](int k) { return load16(K, dtype, row + k); }, i, j, rd, (PairLayout)layout, mode,
                                   inv_freq, af, bands));
  }
}

// Query operands (n_new, q_dim), fp32 or bf16 (out16): band_query_operand.
__global__ void query_operands_kernel(const float* q, int n_new, int p0, int q_dim, int hd, int rd, int layout, int rope,
                                      int far, const double* inv_freq, double af, MethodParams bands, double scale,
                                      double train_len, void* out, int out16) {
  const size_t total = (size_t)n_new * q_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(e / q_dim), c = (int)(e % q_dim), i = c % hd;
    const float* head = q + (size_t)t * q_dim + (c - i);
    store_operand(out, out16, e,
                  band_query_operand([head](int k) { return head[k]; }, i, p0 + t, rd, (PairLayout)layout, rope, far,
                                     inv_freq, af, bands, scale, train_len));
  }
}

}  // namespace

void launch_append_kv(cudaStream_t stream, const float* k_new, const float* v_new, int n_new, int p0, int kv_dim, int hd,
                      int rd, int layout, int rotate, const double* inv_freq, double af, uint16_t* K, uint16_t* V,
                      DType dtype) {
  append_kv_kernel<<<blocks_for((size_t)n_new * kv_dim), kThreads, 0, stream>>>(k_new, v_new, n_new, p0, kv_dim, hd, rd,
                                                                                layout, rotate, inv_freq, af, K, V, dtype);
}

void launch_key_operands(cudaStream_t stream, const uint16_t* K, DType dtype, int n, int kv_dim, int hd, int rd, int layout,
                         int mode, const double* inv_freq, double af, const MethodParams& bands, void* out, int out16) {
  key_operands_kernel<<<blocks_for((size_t)n * kv_dim), kThreads, 0, stream>>>(K, dtype, n, kv_dim, hd, rd, layout, mode,
                                                                             inv_freq, af, bands, out, out16);
}

void launch_query_operands(cudaStream_t stream, const float* q, int n_new, int p0, int q_dim, int hd, int rd, int layout,
                           int rope, int far, const double* inv_freq, double af, const MethodParams& bands, double scale,
                           double train_len, void* out, int out16) {
  query_operands_kernel<<<blocks_for((size_t)n_new * q_dim), kThreads, 0, stream>>>(
      q, n_new, p0, q_dim, hd, rd, layout, rope, far, inv_freq, af, bands, scale, train_len, out, out16);
}

}  // namespace ls::gpu
