// The flash attention for every method (#11 item 2): FlashAttention-2's loop
// (Dao 2023) on `mma.sync.m16n8k16` bf16 tensor-core instructions, fp32
// accumulators, head_dim 64 and 128, GQA, causal. One block of 4 warps owns 64
// queries of one head; each warp 16 rows. Key tiles of 64 are classified once
// (gpu/flash_tile.h over core/position/tiles.h): a near tile multiplies the near
// operands, a far tile the far operands (the band algebra of docs/gpu.md:
// ReRoPE, Leaky ReRoPE and Self-Extend become plain dot products), a mixed tile
// multiplies both, fragment by fragment, and keeps per element the band's; only
// masked tiles test each element. ALiBi slopes, the window with sinks, the
// soft-cap and log-n (folded into the query operands) ride along. The CPU
// emulator (flash_emulator.cpp) runs this same loop; tests/gpu compares the two.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16" with .bf16):
// g = lane/4, c = lane%4. A (16×16, row): a0 = A[g][2c..2c+1], a1 = A[g+8][2c..],
// a2 = A[g][2c+8..], a3 = A[g+8][2c+8..]. B (16×8, col): b0 = B[2c..2c+1][g],
// b1 = B[2c+8..][g]. C (16×8 fp32): c0,c1 = C[g][2c..2c+1], c2,c3 = C[g+8][2c..].
// So a row-major K tile gives B of QKᵀ directly, the S accumulators of two
// adjacent key fragments are the A operand of P·V, and V is stored transposed.
#include <cmath>
#include <type_traits>

#include "gpu/cuda_backend_impl.h"
#include "gpu/flash_device.h"
#include "gpu/flash_tile.h"

namespace ls::gpu {
namespace {

constexpr int kPad = 8;  // bf16 elements of padding per shared row: fragment loads of 8 rows hit 32 banks
constexpr int kThreadsFlash = 32 * kFlashWarps;

// Two fp32 values rounded to bf16 in one register, lo in the low half (the lower column).
__device__ inline uint32_t pack_bf16(float lo, float hi) {
  return (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(lo)) |
         ((uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(hi)) << 16);
}

__device__ inline uint32_t ld32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

__device__ inline void mma_bf16(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// rows × D bf16 of `src` (row stride `stride` elements, from row `first`) into
// shared rows of D + kPad; rows at or beyond `limit` become zeros. 16-byte moves.
template <int D>
__device__ inline void load_rows(uint16_t* dst, const uint16_t* src, size_t stride, int first, int rows, int limit) {
  constexpr int kChunks = D / 8;
  for (int e = threadIdx.x; e < rows * kChunks; e += kThreadsFlash) {
    const int r = e / kChunks, c = e % kChunks;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (first + r < limit) v = *reinterpret_cast<const uint4*>(src + (size_t)(first + r) * stride + c * 8);
    *reinterpret_cast<uint4*>(dst + r * (D + kPad) + c * 8) = v;
  }
}

// Value rows [j0, j0 + kFlashBn) transposed into shared (D rows of kFlashBn + kPad keys).
template <int D>
__device__ inline void load_values_t(uint16_t* dst, const uint16_t* src, size_t stride, int j0, int limit) {
  constexpr int kChunks = D / 8;
  for (int e = threadIdx.x; e < kFlashBn * kChunks; e += kThreadsFlash) {
    const int r = e / kChunks, c = e % kChunks;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (j0 + r < limit) v = *reinterpret_cast<const uint4*>(src + (size_t)(j0 + r) * stride + c * 8);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 8; ++i) dst[(c * 8 + i) * (kFlashBn + kPad) + r] = (uint16_t)(w[i / 2] >> (16 * (i % 2)));
  }
}

// acc[nt] += Q(16 rows of this warp) · K(keys nt·8 … nt·8+7)ᵀ over all D dims.
template <int D>
__device__ inline void qk_tile(float (&acc)[kFlashBn / 8][4], const uint16_t* sq, const uint16_t* sk, int g, int c) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint16_t* qa = sq + g * (D + kPad) + kk * 16 + 2 * c;
    const uint32_t a0 = ld32(qa), a1 = ld32(qa + 8 * (D + kPad)), a2 = ld32(qa + 8), a3 = ld32(qa + 8 * (D + kPad) + 8);
#pragma unroll
    for (int nt = 0; nt < kFlashBn / 8; ++nt) {
      const uint16_t* kb = sk + (nt * 8 + g) * (D + kPad) + kk * 16 + 2 * c;
      mma_bf16(acc[nt], a0, a1, a2, a3, ld32(kb), ld32(kb + 8));
    }
  }
}

