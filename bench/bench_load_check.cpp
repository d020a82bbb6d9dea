// The load-time finiteness scan: LongScope's check (branch-free blocks, all cores)
// against the plain per-element std::isfinite loop it replaced, on the weights of
// a model file, interleaved runs, medians and their ratio.
//   bench_load_check [--model M] [--reps R]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/model/model.h"
#include "core/model/weight_builder.h"

namespace {

using Clock = std::chrono::steady_clock;

// The check as it was: one std::isfinite per element, tensor by tensor, one thread.
// (16-bit tensors, kept as stored since, are widened one element at a time.)
bool plain_scan(const std::vector<ls::WeightView>& views) {
  for (const auto& v : views)
    for (size_t i = 0; i < v.count; ++i) {
      float x;
      ls::dequantize(v.dtype, static_cast<const uint8_t*>(v.data) + i * (v.dtype == ls::DType::F32 ? 4 : 2), 1, &x);
      if (!std::isfinite(x)) return false;
    }
  return true;
}

using ls::bench::median;

}  // namespace

int main(int argc, char** argv) {
  std::string model = LONGSCOPE_RESOURCES_DIR "/models/twins/rope_twin.gguf";
  int reps = 7;
  CLI::App app{"The load-time finiteness scan against a plain per-element loop (bench/README.md)"};
  app.add_option("--model", model, "model file or folder");
  app.add_option("--reps", reps, "runs")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  auto m = ls::load_model(model);
  if (!m) {
    std::fprintf(stderr, "bench_load_check: %s\n", m.error().c_str());
    return 2;
  }
  const auto views = ls::weight_views(*m.value());
  size_t n = 0;
  for (const auto& v : views) n += v.count;
  std::vector<double> plain, fast;
  for (int r = 0; r < reps; ++r) {  // interleaved: drift hits both alike
    auto t0 = Clock::now();
    bool ok1 = plain_scan(views);
    auto t1 = Clock::now();
    bool ok2 = ls::validate_weights_finite(*m.value()).ok();
    auto t2 = Clock::now();
    if (!ok1 || !ok2) return 1;
    plain.push_back(std::chrono::duration<double>(t1 - t0).count());
    fast.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  const double p = median(plain), f = median(fast);
  std::printf("%s: %zu weights, %d reps\n", model.c_str(), n, reps);
  std::printf("plain isfinite loop  %.3f ms (%.2f GB/s)\n", p * 1e3, n * 4 / p / 1e9);
  std::printf("validate_weights     %.3f ms (%.2f GB/s)\n", f * 1e3, n * 4 / f / 1e9);
  std::printf("speed-up (median ratio) %.2fx\n", p / f);
  return 0;
}
