// The tiled attention kernel body (see flash_kernel.h), compiled once per
// instruction set: flash_generic.cpp, flash_avx2.cpp and flash_avx512.cpp define
// LS_FLASH_ENTRY (the entry point's name) and LS_VEC_BYTES (16, 32 or 64), then
// include this file. Everything here has internal linkage (LS_HD is
// `static inline`, no standard-library templates; out-of-line calls go to
// baseline code), so code built for AVX-512 never stands in for a baseline copy.
//
// Written with GCC/Clang vector extensions: one source for every width.
// Per tile: keys are loaded (converted from f16/bf16, rotated where the cache
// holds raw keys) into a transposed tile Kt[d][j], scores for kFlashRowBlock
// rows are accumulated in registers, the tile's band (near / far / mixed) and
// mask come from classify_tile, and each row's running max, sum and output are
// updated with a vectorised exp that flushes underflow to 0.
#pragma once

#if !defined(LS_FLASH_ENTRY) || !defined(LS_WIDEN_ENTRY)
#error "define LS_FLASH_ENTRY, LS_WIDEN_ENTRY and LS_VEC_BYTES before including flash_kernel_impl.h"
#endif

#define LS_HD static inline
#include <stdint.h>
#include <string.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "core/cpu/flash_kernel.h"
#include "core/position/rope_apply.h"
#include "core/model/dtype.h"

