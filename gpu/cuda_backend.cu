// The CUDA backend: device memory, the weights' upload, cuBLAS GEMMs and the
// element-wise kernels (embed, norms, activations, NLL). Attention and the KV
// cache are in cuda_attention.cu.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/backends/backends.h"
#include "core/engine/engine.h"
#include "core/model/dtype.h"
#include "core/model/weight_builder.h"
#include "gpu/cuda_backend.h"
#include "gpu/cuda_backend_impl.h"

namespace ls::gpu {
namespace {


// Sum of `v` over the block (blockDim.x a multiple of 32, at most 1024).
__device__ float block_sum(float v) {
  __shared__ float part[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  float s = 0.0f;
  for (int w = 0; w < (int)(blockDim.x / 32); ++w) s += part[w];
  return s;
}

__device__ float block_max(float v) {
  __shared__ float part[32];
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < (int)(blockDim.x / 32); ++w) m = fmaxf(m, part[w]);
  return m;
}

__global__ void embed_kernel(const int* tokens, int n, const void* table, DType dtype, int dim, float* out) {
  const size_t total = (size_t)n * dim;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const size_t r = i / dim, c = i % dim;
    out[i] = load16(table, dtype, (size_t)tokens[r] * dim + c);
  }
}

// One block per row; y may be x. layer: LayerNorm (mean removed, bias b optional), else RMSNorm.
__global__ void norm_kernel(const float* x, const float* w, const float* b, int dim, float eps, bool layer, float* y) {
  const float* xr = x + (size_t)blockIdx.x * dim;
  float* yr = y + (size_t)blockIdx.x * dim;
  float mean = 0.0f;
  if (layer) {
    float s = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
    mean = block_sum(s) / dim;
  }
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += (xr[i] - mean) * (xr[i] - mean);
  const float inv = rsqrtf(block_sum(ss) / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = (xr[i] - mean) * inv * w[i] + (b ? b[i] : 0.0f);
}

__global__ void to_16bit_kernel(const float* x, size_t n, DType dtype, void* y) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    if (dtype == DType::BF16) static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16(x[i]);
    else static_cast<__half*>(y)[i] = __float2half(x[i]);
  }
}

__global__ void bias_kernel(float* y, const float* b, int rows, int out) {
  const size_t total = (size_t)rows * out;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
    y[i] += b[i % out];
}

__device__ float gelu_tanh(float x) { return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); }

// op: 0 swiglu (gate ← silu(gate)·up), 1 geglu, 2 gelu exact, 3 gelu tanh, 4 scale, 5 softcap, 6 add (gate ← gate + up).
__global__ void pointwise_kernel(float* x, const float* y, size_t n, int op, float a) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    switch (op) {
      case 0: x[i] = v / (1.0f + expf(-v)) * y[i]; break;
      case 1: x[i] = gelu_tanh(v) * y[i]; break;
      case 2: x[i] = 0.5f * v * erfcf(-v * 0.70710678118654752f); break;
      case 3: x[i] = gelu_tanh(v); break;
      case 4: x[i] = v * a; break;
      case 5: x[i] = a * tanhf(v / a); break;
      case 7: {  // gpt-oss's clamped SwiGLU
        const float g = fminf(v, a), u = fminf(fmaxf(y[i], -a), a);
        x[i] = (u + 1.0f) * g / (1.0f + expf(-1.702f * g));
        break;
      }
      default: x[i] = v + y[i]; break;
    }
  }
}

// Mixture of experts: one thread per (row, element).
__global__ void gather_rows_kernel(const float* x, const int* rows, int n, int dim, float* out) {
  const size_t total = (size_t)n * dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
    out[e] = x[(size_t)rows[e / dim] * dim + e % dim];
}

// y[rows[i]] += w[i]·x[i]: an expert's rows are distinct tokens, so no two threads
// of one launch write the same element.
__global__ void scatter_add_rows_kernel(const float* x, const int* rows, const float* w, int n, int dim, float* y) {
  const size_t total = (size_t)n * dim;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const size_t i = e / dim;
    y[(size_t)rows[i] * dim + e % dim] += w[i] * x[e];
  }
}

