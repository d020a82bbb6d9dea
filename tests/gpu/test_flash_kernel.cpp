// The CUDA flash attention on a device (label gpu: skipped, visibly, without one):
// the kernel against its CPU emulator on the same bf16 inputs, for every method
// and the lengths of the emulator's own test (which checks the emulator against
// the double-precision reference). Through the engine, the flash path is checked
// in test_cuda_backend.cpp (CudaBackend.FlashPathMatchesCpu).
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/flash_device.h"
#include "gpu/rope_table.h"
#include "tests/gpu/flash_case.h"

namespace ls::test {
namespace {

#define LS_REQUIRE_GPU() \
  if (!gpu::device_available()) GTEST_SKIP() << "no CUDA device present"

TEST(FlashKernel, EqualsItsEmulatorForEveryMethod) {
  LS_REQUIRE_GPU();
  const char* methods[] = {"rope", "rope:logn=1", "linear:factor=4", "ntk:alpha=8", "dynamic-ntk:alpha=2,cache=raw",
                           "yarn:factor=4", "llama3:factor=8", "rerope:window=100,logn=1",
                           "leaky-rerope:window=100,k=16", "self-extend:window=100,group=8",
                           "sliding-window:window=300,sinks=4", "alibi", "ntk-alibi:a=8"};
  struct Size {
    int n, p0;
  };
  int checked = 0;
  for (int hd : {64, 128})
    for (const char* spec : methods)
      for (Size z : {Size{1, 0}, Size{17, 9}, Size{128, 0}, Size{1000, 900}, Size{1000, 0}, Size{4096, 4026}}) {
        const FlashInputs in = make_flash_case(4, hd == 64 ? 2 : 1, hd, hd == 64 ? 32 : 128,
                                               hd == 64 ? PairLayout::HalfSplit : PairLayout::Interleaved, spec, z.n,
                                               z.p0, 256.0, 0.0, 100u + (unsigned)checked)
                                   .in;
        const gpu::FlashDeviceRun dev = gpu::flash_on_device(in, 0);
        ASSERT_TRUE(dev.error.empty()) << dev.error;
        std::vector<float> out(dev.out.size()), lse(dev.lse.size());
        flash_emulate(in, out.data(), lse.data());
        double worst = 0, worst_lse = 0;
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_TRUE(std::isfinite(dev.out[i])) << spec << " element " << i << " was not written";
          worst = std::max(worst, (double)std::fabs(dev.out[i] - out[i]));
        }
        for (size_t i = 0; i < lse.size(); ++i) worst_lse = std::max(worst_lse, (double)std::fabs(dev.lse[i] - lse[i]));
        EXPECT_LE(worst, 2e-3) << spec << " hd=" << hd << " n=" << z.n << " p0=" << z.p0;
        EXPECT_LE(worst_lse, 1e-3) << spec << " hd=" << hd << " n=" << z.n;
        ++checked;
      }
  EXPECT_EQ(checked, 2 * 13 * 6);
}

// gpt-oss's sink logits through the kernel (the emulator's own check is CPU-side:
// FlashEmulator.SinkLogitsJoinEverySoftmax).
TEST(FlashKernel, SinkLogitsEqualTheEmulator) {
  LS_REQUIRE_GPU();
  const float sinks[4] = {5.0f, 5.5f, 6.0f, 6.5f};
  for (const char* spec : {"rope", "rerope:window=100", "alibi"})
    for (int hd : {64, 128}) {
      const FlashInputs in = make_flash_case(4, 2, hd, hd, PairLayout::HalfSplit, spec, 1000, 900, 256.0, 0.0, 5u, sinks).in;
      const gpu::FlashDeviceRun dev = gpu::flash_on_device(in, 0);
      ASSERT_TRUE(dev.error.empty()) << dev.error;
      std::vector<float> out(dev.out.size()), lse(dev.lse.size());
      flash_emulate(in, out.data(), lse.data());
      double worst = 0;
      for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, (double)std::fabs(dev.out[i] - out[i]));
      EXPECT_LE(worst, 2e-3) << spec << " hd=" << hd;
    }
}

}  // namespace
}  // namespace ls::test
