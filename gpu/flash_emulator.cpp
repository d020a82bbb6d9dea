// CPU emulator of the CUDA flash attention: see flash_emulator.h. The loop nest is
// the kernel's: one block per (query tile, head), key tiles in order, each
// classified once; within a tile every query row takes the near or far product,
// the score, the running maximum and the rescale of gpu/flash_tile.h.
#include "gpu/flash_emulator.h"

#include <algorithm>
#include <cmath>

#include "core/model/dtype.h"
#include "gpu/band_operands.h"

namespace ls {

namespace {

float bf16_round(float x) { return bf16_to_float(float_to_bf16(x)); }

// bf16 values widened to fp32 (exact), as the MMA reads them.
std::vector<float> widen(const std::vector<uint16_t>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = bf16_to_float(x[i]);
  return y;
}

// Dot product of two rows of hd elements, summed in fp32 (the MMA accumulator).
float dot(const float* a, const float* b, int hd) {
  float s = 0.0f;
  for (int i = 0; i < hd; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

FlashInputs flash_prepare(const AttentionParams& p, const PositionTables& t, KeyForm keys, const float* q,
                          const float* k, const float* v) {
  FlashInputs in;
  const BandPlan plan = band_plan(p, t, keys);
  in.shape = flash_shape(p, plan);
  const FlashShape& s = in.shape;
  const MethodParams bands = band_params(p);
  const int n = flash_keys(s), hd = s.hd, rd = p.rot_dim;
  const double* inv_freq = t.inv_freq.data();
  const double af = t.attention_factor;
  // The cache: keys rotated at their position when the plan says so, values as they are, in bf16.
  std::vector<uint16_t> K((size_t)n * s.kv_dim);
  in.v.resize(K.size());
  for (int j = 0; j < n; ++j)
    for (int c = 0; c < s.kv_dim; ++c) {
      const size_t e = (size_t)j * s.kv_dim + c;
      const int i = c % hd;
      const float* head = k + e - i;
      const float kval =
          plan.rotate_cached ? band_rotated([head](int x) { return head[x]; }, i, rd, p.layout, (double)j, inv_freq, af)
                             : head[i];
      K[e] = float_to_bf16(kval);
      in.v[e] = float_to_bf16(v[e]);
    }
  auto key_operands = [&](int mode, std::vector<uint16_t>& out) {
    out.resize(K.size());
    for (int j = 0; j < n; ++j)
      for (int c = 0; c < s.kv_dim; ++c) {
        const size_t e = (size_t)j * s.kv_dim + c;
        const int i = c % hd;
        const uint16_t* row = &K[e - i];
        out[e] = float_to_bf16(band_key_operand([row](int x) { return bf16_to_float(row[x]); }, i, j, rd, p.layout, mode,
                                                inv_freq, af, bands));
      }
  };
  auto query_operands = [&](int far, std::vector<uint16_t>& out) {
    out.resize((size_t)s.n_new * s.q_dim);
    for (int r = 0; r < s.n_new; ++r)
      for (int c = 0; c < s.q_dim; ++c) {
        const size_t e = (size_t)r * s.q_dim + c;
        const int i = c % hd;
        const float* head = q + e - i;
        out[e] = float_to_bf16(band_query_operand([head](int x) { return head[x]; }, i, s.p0 + r, rd, p.layout, plan.rope,
                                                  far, inv_freq, af, bands, plan.scale, p.train_len));
      }
  };
  key_operands(plan.near_keys, in.kn);
  query_operands(0, in.qn);
  if (plan.far) {
    key_operands(kKeyAtFarPos, in.kf);
    query_operands(1, in.qf);
  }
  in.slopes.assign(t.alibi_slopes.begin(), t.alibi_slopes.end());
  if (p.sinks) in.sinks.assign(p.sinks, p.sinks + p.n_heads);
  return in;
}

void flash_emulate(const FlashInputs& in, float* out, float* lse) {
  const FlashShape& s = in.shape;
  const int hd = s.hd;
  const std::vector<float> qn = widen(in.qn), qf = widen(in.qf), kn = widen(in.kn), kf = widen(in.kf), v = widen(in.v);
  std::vector<float> o((size_t)kFlashBm * hd), mx(kFlashBm), sum(kFlashBm), sc(kFlashBn);
  for (int h = 0; h < s.n_heads; ++h) {
    const int kh = h / s.group;
    const float slope = in.slopes.empty() ? 0.0f : in.slopes[h];
    for (int t0 = 0; t0 < s.n_new; t0 += kFlashBm) {  // one thread block
      const int rows = flash_rows(s, t0);
      std::fill(o.begin(), o.end(), 0.0f);
      std::fill(mx.begin(), mx.end(), in.sinks.empty() ? -INFINITY : in.sinks[h]);  // a sink: one more term, no value
      std::fill(sum.begin(), sum.end(), in.sinks.empty() ? 0.0f : 1.0f);
      for (int j0 = 0; j0 < flash_key_end(s, t0); j0 += kFlashBn) {
        const TileClass c = flash_classify(s, t0, j0);
        if (c.kind == kTileSkip) continue;
        // The kernel's tile is always kFlashBn keys: past the last key its operands and values are zeros.
        const int keys = flash_tile_keys(s, j0);
        for (int r = 0; r < rows; ++r) {
          const int m = s.p0 + t0 + r;
          const size_t qi = (size_t)(t0 + r) * s.q_dim + (size_t)h * hd;
          float tile_max = -INFINITY;
          for (int col = 0; col < kFlashBn; ++col) {
            const int j = j0 + col;
            const size_t ki = (size_t)j * s.kv_dim + (size_t)kh * hd;
            const bool near = flash_uses_near(c, s.bands, m, j);
            const float d = col >= keys ? 0.0f : near ? dot(&qn[qi], &kn[ki], hd) : dot(&qf[qi], &kf[ki], hd);
            sc[col] = flash_score(s, c, d, slope, m, j);
            tile_max = std::max(tile_max, sc[col]);
          }
          const float new_max = std::max(mx[r], tile_max), corr = flash_rescale(mx[r], new_max);
          const float base = flash_base(new_max);
          float* orow = &o[(size_t)r * hd];
          float add = 0.0f;
          for (int i = 0; i < hd; ++i) orow[i] *= corr;
          for (int col = 0; col < kFlashBn; ++col) {
            const float pr = flash_exp(sc[col], base);
            add += pr;
            if (col >= keys) continue;  // a zero value row
            const float p16 = bf16_round(pr);  // the P operand of the P·V MMA
            const float* vrow = &v[(size_t)(j0 + col) * s.kv_dim + (size_t)kh * hd];
            for (int i = 0; i < hd; ++i) orow[i] += p16 * vrow[i];
          }
          sum[r] = sum[r] * corr + add;
          mx[r] = new_max;
        }
      }
      for (int r = 0; r < rows; ++r) {
        const float inv = sum[r] > 0 ? 1.0f / sum[r] : 0.0f;
        for (int i = 0; i < hd; ++i) out[(size_t)(t0 + r) * s.q_dim + (size_t)h * hd + i] = o[(size_t)r * hd + i] * inv;
        if (lse) lse[(size_t)(t0 + r) * s.n_heads + h] = mx[r] + std::log(sum[r]);
      }
    }
  }
}

}  // namespace ls
