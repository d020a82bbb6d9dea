// S2-Attn's mask against a literal simulation of LongLoRA's steps: roll the
// token ids by -G/2, cut into groups, causal attention inside each, map back.
#include <gtest/gtest.h>

#include <vector>

#include "core/position/s2attn.h"

namespace ls {
namespace {

std::vector<std::vector<int>> simulate(int n, int group, bool shifted) {
  std::vector<int> order(n);  // order[r] = original token at rolled index r (torch.roll(x, -G/2))
  for (int r = 0; r < n; ++r) order[r] = shifted ? (r + group / 2) % n : r;
  std::vector<std::vector<int>> seen(n, std::vector<int>(n, 0));
  for (int g0 = 0; g0 < n; g0 += group)
    for (int a = g0; a < g0 + group; ++a)
      for (int b = g0; b <= a; ++b) seen[order[a]][order[b]] = 1;
  return seen;
}

TEST(S2Attn, MatchesTheRollGroupUnrollSimulation) {
  for (int n : {16, 64, 96})
    for (int group : {4, 8, 16})
      for (bool shifted : {false, true}) {
        if (n % group) continue;
        auto seen = simulate(n, group, shifted);
        for (int m = 0; m < n; ++m)
          for (int j = 0; j < n; ++j) {
            const auto v = s2attn_visibility(n, group, shifted, m, j);
            ASSERT_EQ(v != S2Visibility::Masked, seen[m][j] == 1) << n << " " << group << " " << shifted << " " << m << " " << j;
            if (v == S2Visibility::FutureLeak) {
              ASSERT_GT(j, m);
            }
          }
      }
}

TEST(S2Attn, OnlyTheWrappedGroupLeaksAndOnlyWhenShifted) {
  const int n = 32, group = 8;
  int leaks = 0;
  for (int m = 0; m < n; ++m)
    for (int j = 0; j < n; ++j) {
      EXPECT_NE(s2attn_visibility(n, group, false, m, j), S2Visibility::FutureLeak);
      if (s2attn_visibility(n, group, true, m, j) == S2Visibility::FutureLeak) {
        ++leaks;
        EXPECT_LT(m, group / 2);
        EXPECT_GE(j, n - group / 2);
      }
    }
  EXPECT_EQ(leaks, (group / 2) * (group / 2));  // the first G/2 tokens see all of the last G/2
  // Shifted groups straddle the unshifted borders: token 4 sees token 3 only when shifted.
  EXPECT_EQ(s2attn_visibility(n, group, false, 8, 7), S2Visibility::Masked);
  EXPECT_EQ(s2attn_visibility(n, group, true, 8, 7), S2Visibility::Visible);
}

}  // namespace
}  // namespace ls