__global__ void nll_kernel(const float* logits, int vocab, const int* targets, double* nll, int* rank) {
  const float* l = logits + (size_t)blockIdx.x * vocab;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) mx = fmaxf(mx, l[i]);
  mx = block_max(mx);
  const float t = l[targets[blockIdx.x]];
  float s = 0.0f, above = 0.0f;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    s += expf(l[i] - mx);
    above += l[i] > t ? 1.0f : 0.0f;
  }
  s = block_sum(s);
  above = block_sum(above);
  if (threadIdx.x == 0) {
    nll[blockIdx.x] = (double)mx + log((double)s) - (double)t;
    rank[blockIdx.x] = (int)above;
  }
}

}  // namespace

CudaBackend::CudaBackend() = default;

CudaBackend::~CudaBackend() {
  for (void* p : weight_memory_) cudaFree(p);
  for (void* p : scratch_) cudaFree(p);
  if (blas_) cublasDestroy(blas_);
  if (stream_) cudaStreamDestroy(stream_);
}

Status CudaBackend::init() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) return make_error("no CUDA device is present");
  LS_CUDA_TRY(cudaSetDevice(0));
  LS_CUDA_TRY(cudaStreamCreate(&stream_));
  if (cublasCreate(&blas_) != CUBLAS_STATUS_SUCCESS) return make_error("cuBLAS could not be initialised");
  if (cublasSetStream(blas_, stream_) != CUBLAS_STATUS_SUCCESS) return make_error("cuBLAS could not use the stream");
  const char* poison = std::getenv("LONGSCOPE_CUDA_POISON");
  poison_ = poison && *poison && std::string(poison) != "0";
  return Status::Ok();
}

void CudaBackend::poison(void* p, size_t bytes) {
  if (poison_ && p) cudaMemsetAsync(p, 0xFF, bytes, stream_);  // all-ones: NaN in fp32, bf16 and fp16
}

void CudaBackend::fail(Status st) {
  if (pending_ && !st) pending_ = std::move(st);
}

Status CudaBackend::check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(make_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e)));
  return pending_;
}

size_t CudaBackend::memory_available() const {
  size_t free_b = 0, total = 0;
  return cudaMemGetInfo(&free_b, &total) == cudaSuccess ? free_b : 0;
}

// Every weight weight_views lists, once (a tied classifier is the embedding's view):
// matrices in 16 bits, norm weights and biases in fp32, keyed by their host address.
Status CudaBackend::upload(const Model& model) {
  const std::vector<WeightView> views = weight_views(model);
  size_t need = 0;  // 2 bytes an element (matrices in 16 bits; the fp32 vectors are a rounding error)
  for (const WeightView& v : views) need += v.count * 2;
  if (size_t avail = memory_available(); need > avail)
    return make_error("the model's weights need " + std::to_string(need >> 20) + " MiB on the device; " +
                      std::to_string(avail >> 20) + " MiB are free");
  for (const WeightView& v : views) {
    if (mats_.count(v.data) || vecs_.count(v.data)) continue;
    const size_t bytes = v.count * (v.matrix ? 2 : 4);
    std::vector<uint16_t> half;
    const void* src = v.data;
    if (v.matrix && v.dtype == DType::F32) {  // fp32 matrices go up as bf16
      half.resize(v.count);
      const float* f = static_cast<const float*>(v.data);
      for (size_t i = 0; i < v.count; ++i) half[i] = float_to_bf16(f[i]);
      src = half.data();
    } else if (v.matrix && dtype_quantized(v.dtype)) {  // block types: widened on the host, up as bf16
      half.resize(v.count);
      std::vector<float> f(std::min<size_t>(v.count, size_t{1} << 20));  // whole blocks (2^20 is a multiple of 256)
      for (size_t b = 0; b < v.count; b += f.size()) {
        const size_t n = std::min(f.size(), v.count - b);
        dequantize(v.dtype, static_cast<const uint8_t*>(v.data) + dtype_bytes(v.dtype, b), n, f.data());
        for (size_t i = 0; i < n; ++i) half[b + i] = float_to_bf16(f[i]);
      }
      src = half.data();
    }
    void* dev = nullptr;
    LS_CUDA_TRY(cudaMalloc(&dev, bytes));
    weight_memory_.push_back(dev);
    LS_CUDA_TRY(cudaMemcpy(dev, src, bytes, cudaMemcpyHostToDevice));
    if (v.matrix) mats_[v.data] = DeviceMatrix{dev, v.dtype == DType::F16 ? DType::F16 : DType::BF16};
    else vecs_[v.data] = static_cast<float*>(dev);
  }
  return Status::Ok();
}

