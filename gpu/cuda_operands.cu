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
__device__ inline void store_operand(void* p, bool out16, size_t i, float v) {
  if (out16) store16(p, DType::BF16, i, v);
  else static_cast<float*>(p)[i] = v;
}

// One thread per (new token, kv element).
__global__ void append_kv_kernel(AppendKvArgs a) {
  const OperandRotation& r = a.rot;
  const size_t total = (size_t)a.n_new * a.kv_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(e / a.kv_dim), c = (int)(e % a.kv_dim), i = c % r.head_dim;
    const float* head = a.k_new + (size_t)t * a.kv_dim + (c - i);
    const float kval = a.rotate ? band_rotated([head](int k) { return head[k]; }, i, r.rot_dim, r.layout,
                                               (double)(a.p0 + t), r.inv_freq, r.attention_factor)
                                : head[i];
    const size_t at = (size_t)(a.p0 + t) * a.kv_dim + c;
    store16(a.k, a.dtype, at, kval);
    store16(a.v, a.dtype, at, a.v_new[e]);
  }
}

// Key operands of keys [0, n) (band_key_operand's mode), fp32 or bf16 (out16).
__global__ void key_operands_kernel(KeyOperandArgs a) {
  const OperandRotation& r = a.rot;
  const size_t total = (size_t)a.n * a.kv_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int j = (int)(e / a.kv_dim), c = (int)(e % a.kv_dim), i = c % r.head_dim;
    const size_t row = (size_t)j * a.kv_dim + (c - i);
    const uint16_t* K = a.k;
    const DType dtype = a.dtype;
    store_operand(a.out, a.out16, e,
                  band_key_operand([=](int k) { return load16(K, dtype, row + k); }, i, j, r.rot_dim, r.layout, a.mode,
                                   r.inv_freq, r.attention_factor, a.bands));
  }
}

// Query operands (n_new, q_dim), fp32 or bf16 (out16): band_query_operand.
__global__ void query_operands_kernel(QueryOperandArgs a) {
  const OperandRotation& r = a.rot;
  const size_t total = (size_t)a.n_new * a.q_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(e / a.q_dim), c = (int)(e % a.q_dim), i = c % r.head_dim;
    const float* head = a.q + (size_t)t * a.q_dim + (c - i);
    store_operand(a.out, a.out16, e,
                  band_query_operand([head](int k) { return head[k]; }, i, a.p0 + t, r.rot_dim, r.layout, a.rope, a.far,
                                     r.inv_freq, r.attention_factor, a.bands, a.scale, a.train_len));
  }
}

}  // namespace

void launch_append_kv(const AppendKvArgs& a, cudaStream_t stream) {
  append_kv_kernel<<<blocks_for((size_t)a.n_new * a.kv_dim), kThreads, 0, stream>>>(a);
}

void launch_key_operands(const KeyOperandArgs& a, cudaStream_t stream) {
  key_operands_kernel<<<blocks_for((size_t)a.n * a.kv_dim), kThreads, 0, stream>>>(a);
}

void launch_query_operands(const QueryOperandArgs& a, cudaStream_t stream) {
  query_operands_kernel<<<blocks_for((size_t)a.n_new * a.q_dim), kThreads, 0, stream>>>(a);
}

}  // namespace ls::gpu