// One fragment (keys nt·8 …) of Q·Kᵀ.
template <int D>
__device__ inline void qk_fragment(float (&acc)[4], const uint16_t* sq, const uint16_t* sk, int nt, int g, int c) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint16_t* qa = sq + g * (D + kPad) + kk * 16 + 2 * c;
    const uint16_t* kb = sk + (nt * 8 + g) * (D + kPad) + kk * 16 + 2 * c;
    mma_bf16(acc, ld32(qa), ld32(qa + 8 * (D + kPad)), ld32(qa + 8), ld32(qa + 8 * (D + kPad) + 8), ld32(kb),
             ld32(kb + 8));
  }
}

// Shared bytes of one block: query and key tiles of each band, and the transposed values.
inline size_t flash_smem_bytes(int d, bool far) {
  const size_t bands = far ? 2 : 1;
  return 2 * (bands * (size_t)(kFlashBm + kFlashBn) * (d + kPad) + (size_t)d * (kFlashBn + kPad));
}

template <int D>
__global__ void __launch_bounds__(kThreadsFlash) flash_kernel(AttnArgs a) {
  extern __shared__ __align__(16) uint16_t smem[];
  const FlashShape& s = a.s;
  const uint16_t *qn = static_cast<const uint16_t*>(a.qn), *qf = static_cast<const uint16_t*>(a.qf);
  const uint16_t *kn = static_cast<const uint16_t*>(a.kn), *kf = static_cast<const uint16_t*>(a.kf);
  const bool far = s.bands.remap != 0;
  uint16_t* sqn = smem;
  uint16_t* sqf = sqn + kFlashBm * (D + kPad);
  uint16_t* skn = far ? sqf + kFlashBm * (D + kPad) : sqf;
  uint16_t* skf = skn + kFlashBn * (D + kPad);
  uint16_t* svt = far ? skf + kFlashBn * (D + kPad) : skf;

  const int t0 = blockIdx.x * kFlashBm, h = blockIdx.y, kh = h / s.group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int n = flash_keys(s), row0 = warp * 16 + g;  // this thread's rows: row0 and row0 + 8 of the tile
  const int m_of[2] = {s.p0 + t0 + row0, s.p0 + t0 + row0 + 8};
  const float slope = a.slopes ? a.slopes[h] : 0.0f;

  load_rows<D>(sqn, qn + (size_t)h * D, s.q_dim, t0, kFlashBm, s.n_new);
  if (far) load_rows<D>(sqf, qf + (size_t)h * D, s.q_dim, t0, kFlashBm, s.n_new);
  const uint16_t* wq_n = sqn + warp * 16 * (D + kPad);
  const uint16_t* wq_f = sqf + warp * 16 * (D + kPad);

  float o[D / 8][4];
#pragma unroll
  for (int d = 0; d < D / 8; ++d) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
  // A sink logit (gpt-oss) starts each row as its maximum; its exp(0) = 1 is counted by
  // one of the row's 4 threads (c == 0), as the quad's partial sums are added up at the end.
  const float sink = a.sinks ? a.sinks[h] : -INFINITY, sink_sum = a.sinks && c == 0 ? 1.0f : 0.0f;
  float mx[2] = {sink, sink}, sum[2] = {sink_sum, sink_sum};

  const int key_end = flash_key_end(s, t0);
  for (int j0 = 0; j0 < key_end; j0 += kFlashBn) {
    const TileClass tc = flash_classify(s, t0, j0);  // the same for every thread of the block
    if (tc.kind == kTileSkip) continue;
    __syncthreads();  // the previous tile's reads (and the query load) are done
    const size_t koff = (size_t)kh * D;
    if (tc.kind != kTileFar) load_rows<D>(skn, kn + koff, s.kv_dim, j0, kFlashBn, n);
    if (tc.kind != kTileNear) load_rows<D>(skf, kf + koff, s.kv_dim, j0, kFlashBn, n);
    load_values_t<D>(svt, a.v + koff, s.kv_dim, j0, n);
    __syncthreads();

    float sc[kFlashBn / 8][4];
#pragma unroll
    for (int nt = 0; nt < kFlashBn / 8; ++nt) sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
    if (tc.kind == kTileFar) qk_tile<D>(sc, wq_f, skf, g, c);
    else qk_tile<D>(sc, wq_n, skn, g, c);
    if (tc.kind == kTileMixed) {
#pragma unroll
      for (int nt = 0; nt < kFlashBn / 8; ++nt) {
        float fa[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        qk_fragment<D>(fa, wq_f, skf, nt, g, c);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int j = j0 + nt * 8 + 2 * c + (e & 1);
          if (!flash_uses_near(tc, s.bands, m_of[e / 2], j)) sc[nt][e] = fa[e];
        }
      }
    }
    // Scores, the running maximum of each row (over the 4 threads sharing it), the rescale.
    float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < kFlashBn / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = j0 + nt * 8 + 2 * c + (e & 1);
        sc[nt][e] = flash_score(s, tc, sc[nt][e], slope, m_of[e / 2], j);
        tmax[e / 2] = fmaxf(tmax[e / 2], sc[nt][e]);
      }
    float corr[2], base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 1));
      tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 2));
      const float new_max = fmaxf(mx[r], tmax[r]);
      corr[r] = flash_rescale(mx[r], new_max);
      base[r] = flash_base(new_max);
      mx[r] = new_max;
      sum[r] *= corr[r];
    }