const float* CudaBackend::dev_vec(const float* host) {
  if (!host) return nullptr;
  auto it = vecs_.find(host);
  if (it == vecs_.end()) {
    fail(make_error("CUDA backend: a weight vector that was never uploaded"));
    return nullptr;
  }
  return it->second;
}

const DeviceMatrix* CudaBackend::dev_mat(const Matrix& m) {
  auto it = mats_.find(m.data);
  if (it == mats_.end()) {
    fail(make_error("CUDA backend: a weight matrix that was never uploaded"));
    return nullptr;
  }
  return &it->second;
}

void* CudaBackend::scratch(int slot, size_t bytes) {
  if (bytes <= scratch_bytes_[slot]) return scratch_[slot];
  cudaFree(scratch_[slot]);
  scratch_[slot] = nullptr;
  scratch_bytes_[slot] = 0;
  if (cudaMalloc(&scratch_[slot], bytes) != cudaSuccess) {
    fail(make_error("CUDA backend: out of device memory for " + std::to_string(bytes >> 20) + " MiB of work space"));
    return nullptr;
  }
  scratch_bytes_[slot] = bytes;
  poison(scratch_[slot], bytes);
  return scratch_[slot];
}

Tensor CudaBackend::alloc(DType dtype, size_t count) {
  if (!supports(dtype)) {
    fail(make_error(std::string("CUDA backend: ") + dtype_name(dtype) + " activations are not supported (F32 only)"));
    return Tensor{nullptr, dtype, 0};
  }
  const size_t bytes = dtype_bytes(dtype, std::max<size_t>(count, 1));
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    fail(make_error("CUDA backend: out of device memory for " + std::to_string(bytes >> 20) + " MiB"));
    return Tensor{nullptr, dtype, 0};
  }
  poison(p, bytes);
  return Tensor{p, dtype, count};
}

void CudaBackend::release(const Tensor& t) { cudaFree(t.data); }

float* CudaBackend::f32(const Tensor& t, size_t need, const char* op) {
  float* p = typed<float>(t, need);
  if (!p)
    fail(make_error(std::string("CUDA backend: ") + op + " was handed " +
                    (t.dtype != DType::F32 ? std::string(dtype_name(t.dtype)) + " activations (it runs F32)"
                                           : "a view of " + std::to_string(t.count) + " elements where it needs " +
                                                 std::to_string(need))));
  return p;
}

void CudaBackend::to_host(const Tensor& src, void* dst) {
  if (!src.data) return;
  if (cudaMemcpyAsync(dst, src.data, src.bytes(), cudaMemcpyDeviceToHost, stream_) != cudaSuccess ||
      cudaStreamSynchronize(stream_) != cudaSuccess)
    fail(make_error("CUDA backend: copy to the host failed"));
}

void CudaBackend::from_host(const void* src, const Tensor& dst) {
  if (!dst.data) return;
  if (cudaMemcpyAsync(dst.data, src, dst.bytes(), cudaMemcpyHostToDevice, stream_) != cudaSuccess ||
      cudaStreamSynchronize(stream_) != cudaSuccess)
    fail(make_error("CUDA backend: copy to the device failed"));
}

Status CudaBackend::sync() {
  cudaError_t e = cudaStreamSynchronize(stream_);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e != cudaSuccess) fail(make_error(std::string("CUDA: ") + cudaGetErrorString(e)));
  return pending_;
}

