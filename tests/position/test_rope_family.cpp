// RoPE-family tables against independent references (golden.json, written by
// make_golden.py from the HF / source code structure), hand vectors and identities.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/position/spec.h"
#include "tests/position/test_util.h"
#include "core/position/tables.h"

namespace ls {
namespace {

PositionContext ctx(int d, double base, double L, double n) { return PositionContext{d, base, L, n}; }

TEST(RopeGolden, MatchesIndependentReference) {
  std::ifstream f(LONGSCOPE_TEST_DIR "/position/golden.json");
  ASSERT_TRUE(f.good());
  auto golden = nlohmann::json::parse(f);
  int checked = 0;
  for (const auto& c : golden["rope"]) {
    MethodParams p = spec(c["spec"].get<std::string>().c_str());
    PositionContext g = ctx(c["head_dim"], c["base"], c["train_len"], c["seq_len"]);
    RopeTable t = rope_table(p, g);
    const auto& want = c["inv_freq"];
    ASSERT_EQ(t.inv_freq.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(t.inv_freq[i], want[i].get<double>(), 1e-12 * std::fabs(want[i].get<double>()))
          << c["spec"] << " d=" << c["head_dim"] << " base=" << c["base"] << " L=" << c["train_len"]
          << " n=" << c["seq_len"] << " i=" << i;
    EXPECT_NEAR(t.attention_factor, c["attention_factor"].get<double>(), 1e-12) << c["spec"];
    EXPECT_NEAR(t.logit_multiplier, t.attention_factor * t.attention_factor, 1e-15);
    ++checked;
  }
  EXPECT_GT(checked, 150);
}

TEST(RopeHand, D8Base10000) {
  // θ_i = 10000^(-2i/8) = 1, 0.1, 0.01, 0.001
  auto t = rope_table(spec("rope"), ctx(8, 10000, 512, 512));
  const double want[] = {1, 0.1, 0.01, 0.001};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(t.inv_freq[i], want[i], 1e-15);
  EXPECT_NEAR(t.wavelength[1], 2 * 3.14159265358979323846 / 0.1, 1e-9);
  // linear ×4: every θ divided by 4
  auto lin = rope_table(spec("linear:factor=4"), ctx(8, 10000, 512, 512));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(lin.inv_freq[i], want[i] / 4, 1e-15);
  // ntk α=8, d=8: b' = 10000·8^(8/6) = 160000, θ_i = 160000^(-i/4) = 1, 1/20, 1/400, 1/8000
  auto ntk = rope_table(spec("ntk:alpha=8"), ctx(8, 10000, 512, 512));
  const double ntk_want[] = {1, 0.05, 0.0025, 0.000125};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(ntk.inv_freq[i], ntk_want[i], 1e-14);
  // yarn ×4 at d=8, L=512: low = floor(0.406) = 0, high = ceil(1.911) = 2, ramp = i/2
  auto y = rope_table(spec("yarn:factor=4"), ctx(8, 10000, 512, 512));
  const double y_want[] = {1, 0.5 * 0.1 / 4 + 0.5 * 0.1, 0.01 / 4, 0.001 / 4};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y.inv_freq[i], y_want[i], 1e-15);
  EXPECT_NEAR(y.attention_factor, 0.1 * std::log(4.0) + 1, 1e-15);
}

TEST(RopeIdentity, ScalingOneIsRope) {
  for (int d : {8, 64, 128})
    for (double base : {10000.0, 500000.0}) {
      auto g = ctx(d, base, 2048, 2048);
      auto rope = rope_table(spec("rope"), g).inv_freq;
      for (const char* s : {"linear:factor=1", "ntk:alpha=1", "ntk-by-parts:factor=1", "yarn:factor=1",
                            "llama3:factor=1", "dynamic-ntk:alpha=3", "dynamic-linear", "dynamic-yarn",
                            "rerope:window=16", "sliding-window:window=8"}) {
        auto t = rope_table(spec(s), g);
        for (int i = 0; i < d / 2; ++i) EXPECT_NEAR(t.inv_freq[i], rope[i], 1e-15 * rope[i]) << s << " i=" << i;
        EXPECT_EQ(t.attention_factor, 1.0) << s;
      }
    }
}

TEST(RopeYarn, RampEndpoints) {
  // Pairs below low keep θ (extrapolate); pairs at or above high get θ/s.
  auto p = spec("yarn:factor=8");
  auto g = ctx(128, 10000, 4096, 4096);
  double low = std::floor(rope_yarn_correction_dim(32, 128, 10000, 4096));
  double high = std::ceil(rope_yarn_correction_dim(1, 128, 10000, 4096));
  ASSERT_LT(low, high);
  for (int i = 0; i < 64; ++i) {
    double th = rope_theta(i, 128, 10000), got = rope_inv_freq(p, g, i);
    if (i <= low) {
      EXPECT_DOUBLE_EQ(got, th) << i;
    }
    if (i >= high) {
      EXPECT_DOUBLE_EQ(got, th / 8) << i;
    }
    if (i > low && i < high) {
      EXPECT_LT(got, th);
      EXPECT_GT(got, th / 8);
    }
  }
  EXPECT_EQ(rope_yarn_ramp(p.rope, g, 0), 0.0);
  EXPECT_EQ(rope_yarn_ramp(p.rope, g, 63), 1.0);
}

TEST(RopeDynamic, UnchangedUpToLChangedBeyond) {
  for (const char* s : {"dynamic-ntk:alpha=2", "dynamic-linear", "dynamic-yarn"}) {
    auto p = spec(s);
    auto rope = rope_table(spec("rope"), ctx(64, 10000, 1024, 1024)).inv_freq;
    for (double n : {1.0, 100.0, 1024.0}) {
      auto t = rope_table(p, ctx(64, 10000, 1024, n));
      for (int i = 0; i < 32; ++i) EXPECT_DOUBLE_EQ(t.inv_freq[i], rope[i]) << s << " n=" << n;
    }
    auto at2L = rope_table(p, ctx(64, 10000, 1024, 2048)).inv_freq;
    auto at4L = rope_table(p, ctx(64, 10000, 1024, 4096)).inv_freq;
    EXPECT_LT(at2L[31], rope[31]) << s;      // the slowest pair slows down beyond L
    EXPECT_LT(at4L[31], at2L[31]) << s;      // and more so with n
    if (p.method == Method::DynamicLinear) {
      EXPECT_DOUBLE_EQ(at4L[0], rope[0] / 4) << "dynamic-linear divides every pair by n/L";
    } else {
      EXPECT_DOUBLE_EQ(at4L[0], rope[0]) << s << ": the fastest pair is kept";
    }
  }
}

TEST(RopeLogn, ScaleOnlyBeyondL) {
  EXPECT_EQ(logn_scale(0, 512), 1.0);
  EXPECT_EQ(logn_scale(510, 512), 1.0);
  EXPECT_NEAR(logn_scale(511, 512), 1.0, 1e-15);
  EXPECT_NEAR(logn_scale(4095, 512), std::log(4096.0) / std::log(512.0), 1e-15);
}

}  // namespace
}  // namespace ls
