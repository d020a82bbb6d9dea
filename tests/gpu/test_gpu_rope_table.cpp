// GPU parity for the rotary tables: the device evaluates the same position.h
// the CPU does. Skipped (visibly) where no CUDA device is present.
#include <gtest/gtest.h>

#include <cmath>

#include "core/position/spec.h"
#include "core/position/tables.h"
#include "gpu/rope_table.h"

namespace ls {
namespace {

#define LS_REQUIRE_GPU() \
  if (!gpu::device_available()) GTEST_SKIP() << "no CUDA device present"

TEST(GpuRopeTable, InvFreqMatchesCpu) {
  LS_REQUIRE_GPU();
  for (const auto& info : method_registry()) {
    if (method_is_alibi(info.method)) continue;
    std::string s = info.name, sep = ":";
    for (const auto& p : info.params)
      if (p.default_value.empty()) { s += sep + p.key + "=4"; sep = ","; }
    auto p = parse_method_spec(s);
    ASSERT_TRUE(p.ok()) << p.error();
    PositionContext g{128, 500000, 8192, 32768};
    auto dev = gpu::device_rope_inv_freq(p.value(), g);
    ASSERT_TRUE(dev.ok()) << dev.error();
    auto cpu = rope_table(p.value(), g).inv_freq;
    for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(dev.value()[i], cpu[i], 1e-12 * cpu[i]) << s << " " << i;
  }
}

TEST(GpuRopeTable, CosSinMatchesCpuAtLargePositions) {
  LS_REQUIRE_GPU();
  auto p = parse_method_spec("yarn:factor=8").value();
  PositionContext g{128, 10000, 4096, 32768};
  const int n = 32768;
  auto dev = gpu::device_rope_cos_sin(p, g, n);
  ASSERT_TRUE(dev.ok()) << dev.error();
  auto t = rope_table(p, g);
  for (int pos : {0, 1, 4095, 20000, 32767})
    for (int i = 0; i < 64; ++i) {
      double a = pos * t.inv_freq[i];
      EXPECT_NEAR(dev->cos[(size_t)pos * 64 + i], std::cos(a) * t.attention_factor, 2e-6);
      EXPECT_NEAR(dev->sin[(size_t)pos * 64 + i], std::sin(a) * t.attention_factor, 2e-6);
    }
}

}  // namespace
}  // namespace ls
