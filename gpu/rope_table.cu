// Rotary tables built on the device from the shared position header.
#include "gpu/rope_table.h"

#include <memory>

#include "gpu/cuda_check.h"

namespace ls::gpu {
namespace {

__global__ void rope_inv_freq_kernel(MethodParams p, PositionContext g, double* out) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < g.rot_dim / 2) out[i] = rope_inv_freq(p, g, i);
}

__global__ void rope_cos_sin_kernel(MethodParams p, PositionContext g, int n_pos, float* cos_out, float* sin_out) {
  const int half = g.rot_dim / 2;
  long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long long)n_pos * half) return;
  int pos = (int)(idx / half), i = (int)(idx % half);
  double angle = (double)pos * rope_inv_freq(p, g, i);  // double product, then fp32 result
  double af = rope_attention_factor(p, g);
  cos_out[idx] = (float)(cos(angle) * af);
  sin_out[idx] = (float)(sin(angle) * af);
}

struct DeviceFree {
  void operator()(void* ptr) const { cudaFree(ptr); }
};

}  // namespace

bool device_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

Result<std::vector<double>> device_rope_inv_freq(const MethodParams& p, const PositionContext& g) {
  const int half = g.rot_dim / 2;
  double* raw = nullptr;
  LS_CUDA_TRY(cudaMalloc(&raw, sizeof(double) * half));
  std::unique_ptr<double, DeviceFree> buf(raw);
  rope_inv_freq_kernel<<<(half + 127) / 128, 128>>>(p, g, buf.get());
  LS_CUDA_TRY(cudaGetLastError());
  std::vector<double> out(half);
  LS_CUDA_TRY(cudaMemcpy(out.data(), buf.get(), sizeof(double) * half, cudaMemcpyDeviceToHost));
  return out;
}

Result<DeviceRopeCosSin> device_rope_cos_sin(const MethodParams& p, const PositionContext& g, int n_pos) {
  const long long count = (long long)n_pos * (g.rot_dim / 2);
  float *c = nullptr, *s = nullptr;
  LS_CUDA_TRY(cudaMalloc(&c, sizeof(float) * count));
  std::unique_ptr<float, DeviceFree> cbuf(c);
  LS_CUDA_TRY(cudaMalloc(&s, sizeof(float) * count));
  std::unique_ptr<float, DeviceFree> sbuf(s);
  rope_cos_sin_kernel<<<(unsigned)((count + 255) / 256), 256>>>(p, g, n_pos, c, s);
  LS_CUDA_TRY(cudaGetLastError());
  DeviceRopeCosSin out;
  out.cos.resize(count);
  out.sin.resize(count);
  LS_CUDA_TRY(cudaMemcpy(out.cos.data(), c, sizeof(float) * count, cudaMemcpyDeviceToHost));
  LS_CUDA_TRY(cudaMemcpy(out.sin.data(), s, sizeof(float) * count, cudaMemcpyDeviceToHost));
  return out;
}

}  // namespace ls::gpu
