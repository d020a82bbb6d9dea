// The CUDA flash attention on a device (label gpu: skipped, visibly, without one):
// the kernel against its CPU emulator on the same bf16 inputs, for every method
// and the lengths of the emulator's own test (which checks the emulator against
// the double-precision reference). Through the engine, the flash path is checked
// in test_cuda_backend.cpp (CudaBackend.FlashPathMatchesCpu).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/model/dtype.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "gpu/flash_device.h"
#include "gpu/rope_table.h"

namespace ls::test {
namespace {

#define LS_REQUIRE_GPU() \
  if (!gpu::device_available()) GTEST_SKIP() << "no CUDA device present"

FlashInputs random_inputs(int H, int KV, int hd, int rd, PairLayout layout, const char* spec, int n, int p0,
                          unsigned seed) {
  const MethodParams m = parse_method_spec(spec).value();
  const PositionContext ctx{rd, 10000.0, 256.0, (double)n};
  AttentionParams p = attention_params(m, H, KV, hd, rd, layout, 256.0);
  p.p0 = p0;
  p.n_new = n - p0;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const float qk = 1.7f / std::pow((float)hd, 0.25f);
  std::vector<float> q((size_t)p.n_new * H * hd), k((size_t)n * KV * hd), v(k.size());
  for (float& e : q) e = g(rng) * qk;
  for (float& e : k) e = g(rng) * qk;
  for (float& e : v) e = g(rng);
  return flash_prepare(p, position_tables(m, ctx, H), key_form_for(m), q.data(), k.data(), v.data());
}

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
        const FlashInputs in = random_inputs(4, hd == 64 ? 2 : 1, hd, hd == 64 ? 32 : 128,
                                             hd == 64 ? PairLayout::HalfSplit : PairLayout::Interleaved, spec, z.n, z.p0,
                                             100u + (unsigned)checked);
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

}  // namespace
}  // namespace ls::test
