// The CUDA backend against the CPU backend (label gpu: skipped, visibly, where no
// CUDA device is present). Weights are bf16 on the device, so every comparison is
// made on models stored in bf16 (the CPU reads the same rounded weights) and
// allows for the GEMM inputs' bf16 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"
#include "core/engine/engine.h"
#include "core/position/spec.h"
#include "gpu/cuda_backend.h"
#include "gpu/rope_table.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

#define LS_REQUIRE_GPU()                                                   \
  if (!gpu::device_available()) GTEST_SKIP() << "no CUDA device present"; \
  gpu::register_cuda_backend()

// One backend per model and kind for the whole test program (one upload each).
BackendCache& backends() {
  static BackendCache cache;
  return cache;
}

// Per-token NLL of `toks` on one backend.
std::vector<double> nll_on(std::shared_ptr<const Model> m, const std::string& backend, const std::string& method,
                           const std::vector<int>& toks, const AttentionObserver* observer = nullptr, int chunk = 48) {
  EngineOptions o;
  BackendRequest request;
  request.kind = backend;
  o.method = method.empty() ? m->config.native_method : parse_method_spec(method).value();
  o.observer = observer;
  o.chunk = chunk;  // several chunks: the cache grows and keys are appended across calls
  auto e = make_engine(m, o, (int)toks.size(), DType::F32, request, &backends());
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error());
  if (!e.ok()) return {};
  EXPECT_TRUE((*e)->forward(toks.data(), (int)toks.size() - 1).ok());
  std::vector<double> out(toks.size() - 1);
  EXPECT_TRUE((*e)->nll(0, (int)out.size(), toks.data() + 1, out.data()).ok());
  return out;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double worst = 0, mean_a = 0, mean_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]));
    mean_a += a[i] / a.size();
    mean_b += b[i] / b.size();
  }
  EXPECT_LE(worst, tol) << what;
  EXPECT_LE(std::fabs(mean_a - mean_b), tol / 5) << what;
}

std::shared_ptr<const Model> bf16_model(const std::string& shape) {
  const std::string dir = temp_dir("cuda-" + shape);
  EXPECT_TRUE(write_gguf_model(make_random_model(random_model_shape(shape).value()), dir + "/m.gguf", DType::BF16).ok());
  return load_ok(dir + "/m.gguf");
}

TEST(CudaBackend, BundledModelNllMatchesCpuForEveryMethod) {
  LS_REQUIRE_GPU();
  auto m = load_ok(bundled_gguf(), 64);  // L = 64: 300 tokens run far beyond it
  auto toks = story_tokens(300);
  for (const char* s : {"rope", "linear:factor=4", "ntk:alpha=4", "dynamic-ntk:alpha=2", "yarn:factor=4",
                        "llama3:factor=4", "rerope:window=16,logn=1", "leaky-rerope:window=16,k=4",
                        "self-extend:window=16,group=4", "sliding-window:window=24,sinks=4",
                        "dynamic-ntk:alpha=2,cache=raw"})
    expect_close(nll_on(m, "cuda", s, toks), nll_on(m, "cpu", s, toks), 0.05, s);
}

TEST(CudaBackend, ArchitecturesMatchCpu) {
  LS_REQUIRE_GPU();
  std::vector<int> toks;
  for (int i = 0; i < 200; ++i) toks.push_back((i * 17 + 11) % 512);
  for (const char* shape : {"tiny-qwen2", "tiny-phi3", "tiny-gemma2", "tiny-gemma3", "tiny-neox", "tiny-stablelm",
                            "tiny-phi2", "tiny-bloom", "tiny-mpt"}) {
    auto m = bf16_model(shape);
    ASSERT_TRUE(m) << shape;
    expect_close(nll_on(m, "cuda", "", toks), nll_on(m, "cpu", "", toks), 0.05, shape);
  }
}

