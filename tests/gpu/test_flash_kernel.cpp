// The CUDA flash attention on a device (label gpu: skipped, visibly, without one):
// the kernel against its CPU emulator on the same bf16 inputs, for every method
// and the lengths of the emulator's own test (which checks the emulator against
// the double-precision reference); and, through the engine, the flash path of the
// CUDA backend against the CPU backend on a model with 64-dim heads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/engine/engine.h"
#include "core/model/dtype.h"
#include "core/model/random_model.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "gpu/cuda_backend.h"
#include "gpu/flash_device.h"
#include "gpu/rope_table.h"
#include "tests/engine/test_support.h"

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

// The backend's flash path (64-dim heads, bf16 cache) against the CPU backend, per-token
// NLL over several chunks, for a plain, a remapping and a masking method; and the
// probed head's probabilities, recomputed from the flash kernel's log-sum-exp.
TEST(FlashKernel, BackendFlashPathMatchesCpu) {
  LS_REQUIRE_GPU();
  gpu::register_cuda_backend();
  RandomModelSpec spec;
  spec.dim = 256, spec.hidden_dim = 512, spec.n_layers = 2, spec.n_heads = 4, spec.n_kv_heads = 2, spec.train_len = 128;
  const std::string dir = temp_dir("cuda-flash-hd64");
  ASSERT_TRUE(write_gguf_model(make_random_model(spec), dir + "/m.gguf", DType::BF16).ok());
  auto model = load_ok(dir + "/m.gguf");
  std::vector<int> toks;
  for (int i = 0; i < 700; ++i) toks.push_back((i * 37 + 5) % 512);
  for (const char* method : {"rope", "rerope:window=100,logn=1", "sliding-window:window=200,sinks=4"}) {
    std::vector<double> nll[2];
    std::vector<std::vector<float>> rows[2];
    for (int b = 0; b < 2; ++b) {
      rows[b].assign(toks.size(), {});
      AttentionObserver obs;
      obs.layer = 1;
      obs.head = 1;
      obs.on_row = [&rows, b](int, int m_pos, const float* pr, int n) { rows[b][m_pos].assign(pr, pr + n); };
      EngineOptions o;
      o.observer = &obs;
      o.backend = b == 0 ? "cuda" : "cpu";
      o.method = parse_method_spec(method).value();
      o.chunk = 256;
      auto e = Engine<float>::create(model, o, (int)toks.size());
      ASSERT_TRUE(e.ok()) << (e.ok() ? "" : e.error());
      ASSERT_TRUE((*e)->forward(toks.data(), (int)toks.size() - 1).ok());
      nll[b].resize(toks.size() - 1);
      ASSERT_TRUE((*e)->nll(0, (int)nll[b].size(), toks.data() + 1, nll[b].data()).ok());
    }
    double worst = 0, worst_p = 0;
    for (size_t i = 0; i < nll[0].size(); ++i) worst = std::max(worst, std::fabs(nll[0][i] - nll[1][i]));
    EXPECT_LE(worst, 0.05) << method;
    for (size_t r = 0; r + 1 < toks.size(); ++r) {
      ASSERT_EQ(rows[0][r].size(), r + 1) << method;
      ASSERT_EQ(rows[1][r].size(), r + 1) << method;
      double sum = 0;
      for (size_t j = 0; j <= r; ++j) {
        sum += rows[0][r][j];
        worst_p = std::max(worst_p, (double)std::fabs(rows[0][r][j] - rows[1][r][j]));
      }
      EXPECT_NEAR(sum, 1.0, 2e-3) << method << " row " << r;
    }
    EXPECT_LE(worst_p, 1e-2) << method;
  }
}

}  // namespace
}  // namespace ls::test
