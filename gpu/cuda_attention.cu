// The CUDA backend's KV cache and attention for every method (cuda_backend.h);
// the operand kernels of steps (1) and (2) are in cuda_operands.cu.
//
// Per call: (1) the new keys and values are appended to the cache in 16 bits,
// keys rotated at their position when the cache keeps them rotated; (2) the key
// operands of each band are formed (bf16 for the flash kernel, fp32 for the warp
// kernel; near: R(j)k, or the cached rotated
// keys; far: R(far_key_pos(j))k for remapping methods), and the query operands
// (near: R(m)q, far: R(far_query_pos(m))q, times the softmax scale and log-n);
// (3) the flash kernel (cuda_flash.cu: tensor cores, tiles classified near / far /
// mixed) runs head sizes 64 and 128 on a bf16 cache from bf16 operands; any other
// head, or an fp16 cache, takes one warp per (query, head) over the visible key
// ranges the CPU row path walks (core/position/tiles.h), from fp32 operands.
// Either way every score is one plain dot product (docs/gpu.md, the band algebra).
// Angles are formed from a double product pos·θ'_i (docs/methods.md §7), as on the CPU.
#include <algorithm>
#include <cmath>

#include "gpu/band_operands.h"
#include "gpu/cuda_backend_impl.h"

namespace ls::gpu {
namespace {

// Element i of a band operand array, fp32 or bf16 (AttnArgs::op16).
__device__ inline float operand(const void* p, int op16, size_t i) {
  return op16 ? load16(p, DType::BF16, i) : static_cast<const float*>(p)[i];
}

// One warp per (query, head): lane l holds dims l, l+32, … (R of them) of the query
// and the output. The general path: any head size up to 256, fp16 caches (the flash
// kernel takes head sizes 64 and 128 on a bf16 cache).
template <int R>
__global__ void attention_kernel(AttnArgs a) {
  const FlashShape& s = a.s;
  const int t = blockIdx.x, h = blockIdx.y, lane = threadIdx.x, m = s.p0 + t, kh = h / s.group;
  const float* qn_all = static_cast<const float*>(a.qn);
  const float* qf_all = static_cast<const float*>(a.qf);
  float qn[R], qf[R], o[R];
  for (int r = 0; r < R; ++r) {
    const int i = lane + 32 * r;
    const size_t qi = (size_t)t * s.q_dim + (size_t)h * s.hd + i;
    qn[r] = i < s.hd ? qn_all[qi] : 0.0f;
    qf[r] = i < s.hd && qf_all ? qf_all[qi] : 0.0f;
    o[r] = 0.0f;
  }
  const float slope = a.slopes ? a.slopes[h] : 0.0f;
  const TileClass visible{kTileNear, 0};  // the ranges below hold visible keys only
  // A sink logit (gpt-oss): one more softmax term with no value (every lane holds the row's sum).
  float mx = a.sinks ? a.sinks[h] : -INFINITY, sum = a.sinks ? 1.0f : 0.0f;
  auto visit = [&](int j0, int j1, const void* keys_v, const float* qq) {
    const float* keys = static_cast<const float*>(keys_v);
    for (int j = j0; j < j1; ++j) {
      const float* k = keys + (size_t)j * s.kv_dim + (size_t)kh * s.hd;
      float d = 0.0f;
      for (int r = 0; r < R; ++r) {
        const int i = lane + 32 * r;
        if (i < s.hd) d += qq[r] * k[i];
      }
      for (int off = 16; off > 0; off >>= 1) d += __shfl_xor_sync(0xffffffffu, d, off);
      const float sc = flash_score(s, visible, d, slope, m, j);
      const float mnew = fmaxf(mx, sc);
      const float corr = flash_rescale(mx, mnew), p = flash_exp(sc, mnew);  // sc is finite: mnew is too
      sum = sum * corr + p;
      const size_t vrow = (size_t)j * s.kv_dim + (size_t)kh * s.hd;
      for (int r = 0; r < R; ++r) {
        const int i = lane + 32 * r;
        o[r] = o[r] * corr + (i < s.hd ? p * load16(a.v, a.vdtype, vrow + i) : 0.0f);
      }
      mx = mnew;
    }
  };
  const bool ranged = s.bands.remap || s.bands.sliding;
  const int near_from = ranged ? band_near_from(s.bands, m) : 0;
  const int sink_end = band_sink_end(s.bands, m);
  if (s.bands.remap) visit(0, near_from, a.kf, qf);
  visit(0, sink_end, a.kn, qn);
  visit(near_from, m + 1, a.kn, qn);
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  for (int r = 0; r < R; ++r) {
    const int i = lane + 32 * r;
    if (i < s.hd) a.out[(size_t)t * s.q_dim + (size_t)h * s.hd + i] = o[r] * inv;
  }
  if (a.lse && lane == 0) a.lse[(size_t)t * s.n_heads + h] = mx + logf(sum);
}

// Probabilities of head h for queries [t0, t0+rows) over keys [0, n): exp(s - lse), 0 where masked.
__global__ void probe_kernel(AttnArgs a, int h, int t0, int rows, int n, float* probs) {
  const FlashShape& s = a.s;
  const size_t total = (size_t)rows * n;
  const int kh = h / s.group;
  const TileClass any{kTileMixed, 1};  // each element: its band, its visibility
  const float slope = a.slopes ? a.slopes[h] : 0.0f;
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
    const int t = t0 + (int)(e / n), j = (int)(e % n), m = s.p0 + t;
    if (!band_visible(s.bands, m, j)) {
      probs[e] = 0.0f;
      continue;
    }
    const bool near = flash_uses_near(any, s.bands, m, j);
    const size_t qi = (size_t)t * s.q_dim + (size_t)h * s.hd, ki = (size_t)j * s.kv_dim + (size_t)kh * s.hd;
    float d = 0.0f;
    for (int i = 0; i < s.hd; ++i)
      d += operand(near ? a.qn : a.qf, a.op16, qi + i) * operand(near ? a.kn : a.kf, a.op16, ki + i);
    probs[e] = __expf(flash_score(s, any, d, slope, m, j) - a.lse[(size_t)t * s.n_heads + h]);
  }
}

}  // namespace