// A real size: random weights with every matrix of Llama-2-7B's shape (4096 wide,
// 32 heads of 128 dims on the flash path, 11008 hidden, 32000 vocabulary) but two
// layers instead of 32, so writing the file stays within a device session (bf16,
// 1.4 GB in the temp folder, removed after); 96 tokens over two chunks, the CUDA
// backend against the CPU backend reading the same weights.
TEST(CudaBackend, Llama2SevenBShapesMatchCpu) {
  LS_REQUIRE_GPU();
  const std::string dir = temp_dir("cuda-llama2-7b");
  {
    auto spec = random_model_shape("llama2-7b").value();
    spec.n_layers = 2;
    ASSERT_TRUE(write_gguf_model(make_random_model(spec), dir + "/m.gguf", DType::BF16).ok());
  }
  auto m = load_ok(dir + "/m.gguf");
  ASSERT_TRUE(m);
  std::vector<int> toks;
  for (int i = 0; i < 97; ++i) toks.push_back((i * 7919 + 13) % 32000);
  for (const char* method : {"rope", "rerope:window=32,logn=1"})
    expect_close(nll_on(m, "cuda", method, toks), nll_on(m, "cpu", method, toks), 0.05, method);
  m.reset();
  std::filesystem::remove_all(dir);
}

// The probed head's rows from a cuda run (rows[0]) and a cpu run (rows[1]): every row
// as long as its query's keys, summing to 1 on the device, equal to the CPU's.
void expect_probes_close(const std::vector<std::vector<float>> (&rows)[2], size_t n, const std::string& what) {
  double worst = 0;
  for (size_t r = 0; r + 1 < n; ++r) {
    ASSERT_EQ(rows[0][r].size(), r + 1) << what;
    ASSERT_EQ(rows[1][r].size(), r + 1) << what;
    double sum = 0;
    for (size_t j = 0; j <= r; ++j) {
      sum += rows[0][r][j];
      worst = std::max(worst, (double)std::fabs(rows[0][r][j] - rows[1][r][j]));
    }
    EXPECT_NEAR(sum, 1.0, 1e-3) << what << " row " << r;
  }
  EXPECT_LE(worst, 1e-2) << what;
}

// Per-token NLL on cuda and cpu, probing (layer, head) on both.
void compare_with_probe(std::shared_ptr<const Model> m, const std::string& method, const std::vector<int>& toks,
                        int layer, int head, int chunk) {
  std::vector<std::vector<float>> rows[2];
  std::vector<double> nll[2];
  for (int k = 0; k < 2; ++k) {
    rows[k].assign(toks.size(), {});
    AttentionObserver obs;
    obs.layer = layer;
    obs.head = head;
    obs.on_row = [&rows, k](int, int m_pos, const float* p, int n) { rows[k][m_pos].assign(p, p + n); };
    nll[k] = nll_on(m, k == 0 ? "cuda" : "cpu", method, toks, &obs, chunk);
  }
  expect_close(nll[0], nll[1], 0.05, method);
  expect_probes_close(rows, toks.size(), method);
}

TEST(CudaBackend, ProbedProbabilitiesMatchCpu) {
  LS_REQUIRE_GPU();
  auto m = load_ok(bundled_gguf(), 64);
  auto toks = story_tokens(200);
  for (const char* s : {"rope", "rerope:window=16", "sliding-window:window=24,sinks=4"})
    compare_with_probe(m, s, toks, 1, 2, 48);
}

// The flash path (64-dim heads on a bf16 cache) against the CPU backend over several
// chunks, for a plain, a remapping and a masking method, with the probe recomputing
// probabilities from the flash kernel's log-sum-exp.
TEST(CudaBackend, FlashPathMatchesCpu) {
  LS_REQUIRE_GPU();
  RandomModelSpec spec;
  spec.dim = 256, spec.hidden_dim = 512, spec.n_layers = 2, spec.n_heads = 4, spec.n_kv_heads = 2, spec.train_len = 128;
  const std::string dir = temp_dir("cuda-flash-hd64");
  ASSERT_TRUE(write_gguf_model(make_random_model(spec), dir + "/m.gguf", DType::BF16).ok());
  auto m = load_ok(dir + "/m.gguf");
  ASSERT_TRUE(m);
  std::vector<int> toks;
  for (int i = 0; i < 700; ++i) toks.push_back((i * 37 + 5) % 512);
  for (const char* s : {"rope", "rerope:window=100,logn=1", "sliding-window:window=200,sinks=4"})
    compare_with_probe(m, s, toks, 1, 1, 256);
}

}  // namespace
}  // namespace ls::test
