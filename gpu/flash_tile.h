// The tile loop of the CUDA flash attention (cuda_flash.cu) written once for the
// kernel and for its CPU emulator (flash_emulator.cpp): tile sizes, which key
// tiles a query tile visits and how each is classified (core/position/tiles.h),
// which band's product an element takes, the score of an element, and the
// online-softmax step (FlashAttention-2, Dao 2023: exp2 of log2e-scaled
// differences, the running sum kept in fp32, probabilities rounded to bf16 only
// as the P·V operand). Plus the host-side plan of one attention call: which
// operands the band algebra needs (docs/gpu.md), shared by the CUDA backend
// and the emulator so both form the same inputs.
#pragma once

#include "core/position/rope_apply.h"
#include "core/engine/backend.h"
#include "core/position/tiles.h"
#include "gpu/band_operands.h"

namespace ls {

constexpr int kFlashBm = 64;     // query rows of a block: 4 warps × 16 rows (one m16 MMA row block each)
constexpr int kFlashBn = 64;     // keys of a tile
constexpr int kFlashWarps = kFlashBm / 16;
constexpr float kFlashLog2e = 1.44269504088896340736f;

// Everything the kernel reads besides its operand arrays: plain values.
struct FlashShape {
  int p0;       // position of the first query
  int n_new;    // queries; keys are [0, p0 + n_new)
  int n_heads, group, hd, q_dim, kv_dim;
  TileBands bands;
  float softcap;  // Gemma-2's score cap; 0: none
};

LS_HD int flash_keys(const FlashShape& s) { return s.p0 + s.n_new; }

// Queries of the tile starting at new-query index t0 (the last tile may be short).
LS_HD int flash_rows(const FlashShape& s, int t0) {
  const int r = s.n_new - t0;
  return r < kFlashBm ? r : kFlashBm;
}

// Key tiles [0, flash_key_end) can hold a visible key of query tile t0.
LS_HD int flash_key_end(const FlashShape& s, int t0) { return s.p0 + t0 + flash_rows(s, t0); }

// Keys of the tile starting at j0 (the last tile may be short; the kernel pads it with zeros).
LS_HD int flash_tile_keys(const FlashShape& s, int j0) {
  const int k = flash_keys(s) - j0;
  return k < kFlashBn ? k : kFlashBn;
}

// Class of query tile t0 × key tile j0. A short key tile also tests each element,
// so its padding never counts as a visible key.
LS_HD TileClass flash_classify(const FlashShape& s, int t0, int j0) {
  const int keys = flash_tile_keys(s, j0);
  TileClass c = classify_tile(s.bands, s.p0 + t0, flash_rows(s, t0), j0, keys);
  if (keys < kFlashBn) c.masked = 1;
  return c;
}

// Whether element (m, j) of a tile of class c takes the near operands' product.
LS_HD bool flash_uses_near(const TileClass& c, const TileBands& b, int m, int j) {
  return c.kind == kTileNear || (c.kind == kTileMixed && band_is_near(b, m - j));
}

// Score of element (m, j) from its operands' dot product (the operands carry the
// softmax scale, log-n and the attention factor): the soft-cap, then the ALiBi
// bias (slope 0: none); -inf where a masked tile hides the key.
LS_HD float flash_score(const FlashShape& s, const TileClass& c, float dot, float slope, int m, int j) {
  if (c.masked && !band_visible(s.bands, m, j)) return -INFINITY;
  const float v = s.softcap > 0 ? soft_cap(dot, s.softcap) : dot;
  return v - slope * (float)(m - j);
}

// exp(score − base) as the kernel forms it; a row that has seen no visible key
// keeps base 0 (flash_base), so its masked scores give 0, never NaN.
LS_HD float flash_exp(float score, float base) { return exp2f((score - base) * kFlashLog2e); }
LS_HD float flash_base(float running_max) { return running_max == -INFINITY ? 0.0f : running_max; }

// Factor on a row's sum and output when its running maximum rises from old_max to new_max.
LS_HD float flash_rescale(float old_max, float new_max) {
  return softmax_rescale(old_max, new_max, [](float d) { return flash_exp(d, 0.0f); });
}

// ------------------------------------------------------------- host: the call's plan

// How one attention call forms its operands (the band algebra, docs/gpu.md).
struct BandPlan {
  int rope = 0;           // queries and keys rotate (a θ' table and rotary dims)
  int rotate_cached = 0;  // keys are rotated at their position as they enter the cache
  int near_keys = kKeyAsCached;  // the near band's KeyOperand
  int far = 0;            // 1: a far band with its own operands (remapping methods)
  double scale = 0.0;     // softmax scale folded into the query operands
};

inline BandPlan band_plan(const AttentionParams& p, const PositionTables& t, KeyForm keys) {
  BandPlan b;
  b.rope = !t.inv_freq.empty() && p.rot_dim > 0 ? 1 : 0;
  b.rotate_cached = b.rope && keys == KeyForm::Rotated ? 1 : 0;
  b.near_keys = b.rope && keys == KeyForm::Raw ? kKeyAtOwnPos : kKeyAsCached;
  b.far = b.rope && method_is_remap(p.method) ? 1 : 0;
  b.scale = softmax_scale(p);
  return b;
}

inline FlashShape flash_shape(const AttentionParams& p, const BandPlan& plan) {
  FlashShape s{};
  s.p0 = p.p0;
  s.n_new = p.n_new;
  s.n_heads = p.n_heads;
  s.group = p.n_heads / p.n_kv_heads;
  s.hd = p.head_dim;
  s.q_dim = p.n_heads * p.head_dim;
  s.kv_dim = p.n_kv_heads * p.head_dim;
  s.bands = tile_bands(p.method, p.remap);
  if (!plan.far) s.bands.remap = 0;
  s.softcap = (float)p.softcap;
  return s;
}

}  // namespace ls