#pragma unroll
    for (int nt = 0; nt < kFlashBn / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        sc[nt][e] = flash_exp(sc[nt][e], base[e / 2]);
        sum[e / 2] += sc[nt][e];
      }
#pragma unroll
    for (int d = 0; d < D / 8; ++d) {
      o[d][0] *= corr[0];
      o[d][1] *= corr[0];
      o[d][2] *= corr[1];
      o[d][3] *= corr[1];
    }
    // O += P·V: the probabilities of key fragments 2kk and 2kk+1 are the A operand.
#pragma unroll
    for (int kk = 0; kk < kFlashBn / 16; ++kk) {
      const uint32_t a0 = pack_bf16(sc[2 * kk][0], sc[2 * kk][1]), a1 = pack_bf16(sc[2 * kk][2], sc[2 * kk][3]);
      const uint32_t a2 = pack_bf16(sc[2 * kk + 1][0], sc[2 * kk + 1][1]);
      const uint32_t a3 = pack_bf16(sc[2 * kk + 1][2], sc[2 * kk + 1][3]);
#pragma unroll
      for (int d = 0; d < D / 8; ++d) {
        const uint16_t* vb = svt + (d * 8 + g) * (kFlashBn + kPad) + kk * 16 + 2 * c;
        mma_bf16(o[d], a0, a1, a2, a3, ld32(vb), ld32(vb + 8));
      }
    }
  }
  // Each row's sum over its 4 threads, then O / sum and the log-sum-exp.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], 1);
    sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], 2);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int t = t0 + row0 + 8 * r;
    if (t >= s.n_new) continue;
    const float inv = sum[r] > 0 ? 1.0f / sum[r] : 0.0f;
    float* orow = a.out + (size_t)t * s.q_dim + (size_t)h * D;
#pragma unroll
    for (int d = 0; d < D / 8; ++d)
      *reinterpret_cast<float2*>(orow + d * 8 + 2 * c) = make_float2(o[d][2 * r] * inv, o[d][2 * r + 1] * inv);
    if (a.lse && c == 0) a.lse[(size_t)t * s.n_heads + h] = mx[r] + logf(sum[r]);
  }
}