CudaKvCache::~CudaKvCache() {
  for (Layer& L : layers) {
    cudaFree(L.k);
    cudaFree(L.v);
  }
  for (Positions& p : pos) {
    cudaFree(p.inv_freq);
    cudaFree(p.slopes);
  }
}

size_t CudaBackend::kv_bytes_per_token(const KvSpec& spec) const { return 2 * (size_t)spec.n_layers * spec.kv_dim * 2; }

std::unique_ptr<KvCache> CudaBackend::make_cache(const KvSpec& spec) {
  auto c = std::make_unique<CudaKvCache>();
  c->spec = spec;
  c->dtype = spec.dtype == DType::F16 ? DType::F16 : DType::BF16;
  c->layers.resize(spec.n_layers);
  return c;
}

Status CudaBackend::reserve_kv(KvCache& cache, int tokens, int keep) {
  auto* c = dynamic_cast<CudaKvCache*>(&cache);
  if (!c) return make_error("reserve_kv: the KV cache was made by another backend");
  if (tokens <= c->tokens) return Status::Ok();
  const size_t row = (size_t)c->spec.kv_dim * 2, need = (size_t)tokens * kv_bytes_per_token(c->spec);
  if (size_t avail = memory_available(); need > avail)
    return make_error("a KV cache of " + std::to_string(tokens) + " tokens needs " + std::to_string(need >> 20) +
                      " MiB of device memory; " + std::to_string(avail >> 20) + " MiB are free (choose a shorter context)");
  for (CudaKvCache::Layer& L : c->layers) {
    for (uint16_t** buf : {&L.k, &L.v}) {
      uint16_t* grown = nullptr;
      LS_CUDA_TRY(cudaMalloc(&grown, (size_t)tokens * row));
      poison(grown, (size_t)tokens * row);
      if (*buf && keep > 0) LS_CUDA_TRY(cudaMemcpyAsync(grown, *buf, (size_t)keep * row, cudaMemcpyDeviceToDevice, stream_));
      LS_CUDA_TRY(cudaStreamSynchronize(stream_));
      cudaFree(*buf);
      *buf = grown;
    }
  }
  c->tokens = tokens;
  return Status::Ok();
}

