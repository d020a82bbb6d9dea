// One element of each operand of the band algebra (docs/gpu.md, [rerope]):
// the key as the cache stores it, the key operand of a band and the query
// operand of a band. The CUDA kernels (cuda_operands.cu) and the CPU emulator of
// the flash kernel (flash_emulator.cpp) form their operands with these same
// functions, so the emulator checks the device's arithmetic, not a copy of it.
// Positions come from core/position; angles from a double product pos·θ'_i
// (docs/methods.md §7), the attention factor folded into cos and sin.
#pragma once

#include "core/position/rope_apply.h"
#include "core/position/position.h"

namespace ls {

// Which key operand a band reads (band_key_operand's mode).
enum KeyOperand : int {
  kKeyAsCached = 0,  // the cache's keys (already rotated, or no rotary at all)
  kKeyAtOwnPos = 1,  // R(j)k from a raw cache: the near band of remapping methods and raw dynamic caches
  kKeyAtFarPos = 2,  // R(far_key_pos(j))k: the far band of remapping methods
};

// Dimension i of R(pos)·x for one head (the first rd dims rotary), times af on the
// rotary part; x(k) loads the head's dimension k as fp32.
template <typename Load>
LS_HD float band_rotated(Load x, int i, int rd, PairLayout layout, double pos, const double* inv_freq, double af) {
  if (i >= rd) return x(i);
  bool first = false;
  const int ip = rope_pair_of(layout, rd, i, &first);
  int a, b;
  rope_pair_dims(layout, rd, ip, &a, &b);
  const double ang = pos * inv_freq[ip];
  const float c = (float)(cos(ang) * af), s = (float)(sin(ang) * af);
  return first ? x(a) * c - x(b) * s : x(a) * s + x(b) * c;
}

// Dimension i of key operand `mode` of key j, from its cached head row.
template <typename Load>
LS_HD float band_key_operand(Load cached, int i, int j, int rd, PairLayout layout, int mode, const double* inv_freq,
                             double af, const MethodParams& bands) {
  if (mode == kKeyAsCached || i >= rd) return cached(i);
  const double pos = mode == kKeyAtOwnPos ? (double)j : remap_far_key_pos(bands, (double)j);
  return band_rotated(cached, i, rd, layout, pos, inv_freq, af);
}

// Dimension i of the query operand of query m: R(pos)q · scale · log-n, with
// pos = m (near band) or far_query_pos(m) (far band); rope = 0: no rotation.
template <typename Load>
LS_HD float band_query_operand(Load q, int i, int m, int rd, PairLayout layout, int rope, int far,
                               const double* inv_freq, double af, const MethodParams& bands, double scale,
                               double train_len) {
  const double pos = far ? remap_far_query_pos(bands, (double)m) : (double)m;
  const float v = rope ? band_rotated(q, i, rd, layout, pos, inv_freq, af) : q(i);
  return (float)(v * scale * (bands.logn ? logn_scale((double)m, train_len) : 1.0));
}

}  // namespace ls
