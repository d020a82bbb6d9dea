// PPL throughput of the CPU engine on the bundled model (and a BLOOM model of the
// same shape for the ALiBi methods), as ratios measured side by side in one run,
// runs of the compared paths interleaved:
//   tiled / rows = the tiled SIMD attention against the row-by-row reference path
//                  (one (query, head) at a time with a materialised score row: the
//                  algorithm LongScope shipped before the tiled kernel);
//   method / rope = a method's time against plain RoPE's, both tiled;
//   f16 KV / f32 KV = the same run with the cache stored in f16;
//   naive (optional, --naive-max) = plain loops, one thread;
//   probed / plain = an attention map of one layer (every head's probabilities,
//                  the Attention view's run) against the same window unprobed: the
//                  probe's cost (the probed layer runs tiled plus a score recompute).
// Medians over --reps runs; machines are noisy, so only ratios are reported as results.
//
// usage: bench_ppl [--lengths 512,2048,8192] [--reps 3] [--threads T] [--rows-max 8192] [--naive-max 0]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/analysis/analysis.h"
#include "core/cpu/cpu_backend.h"
#include "core/model/random_model.h"
#include "core/position/spec.h"
#include "core/tokenizer/tokenizer.h"

namespace {

// One backend per model and request for the whole benchmark, as the app and the CLI
// keep them: a timed run never includes the upload of the weights.
ls::BackendCache& bench_backends() {
  static ls::BackendCache cache;
  return cache;
}

using namespace ls;

using ls::bench::median;

// Seconds for one window of `ctx` tokens.
enum class Path { Tiled, Rows, TiledF16, Naive };

double time_window(std::shared_ptr<const Model> m, const MethodParams& p, const std::vector<int>& toks, int ctx,
                   Path path, int threads) {
  RunConfig run;
  run.backends = &bench_backends();
  run.model = m;
  run.engine.method = p;
  run.backend.cpu.naive = path == Path::Naive;
  run.backend.cpu.attention = path == Path::Rows ? CpuAttention::Rows : CpuAttention::Tiled;
  run.engine.kv = path == Path::TiledF16 ? std::optional<DType>(DType::F16) : std::nullopt;
  run.backend.cpu.threads = path == Path::Naive ? 1 : threads;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_ppl(run, toks, ctx, 1);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r) {
    std::fprintf(stderr, "error: %s\n", r.error().c_str());
    std::exit(1);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> lengths = {512, 2048, 8192};
  int reps = 3, threads = 0, rows_max = 8192, naive_max = 0;
  CLI::App app{"Tiled attention against the row-by-row path, method cost against RoPE, the f16 KV cache (bench/README.md)"};
  app.add_option("--lengths", lengths, "window lengths")->delimiter(',')->check(CLI::Range(16, 1 << 20));
  app.add_option("--reps", reps, "runs per cell")->check(CLI::Range(1, 1000));
  app.add_option("--threads", threads, "threads (0: all cores)")->check(CLI::Range(0, 4096));
  app.add_option("--rows-max", rows_max, "longest window the row-by-row path runs")->check(CLI::NonNegativeNumber);
  app.add_option("--naive-max", naive_max, "longest window the plain-loop path runs (0: none)")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  const bench::BundledText bundled = bench::bundled_text();
  const std::shared_ptr<const Model>& model = bundled.model;
  const std::vector<int>& toks = bundled.tokens;
  // ALiBi methods need an ALiBi model: a random BLOOM of the bundled shape.
  auto bloom_spec = random_model_shape("bundled").value();
  bloom_spec.arch = Arch::Bloom;
  bloom_spec.n_kv_heads = bloom_spec.n_heads;
  bloom_spec.hidden_dim = 4 * bloom_spec.dim;
  const std::string dir = (std::filesystem::temp_directory_path() / "longscope_bench_bloom").string();
  if (!write_hf_model(make_random_model(bloom_spec), dir).ok()) return 1;
  auto bloom = load_model(dir).value();

  struct Row { const char* spec; bool alibi; };
  const Row rows[] = {{"rope", false},
                      {"yarn:factor=16", false},
                      {"rerope:window=256", false},
                      {"leaky-rerope:window=256,k=16", false},
                      {"self-extend:window=256,group=8", false},
                      {"alibi", true},
                      {"ntk-alibi:a=4", true}};
  std::printf("LongScope PPL benchmark (CPU). Document tinystories_3 (%zu tokens); threads=%d (0 = all cores); "
              "tiled kernel ISA: %s; medians of %d run(s)\n\n",
              toks.size(), threads, cpu_attention_isas().front().c_str(), reps);
  std::printf("%-31s %6s %11s %11s %12s %11s %12s\n", "method", "ctx", "tiled tok/s", "rows tok/s", "tiled/rows",
              "f16KV tok/s", "naive tok/s");
  time_window(model, MethodParams{}, toks, 512, Path::Tiled, threads);  // warm-up (pages, threads)
  for (int ctx : lengths) {
    std::vector<double> rope_t;
    std::vector<std::pair<const char*, double>> method_ratio;
    for (const Row& row : rows) {
      auto p = parse_method_spec(row.spec).value();
      auto m = row.alibi ? bloom : model;
      std::vector<double> tiled, rows_t, f16, naive;
      for (int r = 0; r < reps; ++r) {  // interleaved: tiled, rows, f16 (, naive once)
        tiled.push_back(time_window(m, p, toks, ctx, Path::Tiled, threads));
        if (ctx <= rows_max) rows_t.push_back(time_window(m, p, toks, ctx, Path::Rows, threads));
        if (!row.alibi) f16.push_back(time_window(m, p, toks, ctx, Path::TiledF16, threads));
        if (ctx <= naive_max && r == 0) naive.push_back(time_window(m, p, toks, ctx, Path::Naive, 1));
      }
      const double t = median(tiled);
      if (std::strcmp(row.spec, "rope") == 0) rope_t = tiled;
      else if (!row.alibi) method_ratio.push_back({row.spec, t / median(rope_t)});
      char rows_s[32] = "-", ratio_s[32] = "-", f16_s[32] = "-", naive_s[32] = "-";
      if (!rows_t.empty()) {
        std::snprintf(rows_s, sizeof rows_s, "%.0f", ctx / median(rows_t));
        std::snprintf(ratio_s, sizeof ratio_s, "%.2fx", median(rows_t) / t);
      }
      if (!f16.empty()) std::snprintf(f16_s, sizeof f16_s, "%.0f", ctx / median(f16));
      if (!naive.empty()) std::snprintf(naive_s, sizeof naive_s, "%.0f", ctx / median(naive));
      std::printf("%-31s %6d %11.0f %11s %12s %11s %12s\n", row.spec, ctx, ctx / t, rows_s, ratio_s, f16_s, naive_s);
    }
    {  // the probe's cost: run_attention (layer 2, every head summarised, pooled) vs a plain window
      RunConfig run;
      run.backends = &bench_backends();
      run.model = model;
      run.backend.cpu.threads = threads;
      std::vector<double> probed, plain;
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        auto a = run_attention(run, toks, ctx, 2, 0, 256, PoolMode::Max);
        probed.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (!a) return std::fprintf(stderr, "error: %s\n", a.error().c_str()), 1;
        plain.push_back(time_window(model, MethodParams{}, toks, ctx, Path::Tiled, threads));
      }
      std::printf("  attention probe (layer 2, all heads) %6d probed / plain time = %.2fx\n", ctx,
                  median(probed) / median(plain));
    }
    for (auto& [spec, ratio] : method_ratio)
      std::printf("  %-29s %6d time / rope time = %.3fx%s\n", spec, ctx, ratio,
                  std::strncmp(spec, "yarn", 4) ? "   (target <= 1.1x)" : "");
    std::printf("\n");
  }
  return 0;
}
