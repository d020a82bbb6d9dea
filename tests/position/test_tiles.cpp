// Tile classification against the element-level definitions in position.h: for
// every method family and many tile shapes, a tile's class must agree with what
// position_visible and remap_is_near say of each of its (query, key) pairs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/position/spec.h"
#include "tests/position/test_util.h"
#include "core/position/tiles.h"

namespace ls {
namespace {

// What the tile must be, from position.h alone.
TileClass brute_force(const MethodParams& p, int m0, int bm, int j0, int bn) {
  bool any_visible = false, any_hidden = false, any_near = false, any_far = false;
  for (int m = m0; m < m0 + bm; ++m)
    for (int j = j0; j < j0 + bn; ++j) {
      if (!position_visible(p, m, j)) {
        any_hidden = true;
        continue;
      }
      any_visible = true;
      (remap_is_near(p, (double)(m - j)) ? any_near : any_far) = true;
    }
  TileClass c{kTileSkip, 0};
  if (!any_visible) return c;
  c.masked = any_hidden;
  c.kind = any_near && any_far ? kTileMixed : any_far ? kTileFar : kTileNear;
  return c;
}

TEST(Tiles, ClassifierAgreesWithPositionPredicates) {
  const char* specs[] = {"rope", "yarn:factor=4", "alibi", "rerope:window=16", "rerope:window=1",
                         "leaky-rerope:window=5,k=4", "self-extend:window=8,group=3", "sliding-window:window=9",
                         "sliding-window:window=6,sinks=4", "sliding-window:window=1,sinks=1"};
  std::mt19937 rng(7);
  int classified = 0, mixed = 0, masked = 0, skipped = 0;
  for (const char* s : specs) {
    const MethodParams p = spec(s);
    const TileBands b = tile_bands(p.method, p.remap);
    for (int trial = 0; trial < 3000; ++trial) {
      const int bm = 1 + (int)(rng() % 12), bn = 1 + (int)(rng() % 12);
      const int m0 = (int)(rng() % 60), j0 = (int)(rng() % 60);
      const TileClass want = brute_force(p, m0, bm, j0, bn);
      const TileClass got = classify_tile(b, m0, bm, j0, bn);
      ASSERT_EQ(got.kind, want.kind) << s << " tile m0=" << m0 << " bm=" << bm << " j0=" << j0 << " bn=" << bn;
      if (got.kind == kTileSkip) {
        ++skipped;
        continue;
      }
      ASSERT_EQ(got.masked, want.masked) << s << " tile m0=" << m0 << " bm=" << bm << " j0=" << j0 << " bn=" << bn;
      ++classified;
      mixed += got.kind == kTileMixed;
      masked += got.masked;
      // element predicates agree with position.h too
      for (int m = m0; m < m0 + bm; ++m)
        for (int j = j0; j < j0 + bn; ++j) {
          ASSERT_EQ(band_visible(b, m, j), position_visible(p, m, j)) << s << " m=" << m << " j=" << j;
          if (j <= m) {
            ASSERT_EQ(band_is_near(b, m - j), remap_is_near(p, (double)(m - j))) << s;
          }
        }
    }
  }
  // the sample reached every class
  EXPECT_GT(classified, 1000);
  EXPECT_GT(mixed, 100);
  EXPECT_GT(masked, 100);
  EXPECT_GT(skipped, 100);
}

TEST(Tiles, BandStartsMatchTheVisibleKeys) {
  for (const char* s : {"rope", "rerope:window=5", "sliding-window:window=4,sinks=2", "sliding-window:window=3"}) {
    const MethodParams p = spec(s);
    const TileBands b = tile_bands(p.method, p.remap);
    for (int m = 0; m < 40; ++m) {
      const int nf = band_near_from(b, m), se = band_sink_end(b, m);
      ASSERT_LE(se, nf);
      for (int j = 0; j <= m; ++j) {
        if (b.sliding) {
          ASSERT_EQ(position_visible(p, m, j), j >= nf || j < se) << s << " m=" << m << " j=" << j;
        }
        if (b.remap) {
          ASSERT_EQ(remap_is_near(p, (double)(m - j)), j >= nf) << s << " m=" << m << " j=" << j;
        }
      }
    }
  }
}

TEST(Tiles, OnlineSoftmaxAndMergeEqualOneSoftmax) {
  std::mt19937 rng(3);
  std::normal_distribution<double> g(0.0, 4.0);
  std::vector<double> s(50), v(50);
  for (size_t i = 0; i < s.size(); ++i) {
    s[i] = g(rng);
    v[i] = g(rng);
  }
  // direct softmax-weighted mean
  double mx = -INFINITY, sum = 0, out = 0;
  for (double x : s) mx = std::max(mx, x);
  for (size_t i = 0; i < s.size(); ++i) {
    sum += std::exp(s[i] - mx);
    out += std::exp(s[i] - mx) * v[i];
  }
  out /= sum;
  const double lse = mx + std::log(sum);
  // online over blocks of 7, then two halves merged by their log-sum-exp
  auto online = [&](size_t a, size_t b, double* o, double* l) {
    SoftmaxRow r{-INFINITY, 0.0f};
    double acc = 0;
    for (size_t k0 = a; k0 < b; k0 += 7) {
      float tmax = -INFINITY;
      for (size_t k = k0; k < std::min(b, k0 + 7); ++k) tmax = std::max(tmax, (float)s[k]);
      const float nm = std::max(r.max, tmax);
      const float alpha = softmax_rescale(r.max, nm, [](float x) { return std::exp(x); });
      r.sum *= alpha;
      acc *= alpha;
      for (size_t k = k0; k < std::min(b, k0 + 7); ++k) {
        const float p = std::exp((float)s[k] - nm);
        r.sum += p;
        acc += p * v[k];
      }
      r.max = nm;
    }
    *o = acc / r.sum;
    *l = softmax_lse(r);
  };
  double o1, l1, o2, l2, o_all, l_all;
  online(0, s.size(), &o_all, &l_all);
  EXPECT_NEAR(o_all, out, 1e-5);
  EXPECT_NEAR(l_all, lse, 1e-5);
  online(0, 23, &o1, &l1);
  online(23, s.size(), &o2, &l2);
  double w1, w2;
  softmax_merge_weights(l1, l2, &w1, &w2);
  EXPECT_NEAR(w1 * o1 + w2 * o2, out, 1e-5);
  softmax_merge_weights(-INFINITY, -INFINITY, &w1, &w2);
  EXPECT_EQ(w1 + w2, 0.0);
}

}  // namespace
}  // namespace ls