template <int D>
cudaError_t launch_for(const AttnArgs& a, cudaStream_t stream) {
  const size_t smem = flash_smem_bytes(D, a.s.bands.remap != 0);
  static const cudaError_t attr = cudaFuncSetAttribute(flash_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       (int)flash_smem_bytes(D, true));
  if (attr != cudaSuccess) return attr;
  const dim3 grid((a.s.n_new + kFlashBm - 1) / kFlashBm, a.s.n_heads);
  flash_kernel<D><<<grid, kThreadsFlash, smem, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

bool flash_supported(int head_dim, DType cache_dtype) { return (head_dim == 64 || head_dim == 128) && cache_dtype == DType::BF16; }

cudaError_t launch_flash(const AttnArgs& a, cudaStream_t stream) {
  return a.s.hd == 64 ? launch_for<64>(a, stream) : launch_for<128>(a, stream);
}

}  // namespace ls::gpu

// ---------------------------------------------------------------- host entry for tests and benchmarks

namespace ls::gpu {

FlashDeviceRun flash_on_device(const FlashInputs& in, int timed) {
  FlashDeviceRun r;
  const FlashShape& s = in.shape;
  if (!flash_supported(s.hd, DType::BF16)) {
    r.error = "the flash kernel takes head sizes 64 and 128";
    return r;
  }
  std::vector<void*> owned;
  auto fail = [&](const char* what, cudaError_t e) {
    r.error = std::string(what) + ": " + cudaGetErrorString(e);
    return false;
  };
  auto upload = [&](const auto& host, auto** dev) {
    *dev = nullptr;
    if (host.empty()) return true;
    const size_t bytes = host.size() * sizeof(host[0]);
    void* p = nullptr;
    if (cudaError_t e = cudaMalloc(&p, bytes); e != cudaSuccess) return fail("cudaMalloc", e);
    owned.push_back(p);
    *dev = static_cast<std::remove_pointer_t<decltype(dev)>>(p);
    if (cudaError_t e = cudaMemcpy(p, host.data(), bytes, cudaMemcpyHostToDevice); e != cudaSuccess)
      return fail("cudaMemcpy", e);
    return true;
  };
  AttnArgs a{};
  a.s = s;
  a.op16 = 1;
  a.vdtype = DType::BF16;
  r.out.assign((size_t)s.n_new * s.q_dim, NAN);  // the device buffers start as NaN: every element must be written
  r.lse.assign((size_t)s.n_new * s.n_heads, NAN);
  cudaEvent_t ev[2] = {nullptr, nullptr};
  const uint16_t *qn = nullptr, *qf = nullptr, *kn = nullptr, *kf = nullptr;
  const bool ok = upload(in.qn, &qn) && upload(in.qf, &qf) && upload(in.kn, &kn) && upload(in.kf, &kf) &&
                  upload(in.v, &a.v) && upload(in.slopes, &a.slopes) && upload(in.sinks, &a.sinks) && upload(r.out, &a.out) &&
                  upload(r.lse, &a.lse);
  a.qn = qn;
  a.qf = qf;
  a.kn = kn;
  a.kf = kf;
  if (ok) {
    cudaError_t e = launch_flash(a, nullptr);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e == cudaSuccess) e = cudaMemcpy(r.out.data(), a.out, r.out.size() * 4, cudaMemcpyDeviceToHost);
    if (e == cudaSuccess) e = cudaMemcpy(r.lse.data(), a.lse, r.lse.size() * 4, cudaMemcpyDeviceToHost);
    if (e == cudaSuccess && timed > 0) e = cudaEventCreate(&ev[0]);
    if (e == cudaSuccess && timed > 0) e = cudaEventCreate(&ev[1]);
    for (int i = 0; e == cudaSuccess && i < timed; ++i) {
      cudaEventRecord(ev[0]);
      e = launch_flash(a, nullptr);
      cudaEventRecord(ev[1]);
      if (e == cudaSuccess) e = cudaEventSynchronize(ev[1]);
      float ms = 0;
      if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, ev[0], ev[1]);
      r.ms.push_back(ms);
    }
    if (e != cudaSuccess) fail("flash kernel", e);
  }
  for (cudaEvent_t x : ev)
    if (x) cudaEventDestroy(x);
  for (void* p : owned) cudaFree(p);
  return r;
}

}  // namespace ls::gpu
