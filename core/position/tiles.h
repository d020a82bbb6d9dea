// Band limits and tile classification for attention kernels: ONE definition of
// which keys a query sees and in which band (near / far) each score lies, used
// by the CPU tiled attention (core/cpu) and written for the CUDA kernels (gpu/).
//
// The band algebra (docs/gpu.md, [rerope]): for a remapping method a score
// is ⟨R(α)q, R(β)k⟩ with (α, β) = (m, j) in the near band (m - j < w) and
// (far_query_pos(m), far_key_pos(j)) in the far band. A tile of queries
// [m0, m0+bm) × keys [j0, j0+bn) is classified once, so most tiles run one plain
// dot-product loop; only tiles straddling the band edge ("mixed") or the mask
// edge ("masked") test each element.
//
// Plain structs and inline functions only: LS_HD makes them __host__ __device__.
#pragma once

#include "core/position/position.h"

namespace ls {

// The integer band limits of one method: what a kernel needs, copied by value.
struct TileBands {
  int remap = 0;    // 1: near band (distance < window) and far band (the rest)
  int window = 0;   // remap: near iff distance < window; sliding: visible iff distance < window (or a sink)
  int sliding = 0;  // 1: keys outside the window and the sinks are masked
  int sinks = 0;    // sliding: keys j < sinks are always visible
};

// Integer form of the method's window. Distances are integers, so d < w ⇔ d < ⌈w⌉
// (the same rule as remap_is_near and position_visible in position.h).
LS_HD TileBands tile_bands(Method method, const RelposRemap& r) {
  TileBands b;
  b.remap = method_is_remap(method) ? 1 : 0;
  b.sliding = method == Method::SlidingWindow ? 1 : 0;
  if (b.remap || b.sliding) {
    double w = ceil(r.window);
    b.window = w < 0.0 ? 0 : w > 2147483647.0 ? 2147483647 : (int)w;
  }
  b.sinks = b.sliding ? (r.sinks < 0 ? 0 : r.sinks) : 0;
  return b;
}

// Whether key j is visible to query m.
LS_HD bool band_visible(const TileBands& b, int m, int j) {
  if (j > m) return false;
  return !b.sliding || m - j < b.window || j < b.sinks;
}

// Whether a visible score at distance d = m - j uses the near-band operands.
LS_HD bool band_is_near(const TileBands& b, int d) { return !b.remap || d < b.window; }

// First key of query m's near band (remap) or window (sliding); 0 otherwise.
LS_HD int band_near_from(const TileBands& b, int m) {
  if (!b.remap && !b.sliding) return 0;
  int from = m - b.window + 1;
  return from < 0 ? 0 : from > m + 1 ? m + 1 : from;
}

// Keys [0, band_sink_end) are sinks of a sliding window (visible to every later query).
LS_HD int band_sink_end(const TileBands& b, int m) {
  if (!b.sliding) return 0;
  int e = b.sinks < m + 1 ? b.sinks : m + 1;
  int nf = band_near_from(b, m);
  return e < nf ? e : nf;
}

enum TileKind : int {
  kTileSkip = 0,   // no visible key: not computed
  kTileNear = 1,   // every visible score uses the near operands (all non-remap methods)
  kTileFar = 2,    // every visible score uses the far operands
  kTileMixed = 3,  // both bands: compute both products, select per element
};

// No default member initialisers: a trivial type, so a kernel built for another
// instruction set never emits an out-of-line constructor (flash_kernel_impl.h).
struct TileClass {
  int kind;    // TileKind
  int masked;  // 1: some (query, key) of the tile is not visible: test band_visible per element
};

// Classifies queries [m0, m0+bm) × keys [j0, j0+bn) (bm, bn ≥ 1).
LS_HD TileClass classify_tile(const TileBands& b, int m0, int bm, int j0, int bn) {
  TileClass c{kTileSkip, 0};
  const int m1 = m0 + bm - 1, j1 = j0 + bn - 1;
  const long long d_max = (long long)m1 - j0, d_min = (long long)m0 - j1;
  if (d_max < 0) return c;  // every key after every query
  if (b.sliding) {
    const bool any_window = d_min < b.window;  // some pair is inside the window (d_max ≥ 0 holds)
    const bool any_sink = j0 < b.sinks;
    if (!any_window && !any_sink) return c;
    // keys from max(j0, sinks) on must lie in every query's window (the farthest pair is m1, that key)
    const int first_windowed = j0 > b.sinks ? j0 : b.sinks;
    const bool all_visible = d_min >= 0 && (first_windowed > j1 || (long long)m1 - first_windowed < b.window);
    c.masked = all_visible ? 0 : 1;
  } else {
    c.masked = d_min < 0 ? 1 : 0;  // the causal diagonal crosses the tile
  }
  if (!b.remap) c.kind = kTileNear;
  else if (d_max < b.window) c.kind = kTileNear;
  else if (d_min >= b.window) c.kind = kTileFar;
  else c.kind = kTileMixed;
  return c;
}

// ---------------------------------------------------------------- online softmax

// Running state of one query row: the largest score seen and Σ exp(score - max).
struct SoftmaxRow {
  float max;
  float sum;
};

// The factor exp(old_max - new_max) that rescales a row's sum and output when its
// running maximum rises to new_max; 0 when nothing was accumulated yet.
template <typename ExpFn>
LS_HD float softmax_rescale(float old_max, float new_max, ExpFn exp_fn) {
  return old_max == -INFINITY ? 0.0f : exp_fn(old_max - new_max);
}

// log Σ exp of a finished row: max + ln(sum).
LS_HD double softmax_lse(const SoftmaxRow& r) { return (double)r.max + log((double)r.sum); }

// Merges two partial softmax rows over disjoint key sets (flash-decoding's
// combine, LongLM's two-pass merge): returns the weights the two partial
// outputs (each already divided by its own sum) take in the merged output.
LS_HD void softmax_merge_weights(double lse_a, double lse_b, double* w_a, double* w_b) {
  double mx = lse_a > lse_b ? lse_a : lse_b;
  if (mx == -INFINITY) {
    *w_a = *w_b = 0.0;
    return;
  }
  double ea = exp(lse_a - mx), eb = exp(lse_b - mx);
  *w_a = ea / (ea + eb);
  *w_b = eb / (ea + eb);
}

}  // namespace ls