void CudaBackend::embed(const int* tokens, int n, const Matrix& table, int dim, const Tensor& out_t) {
  float* out = f32(out_t, (size_t)n * dim, "embed");
  const DeviceMatrix* t = dev_mat(table);
  int* dtok = static_cast<int*>(scratch(kScratchTokens, (size_t)n * sizeof(int)));
  if (!t || !dtok || !out) return;
  cudaMemcpyAsync(dtok, tokens, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, stream_);
  embed_kernel<<<blocks_for((size_t)n * dim), kThreads, 0, stream_>>>(dtok, n, t->data, t->dtype, dim, out);
  check_launch("embed");
}

void CudaBackend::rmsnorm(const Tensor& xt, const float* w, int rows, int dim, double eps, const Tensor& yt) {
  const float* x = f32(xt, (size_t)rows * dim, "rmsnorm");
  float* y = f32(yt, (size_t)rows * dim, "rmsnorm");
  const float* dw = dev_vec(w);
  if (!dw || !x || !y) return;
  norm_kernel<<<rows, kThreads, 0, stream_>>>(x, dw, nullptr, dim, (float)eps, false, y);
  check_launch("rmsnorm");
}

void CudaBackend::layernorm(const Tensor& xt, const float* w, const float* b, int rows, int dim, double eps,
                            const Tensor& yt) {
  const float* x = f32(xt, (size_t)rows * dim, "layernorm");
  float* y = f32(yt, (size_t)rows * dim, "layernorm");
  const float* dw = dev_vec(w);
  if (!dw || !x || !y) return;
  norm_kernel<<<rows, kThreads, 0, stream_>>>(x, dw, b ? dev_vec(b) : nullptr, dim, (float)eps, true, y);
  check_launch("layernorm");
}