void CudaBackend::set_positions(KvCache& cache, const PositionTables& tables, int kind) {
  auto* c = dynamic_cast<CudaKvCache*>(&cache);
  if (!c || kind < 0 || kind >= kPositionTableKinds) return fail(make_error("set_positions: not this backend's cache"));
  CudaKvCache::Positions& p = c->pos[kind];
  auto copy = [&](const auto& host, auto** dev, size_t have) {
    using E = std::remove_pointer_t<std::remove_pointer_t<decltype(dev)>>;
    if (host.empty()) return;
    if (host.size() > have || !*dev) {
      cudaFree(*dev);
      *dev = nullptr;
      if (cudaMalloc(reinterpret_cast<void**>(dev), host.size() * sizeof(E)) != cudaSuccess)
        return fail(make_error("set_positions: out of device memory"));
    }
    std::vector<E> conv(host.begin(), host.end());
    cudaMemcpy(*dev, conv.data(), conv.size() * sizeof(E), cudaMemcpyHostToDevice);
  };
  copy(tables.inv_freq, &p.inv_freq, p.tables.inv_freq.size());
  copy(tables.alibi_slopes, &p.slopes, p.tables.alibi_slopes.size());
  p.tables = tables;
}

Status CudaBackend::attention(KvCache& cache, const AttentionParams& p, const Tensor& q_t, const Tensor& k_t,
                              const Tensor& v_t, const Tensor& out_t, const AttentionObserver* observer,
                              const std::atomic<bool>* cancel) {
  const size_t nq = (size_t)p.n_new * p.n_heads * p.head_dim, nkv = (size_t)p.n_new * p.n_kv_heads * p.head_dim;
  const float *q = f32(q_t, nq, "attention"), *k_new = f32(k_t, nkv, "attention"), *v_new = f32(v_t, nkv, "attention");
  float* out = f32(out_t, nq, "attention");
  if (!q || !k_new || !v_new || !out) return pending_;
  auto* c = dynamic_cast<CudaKvCache*>(&cache);
  if (!c) return make_error("attention: the KV cache was made by another backend");
  if (p.table < 0 || p.table >= kPositionTableKinds) return make_error("attention: no position table " + std::to_string(p.table));
  const int n = p.p0 + p.n_new;
  if (p.layer < 0 || p.layer >= (int)c->layers.size() || n > c->tokens)
    return make_error("attention: the KV cache has no room for layer " + std::to_string(p.layer) + " at " +
                      std::to_string(n) + " tokens");
  if (p.head_dim > 256) return make_error("the CUDA attention handles head dimensions up to 256");
  if (cancel && cancel->load()) return make_error("cancelled");
  if (!pending_) return pending_;
  const CudaKvCache::Positions& ps = c->pos[p.table];
  const BandPlan plan = band_plan(p, ps.tables, c->spec.keys);
  const double af = ps.tables.attention_factor;
  const int hd = p.head_dim, kv_dim = p.n_kv_heads * hd, q_dim = p.n_heads * hd;
  const MethodParams bp = band_params(p);
  const bool flash = !warp_attention_ && flash_supported(hd, c->dtype);
  const size_t op_bytes = flash ? 2 : 4;
  AttnArgs a{};
  a.s = flash_shape(p, plan);
  a.slopes = ps.tables.alibi_slopes.empty() ? nullptr : ps.slopes;
  a.sinks = p.sinks ? dev_vec(p.sinks) : nullptr;
  a.op16 = flash ? 1 : 0;
  const CudaKvCache::Layer& L = c->layers[p.layer];
  const OperandRotation rot{hd, p.rot_dim, p.layout, ps.inv_freq, af};
  launch_append_kv({k_new, v_new, p.n_new, p.p0, kv_dim, rot, plan.rotate_cached != 0, L.k, L.v, c->dtype}, stream_);
  void* kn = scratch(kScratchKNear, (size_t)n * kv_dim * op_bytes);
  void* kf = plan.far ? scratch(kScratchKFar, (size_t)n * kv_dim * op_bytes) : nullptr;
  void* qn = scratch(kScratchQNear, (size_t)p.n_new * q_dim * op_bytes);
  void* qf = plan.far ? scratch(kScratchQFar, (size_t)p.n_new * q_dim * op_bytes) : nullptr;
  if (!pending_) return pending_;
  const bool op16 = a.op16 != 0;
  launch_key_operands({L.k, c->dtype, n, kv_dim, rot, plan.near_keys, bp, kn, op16}, stream_);
  if (kf) launch_key_operands({L.k, c->dtype, n, kv_dim, rot, kKeyAtFarPos, bp, kf, op16}, stream_);
  for (int far = 0; far < (kf ? 2 : 1); ++far)
    launch_query_operands({q, p.n_new, p.p0, q_dim, rot, plan.rope != 0, far != 0, bp, plan.scale, p.train_len,
                           far ? qf : qn, op16}, stream_);
  a.qn = qn;
  a.qf = qf;
  a.kn = kn;
  a.kf = kf;
  a.v = L.v;
  a.vdtype = c->dtype;
  a.out = out;
  const bool observe = observer && observer->on_row && observer->layer == p.layer;
  a.lse = observe ? static_cast<float*>(scratch(kScratchLse, (size_t)p.n_new * p.n_heads * 4)) : nullptr;
  if (!pending_) return pending_;
  if (flash) {
    if (cudaError_t err = launch_flash(a, stream_); err != cudaSuccess)
      return make_error(std::string("flash attention: ") + cudaGetErrorString(err));
  } else {
    const dim3 grid(p.n_new, p.n_heads);
    if (hd <= 32) attention_kernel<1><<<grid, 32, 0, stream_>>>(a);
    else if (hd <= 64) attention_kernel<2><<<grid, 32, 0, stream_>>>(a);
    else if (hd <= 128) attention_kernel<4><<<grid, 32, 0, stream_>>>(a);
    else attention_kernel<8><<<grid, 32, 0, stream_>>>(a);
    if (auto st = check_launch("attention"); !st) return st;
  }
  if (!observe) return Status::Ok();
  // The probed heads, a block of query rows at a time (at most 64M probabilities on the device).
  const int rows_per = std::max(1, std::min(p.n_new, (int)((size_t{64} << 20) / (size_t)n)));
  std::vector<float> host((size_t)rows_per * n);
  float* probs = static_cast<float*>(scratch(kScratchGemmIn, host.size() * 4));
  if (!probs) return pending_;
  for (int h = observer->head < 0 ? 0 : observer->head; h < (observer->head < 0 ? p.n_heads : observer->head + 1); ++h)
    for (int t0 = 0; t0 < p.n_new; t0 += rows_per) {
      if (cancel && cancel->load()) return make_error("cancelled");
      const int rows = std::min(rows_per, p.n_new - t0);
      probe_kernel<<<blocks_for((size_t)rows * n), kThreads, 0, stream_>>>(a, h, t0, rows, n, probs);
      if (auto st = check_launch("probe"); !st) return st;
      LS_CUDA_TRY(cudaMemcpyAsync(host.data(), probs, (size_t)rows * n * 4, cudaMemcpyDeviceToHost, stream_));
      LS_CUDA_TRY(cudaStreamSynchronize(stream_));
      for (int r = 0; r < rows; ++r) observer->on_row(h, p.p0 + t0 + r, &host[(size_t)r * n], p.p0 + t0 + r + 1);
    }
  return Status::Ok();
}

}  // namespace ls::gpu
