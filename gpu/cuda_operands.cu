// Operands of the band algebra for the CUDA attention (cuda_attention.cu): the
// cache append (keys rotated at their position when the cache keeps them so), the
// key operands of each band and the query operands, with angles formed from a
// double product pos·θ'_i (METHODS.md §7) and positions from core/position.
// (Double-precision cos/sin keep a small stack for large arguments, so these
// kernels live apart from the attention kernels, which must use no local memory.)
#include <algorithm>
#include <cmath>

#include "core/cpu/rope_apply.h"
#include "gpu/cuda_backend_impl.h"

namespace ls::gpu {
namespace {

// Dimension i of R(pos)·x for one head (hd dims, the first rd rotary), times af on
// the rotary part; x(k) loads the head's dimension k as fp32.
template <typename Load>
__device__ inline float rotated(Load x, int i, int rd, int layout, double pos, const double* inv_freq, double af) {
  if (i >= rd) return x(i);
  bool first = false;
  const int ip = rope_pair_of((PairLayout)layout, rd, i, &first);
  int a, b;
  rope_pair_dims((PairLayout)layout, rd, ip, &a, &b);
  const double ang = pos * inv_freq[ip];
  const float c = (float)(cos(ang) * af), s = (float)(sin(ang) * af);
  return first ? x(a) * c - x(b) * s : x(a) * s + x(b) * c;
}

__device__ inline void store16(void* p, int dtype, size_t i, float v) {
  if (dtype == kBf16) static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v);
  else static_cast<__half*>(p)[i] = __float2half(v);
}

// One thread per (new token, kv element).
__global__ void append_kv_kernel(const float* k_new, const float* v_new, int n_new, int p0, int kv_dim, int hd, int rd,
                                 int layout, int rotate, const double* inv_freq, double af, uint16_t* K, uint16_t* V,
                                 int dtype) {
  const size_t total = (size_t)n_new * kv_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(e / kv_dim), c = (int)(e % kv_dim), i = c % hd;
    const float* head = k_new + (size_t)t * kv_dim + (c - i);
    const float kval =
        rotate ? rotated([head](int k) { return head[k]; }, i, rd, layout, (double)(p0 + t), inv_freq, af) : head[i];
    const size_t at = (size_t)(p0 + t) * kv_dim + c;
    store16(K, dtype, at, kval);
    store16(V, dtype, at, v_new[e]);
  }
}

// Key operands of keys [0, n) in fp32. mode 0: as cached; 1: R(j)k; 2: R(far_key_pos(j))k.
__global__ void key_operands_kernel(const uint16_t* K, int dtype, int n, int kv_dim, int hd, int rd, int layout, int mode,
                                    const double* inv_freq, double af, MethodParams bands, float* out) {
  const size_t total = (size_t)n * kv_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int j = (int)(e / kv_dim), c = (int)(e % kv_dim), i = c % hd;
    if (mode == 0 || i >= rd) {
      out[e] = load16(K, dtype, e);
      continue;
    }
    const size_t row = (size_t)j * kv_dim + (c - i);
    const double pos = mode == 1 ? (double)j : remap_far_key_pos(bands, (double)j);
    out[e] = rotated([=](int k) { return load16(K, dtype, row + k); }, i, rd, layout, pos, inv_freq, af);
  }
}

// Query operands (n_new, q_dim): R(pos)q · scale · log-n, pos = m (near) or far_query_pos(m) (far).
__global__ void query_operands_kernel(const float* q, int n_new, int p0, int q_dim, int hd, int rd, int layout, int rope,
                                      int far, const double* inv_freq, double af, MethodParams bands, double scale,
                                      double train_len, float* out) {
  const size_t total = (size_t)n_new * q_dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(e / q_dim), c = (int)(e % q_dim), i = c % hd, m = p0 + t;
    const float* head = q + (size_t)t * q_dim + (c - i);
    const double pos = far ? remap_far_query_pos(bands, (double)m) : (double)m;
    const float v = rope ? rotated([head](int k) { return head[k]; }, i, rd, layout, pos, inv_freq, af) : head[i];
    out[e] = (float)(v * scale * (bands.logn ? logn_scale((double)m, train_len) : 1.0));
  }
}

}  // namespace

void launch_append_kv(cudaStream_t stream, const float* k_new, const float* v_new, int n_new, int p0, int kv_dim, int hd,
                      int rd, int layout, int rotate, const double* inv_freq, double af, uint16_t* K, uint16_t* V,
                      int dtype) {
  append_kv_kernel<<<blocks_for((size_t)n_new * kv_dim), kThreads, 0, stream>>>(k_new, v_new, n_new, p0, kv_dim, hd, rd,
                                                                                layout, rotate, inv_freq, af, K, V, dtype);
}

void launch_key_operands(cudaStream_t stream, const uint16_t* K, int dtype, int n, int kv_dim, int hd, int rd, int layout,
                         int mode, const double* inv_freq, double af, const MethodParams& bands, float* out) {
  key_operands_kernel<<<blocks_for((size_t)n * kv_dim), kThreads, 0, stream>>>(K, dtype, n, kv_dim, hd, rd, layout, mode,
                                                                             inv_freq, af, bands, out);
}

void launch_query_operands(cudaStream_t stream, const float* q, int n_new, int p0, int q_dim, int hd, int rd, int layout,
                           int rope, int far, const double* inv_freq, double af, const MethodParams& bands, double scale,
                           double train_len, float* out) {
  query_operands_kernel<<<blocks_for((size_t)n_new * q_dim), kThreads, 0, stream>>>(
      q, n_new, p0, q_dim, hd, rd, layout, rope, far, inv_freq, af, bands, scale, train_len, out);
}

}  // namespace ls::gpu