namespace ls {
namespace {

constexpr int kW = LS_VEC_BYTES / 4;  // float lanes
typedef float vf __attribute__((vector_size(LS_VEC_BYTES)));
typedef int32_t vi __attribute__((vector_size(LS_VEC_BYTES)));
constexpr int BN = kFlashKeys, RB = kFlashRowBlock;
static_assert(BN % kW == 0, "a key tile is whole vectors");

inline vf vload(const float* p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
inline void vstore(float* p, vf v) { memcpy(p, &v, sizeof v); }
inline vf vsplat(float x) { return vf{} + x; }
inline int imin(int a, int b) { return a < b ? a : b; }
inline float fmaxf_(float a, float b) { return a > b ? a : b; }

// exp(x) for the x ≤ 0 a softmax needs (Cephes expf polynomial, ~2 ulp);
// x < -87.3 (and -inf) gives exactly 0, with no libm slow path.
inline vf vexp(vf x) {
  const vi under = x < -87.3f;
  x = (vf)(((vi)x & ~under) | ((vi)vsplat(-87.3f) & under));
  const vf t = x * 1.44269504088896341f + 12582912.0f;  // 1.5·2^23 + round(x·log2 e)
  const vf n = t - 12582912.0f;
  vf r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf p = vsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  vf e = p * r * r + r + 1.0f;
  const vi ni = (vi)t - 0x4B400000;  // the integer n from t's bits
  e = e * (vf)((ni + 127) << 23);
  return (vf)((vi)e & ~under);
}
inline float sexp(float x) { return vexp(vsplat(x))[0]; }

// dst[0, n) = 16-bit floats as fp32: bfloat16 (the high half of an fp32) or IEEE
// half (F16C where this build has it).
inline void widen_row(const uint16_t* src, size_t n, int bf16, float* dst) {
  size_t i = 0;
  if (bf16) {
    for (; i < n; ++i) {
      const uint32_t bits = (uint32_t)src[i] << 16;
      memcpy(dst + i, &bits, 4);
    }
    return;
  }
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

// One cached row (kv_dim-strided) of a head, as float.
inline void load_row(const FlashArgs& a, const void* base, size_t offset, int hd, float* dst) {
  if (a.kv_dtype == DType::F32) memcpy(dst, (const float*)base + offset, (size_t)hd * 4);
  else widen_row((const uint16_t*)base + offset, (size_t)hd, a.kv_dtype == DType::BF16, dst);
}

// Kt[d][jj] for keys j0 … j0+bn-1 of KV head kh; columns bn … BN-1 zeroed.
template <int HD>
void load_keys(const FlashArgs& a, int kh, int j0, int bn, bool far, float* Kt) {
  const int hd = HD > 0 ? HD : a.head_dim, kv_dim = a.n_kv_heads * hd, half = a.rot_dim / 2;
  float row[HD > 0 ? HD : kFlashMaxHeadDim];
  for (int jj = 0; jj < bn; ++jj) {
    const int j = j0 + jj;
    load_row(a, a.k, (size_t)j * kv_dim + (size_t)kh * hd, hd, row);
    if (far) rope_rotate(row, row, hd, a.rot_dim, a.layout, a.far_cos + (size_t)j * half, a.far_sin + (size_t)j * half);
    else if (a.rotate_near) rope_rotate(row, row, hd, a.rot_dim, a.layout, a.cos + (size_t)j * half, a.sin + (size_t)j * half);
    for (int d = 0; d < hd; ++d) Kt[d * BN + jj] = row[d];
  }
  for (int d = 0; d < hd; ++d)
    for (int jj = bn; jj < BN; ++jj) Kt[d * BN + jj] = 0.0f;
}

// s[i][0 … nv·kW) = q_i · Kt for RB rows, accumulators in registers.
template <int HD>
inline void scores(const float* q, int hd_rt, const float* Kt, int nv, float* s) {
  const int hd = HD > 0 ? HD : hd_rt;
  for (int v = 0; v < nv; ++v) {
    vf a0 = {}, a1 = {}, a2 = {}, a3 = {};
    for (int d = 0; d < hd; ++d) {
      const vf k = vload(Kt + d * BN + v * kW);
      a0 += q[d] * k;
      a1 += q[hd + d] * k;
      a2 += q[2 * hd + d] * k;
      a3 += q[3 * hd + d] * k;
    }
    vstore(s + v * kW, a0);
    vstore(s + BN + v * kW, a1);
    vstore(s + 2 * BN + v * kW, a2);
    vstore(s + 3 * BN + v * kW, a3);
  }
}
static_assert(RB == 4, "scores() holds four rows");

// o_i ← alpha_i·o_i + Σ_j p_i[j]·V[j] over one tile for the RB rows of a block
// (rows kFlashKeys apart in p, hd apart in o). The rows share each V load and
// give the FMA units independent chains; a row narrower than a vector also
// splits its keys over two chains (even and odd).
template <int HD>
inline void accumulate(float* o, int hd_rt, const float* alpha, const float* p, const float* V, int bn) {
  if constexpr (HD > 0 && HD % kW == 0 && HD / kW <= 4) {
    constexpr int nv = HD / kW;
    vf acc[RB][nv];
    for (int i = 0; i < RB; ++i)
      for (int v = 0; v < nv; ++v) acc[i][v] = vload(o + i * HD + v * kW) * alpha[i];
    for (int jj = 0; jj < bn; ++jj) {
      vf x[nv];
      for (int v = 0; v < nv; ++v) x[v] = vload(V + jj * HD + v * kW);
      for (int i = 0; i < RB; ++i)
        for (int v = 0; v < nv; ++v) acc[i][v] += p[i * BN + jj] * x[v];
    }
    for (int i = 0; i < RB; ++i)
      for (int v = 0; v < nv; ++v) vstore(o + i * HD + v * kW, acc[i][v]);
  } else if constexpr (HD > 0 && HD % kW == 0) {
    constexpr int nv = HD / kW;  // wide rows: nv ≥ 5 chains each already
    for (int i = 0; i < RB; ++i) {
      vf acc[nv];
      for (int v = 0; v < nv; ++v) acc[v] = vload(o + i * HD + v * kW) * alpha[i];
      for (int jj = 0; jj < bn; ++jj) {
        const float pj = p[i * BN + jj];
        for (int v = 0; v < nv; ++v) acc[v] += pj * vload(V + jj * HD + v * kW);
      }
      for (int v = 0; v < nv; ++v) vstore(o + i * HD + v * kW, acc[v]);
    }
  } else if constexpr (HD >= 4 && kW % (HD > 0 ? HD : 1) == 0) {
    // a head narrower than a vector: one narrower vector holds a row
    typedef float vh __attribute__((vector_size(HD * 4)));
    vh even[RB], odd[RB];
    for (int i = 0; i < RB; ++i) {
      memcpy(&even[i], o + i * HD, sizeof(vh));
      even[i] *= alpha[i];
      odd[i] = vh{};
    }
    int jj = 0;
    for (; jj + 2 <= bn; jj += 2) {
      vh x0, x1;
      memcpy(&x0, V + jj * HD, sizeof x0);
      memcpy(&x1, V + (jj + 1) * HD, sizeof x1);
      for (int i = 0; i < RB; ++i) {
        even[i] += p[i * BN + jj] * x0;
        odd[i] += p[i * BN + jj + 1] * x1;
      }
    }
    if (jj < bn) {
      vh x0;
      memcpy(&x0, V + jj * HD, sizeof x0);
      for (int i = 0; i < RB; ++i) even[i] += p[i * BN + jj] * x0;
    }
    for (int i = 0; i < RB; ++i) {
      even[i] += odd[i];
      memcpy(o + i * HD, &even[i], sizeof(vh));
    }
  } else {
    const int hd = HD > 0 ? HD : hd_rt;
    for (int i = 0; i < RB; ++i) {
      float* oi = o + i * hd;
      for (int d = 0; d < hd; ++d) oi[d] *= alpha[i];
      for (int jj = 0; jj < bn; ++jj)
        for (int d = 0; d < hd; ++d) oi[d] += p[i * BN + jj] * V[jj * hd + d];
    }
  }
}

template <int HD>
void task(const FlashArgs& a, int task_index, float* scratch) {
  const int hd = HD > 0 ? HD : a.head_dim;
  const int group = a.n_heads / a.n_kv_heads, q_dim = a.n_heads * hd, kv_dim = a.n_kv_heads * hd;
  const int qb = task_index / a.n_kv_heads, kh = task_index % a.n_kv_heads;
  const int t0 = qb * a.q_block, bm = imin(a.q_block, a.n_new - t0), m0 = a.p0 + t0;
  const int R = bm * group, Rp = (R + RB - 1) / RB * RB;
  const bool remap = a.bands.remap != 0;
  // scratch: Qn, Qf, O (Rp × hd), row max and sum (Rp), Kt near/far (hd × BN), V (BN × hd), S, SF (RB × BN)
  float* Qn = scratch;
  float* Qf = Qn + Rp * hd;
  float* O = Qf + Rp * hd;
  float* mx = O + Rp * hd;
  float* sum = mx + Rp;
  float* KtN = sum + Rp;
  float* KtF = KtN + hd * BN;
  float* V = KtF + hd * BN;
  float* S = V + BN * hd;
  float* SF = S + RB * BN;
  // rows r = t·group + g: query t0+t, head kh·group+g
  for (int r = 0; r < Rp; ++r) {
    float* qn = Qn + r * hd;
    float* qf = Qf + r * hd;
    if (r < R) {
      const size_t off = (size_t)(t0 + r / group) * q_dim + (size_t)(kh * group + r % group) * hd;
      memcpy(qn, a.qn + off, (size_t)hd * 4);
      if (remap) memcpy(qf, a.qf + off, (size_t)hd * 4);
    } else {
      memset(qn, 0, (size_t)hd * 4);
      memset(qf, 0, (size_t)hd * 4);
    }
    memset(O + r * hd, 0, (size_t)hd * 4);
    // A sink logit (gpt-oss) is one more term of the softmax with no value: the row
    // starts with it as its maximum and exp(0) = 1 in its sum.
    const bool sink = a.sinks && r < R;
    mx[r] = sink ? a.sinks[kh * group + r % group] : -__builtin_inff();
    sum[r] = sink ? 1.0f : 0.0f;
  }
  const int m_last = m0 + bm - 1;
  for (int j0 = 0; j0 <= m_last; j0 += BN) {
    const int bn = imin(BN, m_last + 1 - j0), nv = (bn + kW - 1) / kW;
    const TileClass tc = classify_tile(a.bands, m0, bm, j0, bn);
    if (tc.kind == kTileSkip) continue;
    const bool near = (tc.kind & kTileNear) != 0, far = (tc.kind & kTileFar) != 0;
    if (near) load_keys<HD>(a, kh, j0, bn, false, KtN);
    if (far) load_keys<HD>(a, kh, j0, bn, true, KtF);
    for (int jj = 0; jj < bn; ++jj) load_row(a, a.v, (size_t)(j0 + jj) * kv_dim + (size_t)kh * hd, hd, V + jj * hd);
    for (int r0 = 0; r0 < R; r0 += RB) {
      if (near) scores<HD>(Qn + r0 * hd, hd, KtN, nv, S);
      if (far) scores<HD>(Qf + r0 * hd, hd, KtF, nv, near ? SF : S);
      float alpha[RB];
      for (int i = 0; i < RB; ++i) {
        const int r = r0 + i, m = m0 + r / group, h = kh * group + r % group;
        float* s = S + i * BN;
        alpha[i] = 1.0f;
        if (r >= R) {  // padding row of the last block
          memset(s, 0, (size_t)bn * 4);
          continue;
        }
        if (tc.kind == kTileMixed) {
          const float* sf = SF + i * BN;
          for (int jj = 0; jj < bn; ++jj)
            if (!band_is_near(a.bands, m - (j0 + jj))) s[jj] = sf[jj];
        }
        if (a.softcap > 0) {  // Gemma-2: capped before any bias or mask
          for (int jj = 0; jj < bn; ++jj) s[jj] = soft_cap(s[jj], a.softcap);
        }
        if (a.slopes) {
          const float slope = a.slopes[h];
          for (int jj = 0; jj < bn; ++jj) s[jj] -= slope * (float)(m - (j0 + jj));
        }
        if (tc.masked)
          for (int jj = 0; jj < bn; ++jj)
            if (!band_visible(a.bands, m, j0 + jj)) s[jj] = -__builtin_inff();
        for (int jj = bn; jj < nv * kW; ++jj) s[jj] = -__builtin_inff();
        vf vmax = vsplat(-__builtin_inff());
        for (int v = 0; v < nv; ++v) {
          const vf x = vload(s + v * kW);
          vmax = (vf)(((vi)x & (x > vmax)) | ((vi)vmax & ~(x > vmax)));
        }
        float tmax = vmax[0];
        for (int l = 1; l < kW; ++l) tmax = fmaxf_(tmax, vmax[l]);
        if (tmax == -__builtin_inff()) {  // nothing visible to this row in this tile
          memset(s, 0, (size_t)bn * 4);
          continue;
        }
        const float new_max = fmaxf_(mx[r], tmax);
        alpha[i] = softmax_rescale(mx[r], new_max, sexp);
        vf vsum = {};
        for (int v = 0; v < nv; ++v) {
          const vf pv = vexp(vload(s + v * kW) - new_max);
          vstore(s + v * kW, pv);
          vsum += pv;
        }
        float tsum = 0.0f;
        for (int l = 0; l < kW; ++l) tsum += vsum[l];
        sum[r] = sum[r] * alpha[i] + tsum;
        mx[r] = new_max;
      }
      accumulate<HD>(O + r0 * hd, hd, alpha, S, V, bn);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* dst = a.out + (size_t)(t0 + r / group) * q_dim + (size_t)(kh * group + r % group) * hd;
    const float inv = 1.0f / sum[r];
    for (int d = 0; d < hd; ++d) dst[d] = O[r * hd + d] * inv;
    if (a.lse) a.lse[(size_t)(t0 + r / group) * a.n_heads + kh * group + r % group] = mx[r] + logf(sum[r]);
  }
}

}  // namespace

void LS_FLASH_ENTRY(const FlashArgs& a, int task_index, float* scratch) {
  switch (a.head_dim) {  // the common head sizes get unrolled, register-resident loops
    case 8: return task<8>(a, task_index, scratch);
    case 16: return task<16>(a, task_index, scratch);
    case 32: return task<32>(a, task_index, scratch);
    case 64: return task<64>(a, task_index, scratch);
    case 80: return task<80>(a, task_index, scratch);
    case 96: return task<96>(a, task_index, scratch);
    case 128: return task<128>(a, task_index, scratch);
    default: return task<0>(a, task_index, scratch);
  }
}

void LS_WIDEN_ENTRY(const uint16_t* src, size_t n, int bf16, float* dst) { widen_row(src, n, bf16, dst); }

}  // namespace ls