// y (rows, out) = x (rows, in) · Wᵀ: column-major C (out, rows) = op(A = W as (in, out))ᵀ · B (in, rows).
void CudaBackend::matmul(const Tensor& xt, int rows, int in, const Matrix& W, const float* b, int out, const Tensor& yt) {
  const float* x = f32(xt, (size_t)rows * in, "matmul");
  float* y = f32(yt, (size_t)rows * out, "matmul");
  const DeviceMatrix* w = dev_mat(W);
  void* xin = scratch(kScratchGemmIn, (size_t)rows * in * 2);
  if (!w || !xin || !x || !y) return;
  to_16bit_kernel<<<blocks_for((size_t)rows * in), kThreads, 0, stream_>>>(x, (size_t)rows * in, w->dtype, xin);
  const cudaDataType t = w->dtype == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
  const float one = 1.0f, zero = 0.0f;
  if (cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, w->data, t, in, xin, t, in, &zero, y, CUDA_R_32F,
                   out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
    fail(make_error("cuBLAS GEMM failed (" + std::to_string(rows) + "×" + std::to_string(in) + " by " +
                    std::to_string(out) + ")"));
  if (b) {
    const float* db = dev_vec(b);
    if (db) bias_kernel<<<blocks_for((size_t)rows * out), kThreads, 0, stream_>>>(y, db, rows, out);
  }
  check_launch("matmul");
}

void CudaBackend::pointwise(float* x, const float* y, size_t n, int op, double a) {
  if (!x) return;
  pointwise_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(x, y, n, op, (float)a);
  check_launch("element-wise op");
}

void CudaBackend::swiglu(const Tensor& gate, const Tensor& up) {
  const float* u = f32(up, gate.count, "swiglu");
  if (u) pointwise(f32(gate, gate.count, "swiglu"), u, gate.count, 0, 0);
}
void CudaBackend::geglu(const Tensor& gate, const Tensor& up) {
  const float* u = f32(up, gate.count, "geglu");
  if (u) pointwise(f32(gate, gate.count, "geglu"), u, gate.count, 1, 0);
}
void CudaBackend::gelu(const Tensor& x, bool exact) { pointwise(f32(x, x.count, "gelu"), nullptr, x.count, exact ? 2 : 3, 0); }
void CudaBackend::scale(const Tensor& x, double s) { pointwise(f32(x, x.count, "scale"), nullptr, x.count, 4, s); }
void CudaBackend::softcap(const Tensor& x, double cap) { pointwise(f32(x, x.count, "softcap"), nullptr, x.count, 5, cap); }
void CudaBackend::swiglu_oai(const Tensor& gate, const Tensor& up, double limit) {
  const float* u = f32(up, gate.count, "swiglu_oai");
  if (u) pointwise(f32(gate, gate.count, "swiglu_oai"), u, gate.count, 7, limit);
}
void CudaBackend::add(const Tensor& x, const Tensor& y) {
  const float* yp = f32(y, x.count, "add");
  if (yp) pointwise(f32(x, x.count, "add"), yp, x.count, 6, 0);
}

void CudaBackend::zero(const Tensor& x) {
  if (x.data && cudaMemsetAsync(x.data, 0, x.bytes(), stream_) != cudaSuccess) fail(make_error("CUDA backend: zero failed"));
}

void CudaBackend::gather_rows(const Tensor& x_t, const int* rows, int n, int dim, const Tensor& out_t) {
  const float* x = f32(x_t, x_t.count, "gather_rows");
  float* out = f32(out_t, (size_t)n * dim, "gather_rows");
  int* drows = static_cast<int*>(scratch(kScratchRoute, (size_t)n * sizeof(int)));
  if (!x || !out || !drows || n < 1) return;
  cudaMemcpyAsync(drows, rows, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, stream_);
  gather_rows_kernel<<<blocks_for((size_t)n * dim), kThreads, 0, stream_>>>(x, drows, n, dim, out);
  check_launch("gather_rows");
}

void CudaBackend::scatter_add_rows(const Tensor& x_t, const int* rows, const float* weights, int n, int dim,
                                   const Tensor& y_t) {
  const float* x = f32(x_t, (size_t)n * dim, "scatter_add_rows");
  float* y = f32(y_t, y_t.count, "scatter_add_rows");
  char* buf = static_cast<char*>(scratch(kScratchRoute, (size_t)n * (sizeof(int) + sizeof(float))));
  if (!x || !y || !buf || n < 1) return;
  int* drows = reinterpret_cast<int*>(buf);
  float* dw = reinterpret_cast<float*>(buf + (size_t)n * sizeof(int));
  cudaMemcpyAsync(drows, rows, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, stream_);
  cudaMemcpyAsync(dw, weights, (size_t)n * sizeof(float), cudaMemcpyHostToDevice, stream_);
  scatter_add_rows_kernel<<<blocks_for((size_t)n * dim), kThreads, 0, stream_>>>(x, drows, dw, n, dim, y);
  check_launch("scatter_add_rows");
}

void CudaBackend::nll(const Tensor& logits_t, int rows, int vocab, const int* targets, double* out, int* rank) {
  const float* logits = f32(logits_t, (size_t)rows * vocab, "nll");
  int* dt = static_cast<int*>(scratch(kScratchTokens, (size_t)rows * sizeof(int)));
  char* res = static_cast<char*>(scratch(kScratchNll, (size_t)rows * (sizeof(double) + sizeof(int))));
  if (!dt || !res || !logits) return;
  double* dn = reinterpret_cast<double*>(res);
  int* dr = reinterpret_cast<int*>(res + (size_t)rows * sizeof(double));
  cudaMemcpyAsync(dt, targets, (size_t)rows * sizeof(int), cudaMemcpyHostToDevice, stream_);
  nll_kernel<<<rows, kThreads, 0, stream_>>>(logits, vocab, dt, dn, dr);
  if (!check_launch("nll")) return;
  std::vector<int> ranks(rows);
  cudaMemcpyAsync(out, dn, (size_t)rows * sizeof(double), cudaMemcpyDeviceToHost, stream_);
  cudaMemcpyAsync(ranks.data(), dr, (size_t)rows * sizeof(int), cudaMemcpyDeviceToHost, stream_);
  if (cudaStreamSynchronize(stream_) != cudaSuccess) fail(make_error("CUDA backend: NLL copy failed"));
  if (rank) std::memcpy(rank, ranks.data(), (size_t)rows * sizeof(int));
}

Result<std::unique_ptr<Backend>> make_cuda_backend() {
  auto b = std::make_unique<CudaBackend>();
  if (auto st = b->init(); !st) return make_error(st.error());
  return std::unique_ptr<Backend>(std::move(b));
}

void register_cuda_backend() { register_device_backend("cuda", &make_cuda_backend); }

}  // namespace ls::gpu
