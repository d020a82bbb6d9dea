// Mixture-of-experts throughput against a dense model of the same active size, side
// by side in one run: a Mixtral-shaped random model (E experts of width W, k per
// token) against a LLaMA model whose one feed-forward has width k·W (the same
// multiply-adds per token in the feed-forward; the router adds E·dim). Both as
// BF16 safetensors, the same window, runs interleaved, medians over --reps.
//   moe / dense = tokens/s of the mixture over tokens/s of the dense model.
// A mixture also reads E/k times the feed-forward weights per micro-batch, and its
// GEMMs are k·chunk/E rows tall instead of chunk: the ratio says what that costs.
//
// usage: bench_moe [--ctx 512] [--reps 5] [--experts 8] [--used 2] [--dim 512] [--width 512] [--threads T]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/analysis/analysis.h"
#include "core/cpu/blas_info.h"
#include "core/model/random_model.h"

namespace {

using namespace ls;

using ls::bench::median;

std::shared_ptr<const Model> write_and_load(const RandomModelSpec& s, const std::string& dir) {
  if (auto st = write_hf_model(make_random_model(s), dir); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().c_str());
    std::exit(1);
  }
  auto m = load_model(dir);
  if (!m) {
    std::fprintf(stderr, "error: %s\n", m.error().c_str());
    std::exit(1);
  }
  return m.value();
}

}  // namespace

int main(int argc, char** argv) {
  int ctx = 512, reps = 5, experts = 8, used = 2, dim = 512, width = 512, threads = 0;
  CLI::App app{"Mixture-of-experts tokens/s against a dense model of the same active size (bench/README.md)"};
  app.add_option("--ctx", ctx, "window length")->check(CLI::Range(16, 1 << 16));
  app.add_option("--reps", reps, "runs per model")->check(CLI::Range(1, 1000));
  app.add_option("--experts", experts, "experts E")->check(CLI::Range(2, 256));
  app.add_option("--used", used, "experts per token k")->check(CLI::Range(1, 256));
  app.add_option("--dim", dim, "model width")->check(CLI::Range(64, 8192));
  app.add_option("--width", width, "each expert's width W")->check(CLI::Range(32, 65536));
  app.add_option("--threads", threads, "threads (0: all cores)")->check(CLI::Range(0, 4096));
  CLI11_PARSE(app, argc, argv);
  if (used > experts) {
    std::fprintf(stderr, "error: --used exceeds --experts\n");
    return 1;
  }
  RandomModelSpec moe = random_model_shape("tiny-mixtral").value();
  moe.dim = dim, moe.n_heads = dim / 64, moe.n_kv_heads = std::max(1, dim / 256), moe.n_layers = 4;
  moe.vocab_size = 4096, moe.train_len = ctx, moe.hidden_dim = width, moe.n_experts = experts, moe.n_used = used;
  RandomModelSpec dense = moe;
  dense.moe.clear(), dense.n_experts = dense.n_used = 0, dense.hidden_dim = used * width;
  const auto dir = std::filesystem::temp_directory_path() / ("longscope_bench_moe_" + std::to_string(::getpid()));
  auto m_moe = write_and_load(moe, (dir / "moe").string()), m_dense = write_and_load(dense, (dir / "dense").string());
  std::filesystem::remove_all(dir);
  std::mt19937 rng(7);
  std::vector<int> toks((size_t)ctx + 1);
  for (int& t : toks) t = (int)(rng() % (unsigned)moe.vocab_size);
  BackendCache backends;
  auto seconds = [&](const std::shared_ptr<const Model>& m) {
    RunConfig run;
    run.model = m;
    run.backends = &backends;
    run.backend.cpu.threads = threads;
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_ppl(run, toks, ctx, 1);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) {
      std::fprintf(stderr, "error: %s\n", r.error().c_str());
      std::exit(1);
    }
    return s;
  };
  seconds(m_moe), seconds(m_dense);  // uploads and first-touch outside the timing
  std::vector<double> t_moe, t_dense;
  for (int r = 0; r < reps; ++r) {
    t_moe.push_back(seconds(m_moe));
    t_dense.push_back(seconds(m_dense));
  }
  const double a = ctx / median(t_moe), b = ctx / median(t_dense);
  std::printf("BLAS: %s\n", blas_description().c_str());
  std::printf("dim %d, 4 layers, window %d; mixture: %d experts of %d, %d per token; dense: width %d\n", dim, ctx, experts,
              width, used, used * width);
  std::printf("moe %.0f tokens/s, dense %.0f tokens/s, moe / dense = %.2f (medians of %d, interleaved)\n", a, b, a / b,
              reps);
  return 0;
}
