// Relative-position remaps, masks and ALiBi slopes: hand-checkable vectors,
// identities, and the BLOOM / [alibi-interp] references (golden.json).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/position/spec.h"
#include "tests/position/test_util.h"
#include "core/position/tables.h"

namespace ls {
namespace {

const PositionContext kCtx{64, 10000, 512, 512};

std::vector<double> row(const char* s, int n, int m, const PositionContext& g = kCtx) {
  auto mat = relpos_matrix(spec(s), g, n);
  std::vector<double> out;
  for (int j = 0; j < n; ++j) out.push_back(mat[m][j] ? *mat[m][j] : NAN);
  return out;
}

TEST(Relpos, RopeIsToeplitzAndCausal) {
  auto mat = relpos_matrix(spec("rope"), kCtx, 6);
  for (int m = 0; m < 6; ++m)
    for (int j = 0; j < 6; ++j) {
      if (j > m) EXPECT_FALSE(mat[m][j].has_value());
      else EXPECT_EQ(*mat[m][j], m - j);
    }
}

TEST(Relpos, HandVectors) {
  EXPECT_EQ(row("rerope:window=2", 5, 4), (std::vector<double>{2, 2, 2, 1, 0}));
  EXPECT_EQ(row("leaky-rerope:window=2,k=2", 5, 4), (std::vector<double>{3, 2.5, 2, 1, 0}));
  // self-extend w=4, G=2, m=7: far r = ⌊7/2⌋ - ⌊j/2⌋ + 4 - 2
  auto se = row("self-extend:window=4,group=2", 8, 7);
  EXPECT_EQ(se, (std::vector<double>{5, 5, 4, 4, 3, 2, 1, 0}));
  // the two LongLM variants differ when G does not divide w: w=5, G=2 → offset 5-2 = 3 vs 5-2.5 = 2.5
  EXPECT_EQ(row("self-extend:window=5,group=2", 8, 7)[0], 3.0 + 3.0);
  EXPECT_EQ(row("self-extend:window=5,group=2,float_offset=1", 8, 7)[0], 3.0 + 2.5);
  // sliding window W=2 with one sink: j=0 visible at its true distance, j=1,2 masked
  auto sw = row("sliding-window:window=2,sinks=1", 5, 4);
  EXPECT_EQ(sw[0], 4);
  EXPECT_TRUE(std::isnan(sw[1]) && std::isnan(sw[2]));
  EXPECT_EQ(sw[3], 1);
  EXPECT_EQ(sw[4], 0);
  // position interpolation compresses positions ([rerope]'s PI matrix)
  EXPECT_EQ(row("linear:factor=4", 5, 4), (std::vector<double>{1, 0.75, 0.5, 0.25, 0}));
  // NTK variants never scale positions
  EXPECT_EQ(row("ntk:alpha=8", 5, 4), (std::vector<double>{4, 3, 2, 1, 0}));
  EXPECT_EQ(row("yarn:factor=4", 5, 4), (std::vector<double>{4, 3, 2, 1, 0}));
}

TEST(Relpos, Identities) {
  // rerope / leaky / self-extend with window ≥ n are plain rope
  const int n = 40;
  auto rope = relpos_matrix(spec("rope"), kCtx, n);
  for (const char* s : {"rerope:window=40", "leaky-rerope:window=64,k=3", "self-extend:window=40,group=4",
                        "sliding-window:window=40,sinks=0", "linear:factor=1"})
    EXPECT_EQ(relpos_matrix(spec(s), kCtx, n), rope) << s;
  // rerope equals min(m-j, w); leaky with huge k tends to rerope
  auto rr = relpos_matrix(spec("rerope:window=7"), kCtx, n);
  auto lk = relpos_matrix(spec("leaky-rerope:window=7,k=1000000"), kCtx, n);
  for (int m = 0; m < n; ++m)
    for (int j = 0; j <= m; ++j) {
      EXPECT_EQ(*rr[m][j], std::min(m - j, 7));
      EXPECT_NEAR(*lk[m][j], *rr[m][j], 1e-4);
    }
  // leaky-rerope with k=1 is plain rope
  auto k1 = relpos_matrix(spec("leaky-rerope:window=5,k=1"), kCtx, n);
  for (int m = 0; m < n; ++m)
    for (int j = 0; j <= m; ++j) EXPECT_DOUBLE_EQ(*k1[m][j], m - j);
}

TEST(Relpos, FarBandUsesSplitPositions) {
  // r = far_q(m) - far_k(j) reproduces [rerope]'s one-matrix decoding form
  // q·R^{max(j-m, (j-m+w)/k - w)} k for leaky-rerope.
  auto p = spec("leaky-rerope:window=16,k=4");
  for (int m = 0; m < 100; ++m)
    for (int j = 0; j <= m; ++j) {
      double seed = -std::max<double>(j - m, (j - m + 16.0) / 4.0 - 16.0);
      EXPECT_NEAR(relpos(p, kCtx, m, j), seed, 1e-12);
    }
}

TEST(Relpos, SelfExtendReach) {
  // reach (L - w)·G + w: at that distance r reaches L (LongLM)
  auto p = spec("self-extend:window=64,group=4");
  const int L = 512, reach = (L - 64) * 4 + 64;
  double r = relpos(p, kCtx, reach, 0);
  EXPECT_LE(r, L);
  EXPECT_GE(r, L - 1);
}

TEST(Alibi, GoldenSlopes) {
  std::ifstream f(LONGSCOPE_TEST_DIR "/position/golden.json");
  ASSERT_TRUE(f.good());
  auto golden = nlohmann::json::parse(f);
  for (const auto& c : golden["alibi"]) {
    auto s = alibi_slopes(spec(c["spec"].get<std::string>().c_str()), kCtx, c["heads"]);
    ASSERT_EQ(s.size(), c["slopes"].size());
    for (size_t h = 0; h < s.size(); ++h)
      EXPECT_NEAR(s[h], c["slopes"][h].get<double>(), 1e-12) << c["spec"] << " H=" << c["heads"] << " h=" << h + 1;
  }
}

TEST(Alibi, HandSlopes) {
  auto p = spec("alibi");
  auto s8 = alibi_slopes(p, kCtx, 8);
  for (int h = 1; h <= 8; ++h) EXPECT_DOUBLE_EQ(s8[h - 1], std::pow(2.0, -h));
  auto s16 = alibi_slopes(p, kCtx, 16);
  for (int h = 1; h <= 16; ++h) EXPECT_DOUBLE_EQ(s16[h - 1], std::pow(2.0, -0.5 * h));
  // 12 heads: 8 of base 2^-1, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5 (BLOOM)
  auto s12 = alibi_slopes(p, kCtx, 12);
  for (int h = 1; h <= 8; ++h) EXPECT_DOUBLE_EQ(s12[h - 1], std::pow(2.0, -h));
  EXPECT_DOUBLE_EQ(s12[8], std::pow(2.0, -0.5));
  EXPECT_DOUBLE_EQ(s12[11], std::pow(2.0, -3.5));
  // 20 heads: 16 of base 2^-0.5, then 2^-0.25·{1,3,5,7}
  auto s20 = alibi_slopes(p, kCtx, 20);
  EXPECT_DOUBLE_EQ(s20[15], std::pow(2.0, -8.0));
  EXPECT_DOUBLE_EQ(s20[16], std::pow(2.0, -0.25));
  EXPECT_DOUBLE_EQ(s20[19], std::pow(2.0, -1.75));
}

// MPT's own rule (llm-foundry / transformers modeling_mpt.py gen_slopes, written out
// here): over the next power of two P ≥ H, m_k = 2^(-8k/P), k = 1 … P; when P ≠ H the
// odd-numbered k first, then the even, the first H kept. It gives the same slopes
// as BLOOM's rule, which core/position implements, for every head count.
TEST(Alibi, MptRuleGivesTheSameSlopes) {
  MethodParams p;
  p.method = Method::Alibi;
  for (int H : {1, 2, 6, 8, 12, 20, 32, 48, 64}) {
    int P = 1;
    while (P < H) P *= 2;
    std::vector<double> all, mpt;
    for (int k = 1; k <= P; ++k) all.push_back(std::pow(2.0, -8.0 * k / P));
    if (P == H) mpt = all;
    else {
      for (int i = 1; i < P; i += 2) mpt.push_back(all[i]);
      for (int i = 0; i < P; i += 2) mpt.push_back(all[i]);
      mpt.resize(H);
    }
    auto s = alibi_slopes(p, kCtx, H);
    ASSERT_EQ((int)s.size(), H);
    for (int h = 0; h < H; ++h) EXPECT_NEAR(s[h], mpt[h], 1e-15 * mpt[h]) << "H=" << H << " h=" << h;
  }
}

TEST(Alibi, NtkScalesLowFrequencyHeadsOnly) {
  // power of two: first head unchanged, last divided by a; default == [alibi-interp]'s form
  for (int H : {8, 16, 32}) {
    auto base = alibi_slopes(spec("alibi"), kCtx, H);
    auto ntk = alibi_slopes(spec("ntk-alibi:a=4"), kCtx, H);
    auto seed = alibi_slopes(spec("ntk-alibi:a=4,seed_exact=1"), kCtx, H);
    EXPECT_DOUBLE_EQ(ntk[0], base[0]);
    EXPECT_NEAR(ntk[H - 1], base[H - 1] / 4, 1e-15);
    for (int h = 0; h < H; ++h) EXPECT_NEAR(ntk[h], seed[h], 1e-15);
  }
  // 12 heads: default scales the smallest slope by 1/a, [alibi-interp]'s form leaves extra heads unscaled
  auto base = alibi_slopes(spec("alibi"), kCtx, 12);
  auto ntk = alibi_slopes(spec("ntk-alibi:a=2"), kCtx, 12);
  auto seed = alibi_slopes(spec("ntk-alibi:a=2,seed_exact=1"), kCtx, 12);
  EXPECT_NEAR(ntk[7], base[7] / 2, 1e-15);  // head 8 holds the smallest slope 2^-8
  EXPECT_DOUBLE_EQ(ntk[8], base[8]);        // head 9 holds the largest, 2^-0.5
  EXPECT_LT(ntk[11], base[11]);
  EXPECT_DOUBLE_EQ(seed[11], base[11]);
}

TEST(Alibi, DynamicNtkFollowsLength) {
  auto p = spec("dynamic-ntk-alibi:a0=2");
  auto plain = alibi_slopes(spec("alibi"), kCtx, 8);
  // n = L/4: a = max(2/4, 1) = 1 → plain ALiBi
  EXPECT_EQ(alibi_slopes(p, PositionContext{64, 10000, 512, 128}, 8), plain);
  // n = 2L: a = 4
  auto at2L = alibi_slopes(p, PositionContext{64, 10000, 512, 1024}, 8);
  auto ntk4 = alibi_slopes(spec("ntk-alibi:a=4"), kCtx, 8);
  for (int h = 0; h < 8; ++h) EXPECT_NEAR(at2L[h], ntk4[h], 1e-15);
  // linear interpolation divides every slope by a
  auto lin = alibi_slopes(spec("alibi-linear:a=3"), kCtx, 8);
  for (int h = 0; h < 8; ++h) EXPECT_NEAR(lin[h], plain[h] / 3, 1e-15);
}

}  // namespace
}  // namespace ls
