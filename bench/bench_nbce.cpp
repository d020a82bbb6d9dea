// NBCE's decode step, batched against one engine at a time: K+1 engines (NBCE's
// rows) on one model take one token each, through Engine::forward_each (each
// projection one GEMM over all rows) or through K+1 forward(&token, 1) calls (one
// GEMV each, as run_nbce did before). Interleaved runs, medians and their ratio, on
// a random model wide enough for the matmuls to matter.
//   bench_nbce [--rows 9] [--steps 16] [--reps 5] [--dim 1024] [--layers 4]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/backends/backends.h"
#include "core/engine/engine.h"
#include "core/model/random_model.h"

namespace {

using namespace ls;
using Clock = std::chrono::steady_clock;

using ls::bench::median;

}  // namespace

int main(int argc, char** argv) {
  int rows = 9, steps = 16, reps = 5, dim = 1024, layers = 4;
  CLI::App app{"NBCE's decode step: K+1 rows in one batch against one forward per row (bench/README.md)"};
  app.add_option("--rows", rows, "rows (K + 1)")->check(CLI::Range(1, 1024));
  app.add_option("--steps", steps, "decode steps")->check(CLI::Range(1, 100000));
  app.add_option("--reps", reps, "runs")->check(CLI::Range(1, 1000));
  app.add_option("--dim", dim, "model width (a multiple of 64)")->check(CLI::Range(64, 16384));
  app.add_option("--layers", layers, "layers")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  dim = dim / 64 * 64;
  RandomModelSpec spec;
  spec.dim = dim, spec.hidden_dim = dim * 8 / 3 / 64 * 64, spec.n_layers = layers, spec.n_heads = dim / 64;
  spec.n_kv_heads = spec.n_heads, spec.vocab_size = 32000, spec.train_len = 2048;
  const std::string path = (std::filesystem::temp_directory_path() / "longscope_bench_nbce.gguf").string();
  if (auto st = write_gguf_model(make_random_model(spec), path, DType::BF16); !st) {
    std::fprintf(stderr, "bench_nbce: %s\n", st.error().c_str());
    return 1;
  }
  auto model = load_model(path);
  std::filesystem::remove(path);
  if (!model) {
    std::fprintf(stderr, "bench_nbce: %s\n", model.error().c_str());
    return 1;
  }
  // K+1 rows with prompts of different lengths, as NBCE's chunks + question.
  BackendCache cache;  // the rows of a batch share one backend
  auto make_rows = [&](std::vector<std::unique_ptr<Engine>>& out) {
    out.clear();
    for (int r = 0; r < rows; ++r) {
      auto e = make_engine(model.value(), EngineOptions{}, 256 + steps, DType::F32, {}, &cache);
      if (!e) {
        std::fprintf(stderr, "bench_nbce: %s\n", e.error().c_str());
        std::exit(1);
      }
      std::vector<int> prompt(64 + (16 * r) % 128);
      for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 1 + (int)((i * 37 + r * 11) % 31999);
      if (auto st = (*e)->forward(prompt.data(), (int)prompt.size()); !st) std::exit(1);
      out.push_back(e.take());
    }
  };
  std::vector<double> batched, each;
  std::vector<std::unique_ptr<Engine>> es;
  for (int rep = 0; rep < reps; ++rep)
    for (int mode = 0; mode < 2; ++mode) {  // interleaved
      make_rows(es);
      std::vector<Engine*> batch;
      for (auto& e : es) batch.push_back(e.get());
      const auto t0 = Clock::now();
      for (int s = 0; s < steps; ++s) {
        const std::vector<int> tok(rows, 1 + s * 97 % 31999);
        if (mode == 0) {
          if (!Engine::forward_each(batch, tok.data())) std::exit(1);
        } else {
          for (Engine* e : batch)
            if (!e->forward(&tok[0], 1)) std::exit(1);
        }
      }
      (mode == 0 ? batched : each).push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  std::printf("NBCE decode, %d rows x %d steps, random bf16 model dim %d, %d layers, vocab 32000 (medians of %d)\n",
              rows, steps, dim, layers, reps);
  std::printf("  one forward per row: %8.1f ms/step\n  forward_each:        %8.1f ms/step\n  speed-up:            %8.2fx\n",
              1e3 * median(each) / steps, 1e3 * median(batched) / steps, median(each) / median(batched));
  return 0;
}
