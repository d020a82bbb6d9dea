// The Attention view's cost of a layer switch, before and after #29, side by side in
// one run on the bundled model and document:
//   before: one head of layer l from a whole forward (every layer runs; every head's
//           summaries, the one head's pooled map): what a layer or a head switch cost each
//           time (the function as it was at commit e18f7ee, kept here as the baseline);
//   after:  every head of layer l from one forward that ends after l (run_attention_heads);
//           a head switch or a return to the layer then costs nothing (the app caches it).
// Runs interleaved, medians over --reps; after / before is the time ratio (< 1: faster).
//
// usage: bench_attention_layer [--ctx 8192] [--reps 3] [--pool 1024] [--method SPEC]
#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/analysis/analysis.h"
#include "core/backends/backends.h"
#include "core/cpu/blas_info.h"
#include "core/position/spec.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/files.h"

namespace {

using namespace ls;

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The attention map as it was made before (core/analysis/attention_map.cpp at commit
// e18f7ee, unchanged): a whole forward, every head's summaries, one head's pooled map.
Result<AttentionMap> before_run_attention(const RunConfig& run, const std::vector<int>& tokens, int ctx, int layer, int head,
                                   int pool, PoolMode mode, AttentionRegion region) {
  const ModelConfig& c = run.model->config;
  if (layer < 0 || layer >= c.n_layers)
    return make_error("layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.n_layers) + ")");
  if (head < 0 || head >= c.n_heads)
    return make_error("head " + std::to_string(head) + " is outside [0, " + std::to_string(c.n_heads) + ")");
  if (ctx < 1) return make_error("context length must be at least 1 token");
  const int n = (int)std::min<size_t>(ctx, tokens.size());
  if (pool < 0 || pool > 4096) return make_error("pool size must be in [0, 4096]");
  if (pool == 0 && n > 4096) return make_error("a full " + std::to_string(n) + "×" + std::to_string(n) +
                                               " map is too large; pool it (e.g. --pool 512)");
  if (region.size < 0 || region.size > 4096 || region.q0 < 0 || region.k0 < 0 || region.q0 >= n || region.k0 >= n)
    return make_error("attention region outside the " + std::to_string(n) + "-token window");
  AttentionMap map;
  map.layer = layer;
  map.head = head;
  map.n = n;
  map.region = region;
  const bool detail = region.size > 0;
  const int side = detail ? region.size : pool > 0 && pool < n ? pool : n;
  map.pooled = !detail && side < n ? side : 0;
  map.probs.assign((size_t)side * side, 0.0f);
  std::vector<float> counts(mode == PoolMode::Mean ? (size_t)side * side : 0, 0.0f);
  map.entropy.assign(n, 0.0);
  std::vector<double> dist(n, 0.0);
  std::mutex mu;  // pooled rows and head summaries are shared between queries
  map.heads.assign(c.n_heads, HeadSummary{});
  for (auto& hs : map.heads) hs.minimap.assign((size_t)kMinimap * kMinimap, 0.0f);
  const int mini = std::min(kMinimap, n);
  AttentionObserver obs;
  obs.layer = layer;
  obs.head = -1;  // every head: summaries and mini-maps for the head picker
  obs.on_row = [&](int h, int m, const float* p, int nk) {
    if (m >= n) return;
    double ent = 0, d = 0;
    for (int j = 0; j < nk; ++j) {
      if (p[j] > 0) ent -= p[j] * std::log((double)p[j]);
      d += p[j] * (double)(m - j);
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      HeadSummary& hs = map.heads[h];
      hs.mean_entropy += ent / n;
      hs.mean_distance += d / n;
      const int mrow = (int)((long long)m * mini / n);
      for (int j = 0; j < nk; ++j) {
        float& cell = hs.minimap[(size_t)mrow * kMinimap + (size_t)((long long)j * mini / n)];
        cell = std::max(cell, p[j]);
      }
    }
    if (h != head) return;
    map.entropy[m] = ent;
    dist[m] = d;
    if (detail) {  // full resolution inside the region; each cell written by exactly one query
      if (m < region.q0 || m >= region.q0 + region.size) return;
      for (int j = region.k0; j < std::min(nk, region.k0 + region.size); ++j)
        map.probs[(size_t)(m - region.q0) * side + (j - region.k0)] = p[j];
      return;
    }
    const int row = (int)((long long)m * side / n);
    std::lock_guard<std::mutex> lock(mu);
    for (int j = 0; j < nk; ++j) {
      const size_t cell = (size_t)row * side + (size_t)((long long)j * side / n);
      if (mode == PoolMode::Max || side == n) map.probs[cell] = std::max(map.probs[cell], p[j]);
      else {
        map.probs[cell] += p[j];
        counts[cell] += 1;
      }
    }
  };
  RunConfig r = run;
  r.engine.observer = &obs;
  auto eng = make_engine(r.model, r.engine, n, r.precision, r.backend, r.backends);
  if (!eng) return make_error(eng.error());
  if (auto st = (*eng)->forward(tokens.data(), n); !st) return make_error(st.error());
  if (mode == PoolMode::Mean && side < n)
    for (size_t i = 0; i < map.probs.size(); ++i) map.probs[i] = counts[i] > 0 ? map.probs[i] / counts[i] : 0.0f;
  double sum = 0;
  for (double d : dist) sum += d;
  map.mean_distance = sum / n;
  if (run.progress) run.progress(1.0);
  return map;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Attention layer switch: one head from a whole forward vs every head up to the layer");
  int ctx = 8192, reps = 3, pool = 1024;
  std::string method = "rope";
  app.add_option("--ctx", ctx, "window length")->check(CLI::Range(16, 1 << 20));
  app.add_option("--reps", reps, "runs per case")->check(CLI::PositiveNumber);
  app.add_option("--pool", pool, "pooled side")->check(CLI::Range(16, 4096));
  app.add_option("--method", method, "method spec");
  CLI11_PARSE(app, argc, argv);
  const bench::BundledText bundled = bench::bundled_text();
  const std::shared_ptr<const Model>& model = bundled.model;
  const std::vector<int>& toks = bundled.tokens;
  ctx = std::min<int>(ctx, (int)toks.size());
  RunConfig run;
  run.model = model;
  run.engine.method = parse_method_spec(method).value();
  std::printf("stories260K, %s, n = %d, pooled to %d; BLAS: %s\n", method.c_str(), ctx, pool,
              blas_description().c_str());
  std::printf("%5s %12s %12s %12s\n", "layer", "before s", "after s", "after/before");
  for (int layer = 0; layer < run.model->config.n_layers; ++layer) {
    std::vector<double> before, after;
    for (int r = 0; r < reps; ++r) {
      before.push_back(seconds_of([&] {
        if (!before_run_attention(run, toks, ctx, layer, 0, pool, PoolMode::Max, {})) std::exit(1);
      }));
      after.push_back(seconds_of([&] {
        if (!run_attention_heads(run, toks, ctx, layer, pool, PoolMode::Max)) std::exit(1);
      }));
    }
    const double b = bench::median(before), a = bench::median(after);
    std::printf("%5d %12.3f %12.3f %11.2fx\n", layer, b, a, a / b);
  }
  std::printf("a head switch or a return to a layer: no forward (the app's cache of whole layers)\n");
  return 0;
}
