// The CUDA backend, as ratios measured side by side in one run (runs interleaved,
// medians over --reps; machines are noisy, so only ratios are results):
//   cuda / cpu      = one PPL window on the CUDA backend against the CPU backend, on
//                     the bundled model (the app's story: n up to 8192) — the speed-up
//                     a user of the app sees;
//   method / rope   = a method's window time against plain RoPE's, both on the CUDA
//                     backend, on a random model of a real shape (--shape, default
//                     tinyllama-1.1b, bf16 weights): the cost of the band algebra
//                     (issue #11's target: remapping methods ≤ 1.15× RoPE);
//   tokens/s        = printed for orientation only;
//   attention       = the flash kernel alone (cuda_flash.cu): TFLOP/s on causal bf16
//                     attention, B = 1, 32 heads of 128 dims and TinyLlama's 32 query /
//                     4 KV heads of 64 dims, per method, and method / rope. With --json
//                     one JSON object per line, which bench/attention_vs_sdpa.py reads
//                     to put PyTorch's SDPA backends beside it on the same shapes.
// Needs a CUDA device (exits 2 with a reason otherwise).
//
// usage: bench_gpu [--lengths 1024,4096,8192] [--reps 3] [--shape tinyllama-1.1b] [--cpu-max 8192]
//                  [--attn-lengths 4096,8192,16384,32768] [--attention-only 1] [--json 1]
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
#include "core/model/random_model.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "gpu/cuda_backend.h"
#include "gpu/flash_device.h"
#include "gpu/rope_table.h"

namespace {

// One backend per model and request for the whole benchmark, as the app and the CLI
// keep them: a timed run never includes the upload of the weights.
ls::BackendCache& bench_backends() {
  static ls::BackendCache cache;
  return cache;
}

using namespace ls;

using ls::bench::median;

double time_window(std::shared_ptr<const Model> m, const std::string& backend, const std::string& method,
                   const std::vector<int>& toks, int ctx) {
  RunConfig run;
  run.backends = &bench_backends();
  run.model = m;
  run.backend.kind = backend;
  run.engine.method = parse_method_spec(method).value();
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_ppl(run, toks, ctx, 1);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r) {
    std::fprintf(stderr, "error (%s, %s, %d): %s\n", backend.c_str(), method.c_str(), ctx, r.error().c_str());
    std::exit(1);
  }
  return s;
}

// Kernel inputs of the right shape for timing: the plan and tile bands of `method`,
// operands of random bf16 values (what they hold does not change the work).
FlashInputs timing_inputs(int H, int KV, int hd, const std::string& method, int n) {
  const MethodParams m = parse_method_spec(method).value();
  AttentionParams p = attention_params(m, H, KV, hd, hd, PairLayout::HalfSplit, 4096);
  p.n_new = n;
  const PositionTables t = position_tables(m, PositionContext{hd, 10000.0, 4096.0, (double)n}, H);
  const BandPlan plan = band_plan(p, t, key_form_for(m));
  FlashInputs in;
  in.shape = flash_shape(p, plan);
  uint32_t state = 12345u;
  auto fill = [&state](std::vector<uint16_t>& x, size_t count) {
    x.resize(count);
    for (uint16_t& e : x) {
      state = state * 1664525u + 1013904223u;
      e = float_to_bf16(((state >> 8) * (1.0f / 16777216.0f) - 0.5f) * 2.0f);
    }
  };
  fill(in.qn, (size_t)n * H * hd);
  fill(in.kn, (size_t)n * KV * hd);
  fill(in.v, (size_t)n * KV * hd);
  if (plan.far) {
    fill(in.qf, in.qn.size());
    fill(in.kf, in.kn.size());
  }
  in.slopes.assign(t.alibi_slopes.begin(), t.alibi_slopes.end());
  return in;
}

// The flash kernel per method: median ms, TFLOP/s (causal: 2·N²·d·H multiply-adds ×2 / 2), method / rope.
int attention_section(const std::vector<int>& lengths, int reps, bool json) {
  struct Heads {
    int H, KV, hd;
  };
  const std::vector<std::string> methods = {"rope", "rerope:window=512,logn=1", "leaky-rerope:window=512,k=16",
                                            "self-extend:window=512,group=8", "alibi", "sliding-window:window=4096,sinks=4"};
  if (!json) std::printf("\n# flash kernel alone: causal bf16, B=1 (medians of %d launches)\n%6s %4s %4s %7s %34s %10s %9s %9s\n", reps, "H", "KV", "d", "n", "method", "ms", "TFLOP/s", "vs rope");
  for (Heads hs : {Heads{32, 32, 128}, Heads{32, 4, 64}})
    for (int n : lengths) {
      double rope_ms = 0;
      for (const std::string& method : methods) {
        const gpu::FlashDeviceRun r = gpu::flash_on_device(timing_inputs(hs.H, hs.KV, hs.hd, method, n), reps);
        if (!r.error.empty()) {
          std::fprintf(stderr, "bench_gpu: flash kernel (%s, n=%d): %s\n", method.c_str(), n, r.error.c_str());
          return 1;
        }
        const double ms = median(r.ms), flops = 4.0 * n * (double)n * hs.hd * hs.H / 2.0;
        if (method == "rope") rope_ms = ms;
        const double tflops = flops / (ms * 1e-3) / 1e12;
        if (json)
          std::printf("{\"kernel\":\"longscope-flash\",\"heads\":%d,\"kv_heads\":%d,\"head_dim\":%d,\"n\":%d,"
                      "\"method\":\"%s\",\"ms\":%.4f,\"tflops\":%.2f,\"vs_rope\":%.3f}\n",
                      hs.H, hs.KV, hs.hd, n, method.c_str(), ms, tflops, ms / rope_ms);
        else
          std::printf("%6d %4d %4d %7d %34s %10.3f %9.1f %8.2fx\n", hs.H, hs.KV, hs.hd, n, method.c_str(), ms, tflops,
                      ms / rope_ms);
        std::fflush(stdout);
      }
    }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> lengths = {1024, 4096, 8192};
  int reps = 3, cpu_max = 8192;
  std::string shape = "tinyllama-1.1b";
  std::vector<int> attn_lengths = {4096, 8192, 16384, 32768};
  bool attention_only = false, json = false;
  CLI::App app{"The CUDA backend against the CPU backend, method cost on the device, the flash kernel alone (bench/README.md)"};
  app.add_option("--lengths", lengths, "window lengths")->delimiter(',')->check(CLI::Range(16, 1 << 20));
  app.add_option("--attn-lengths", attn_lengths, "attention-only lengths")->delimiter(',')->check(CLI::Range(16, 1 << 20));
  app.add_option("--attention-only", attention_only, "1: the flash kernel alone");
  app.add_option("--json", json, "1: JSON lines");
  app.add_option("--reps", reps, "runs per cell")->check(CLI::Range(1, 1000));
  app.add_option("--shape", shape, "random model shape");
  app.add_option("--cpu-max", cpu_max, "longest window the CPU runs")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  if (!gpu::device_available()) {
    std::fprintf(stderr, "bench_gpu: no CUDA device is present\n");
    return 2;
  }
  if (attention_only) return attention_section(attn_lengths, reps, json);
  gpu::register_cuda_backend();
  auto bundled = load_model(LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf");
  if (!bundled) {
    std::fprintf(stderr, "bench_gpu: %s\n", bundled.error().c_str());
    return 1;
  }
  const int longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<int> toks;
  for (int i = 0; i <= longest; ++i) toks.push_back(1 + (i * 37 + 11) % 511);

  std::printf("# bundled stories260K: one PPL window, cuda vs cpu (medians of %d)\n", reps);
  std::printf("%8s %14s %12s %12s %10s\n", "n", "method", "cpu tok/s", "cuda tok/s", "cuda/cpu");
  for (int n : lengths) {
    if (n > cpu_max) continue;
    for (const char* method : {"rope", "rerope:window=256,logn=1"}) {
      std::vector<double> cpu, cuda;
      time_window(bundled.value(), "cuda", method, toks, n);  // warm-up: upload, cuBLAS handles
      for (int r = 0; r < reps; ++r) {
        cpu.push_back(time_window(bundled.value(), "cpu", method, toks, n));
        cuda.push_back(time_window(bundled.value(), "cuda", method, toks, n));
      }
      std::printf("%8d %14s %12.0f %12.0f %9.2fx\n", n, method, n / median(cpu), n / median(cuda),
                  median(cpu) / median(cuda));
    }
  }

  auto spec = random_model_shape(shape);
  if (!spec) {
    std::fprintf(stderr, "bench_gpu: %s\n", spec.error().c_str());
    return 1;
  }
  const std::string dir = (std::filesystem::temp_directory_path() / ("longscope_bench_gpu_" + shape)).string();
  std::filesystem::create_directories(dir);
  if (auto st = write_gguf_model(make_random_model(spec.value()), dir + "/m.gguf", DType::BF16); !st) {
    std::fprintf(stderr, "bench_gpu: %s\n", st.error().c_str());
    return 1;
  }
  auto big = load_model(dir + "/m.gguf");
  if (!big) {
    std::fprintf(stderr, "bench_gpu: %s\n", big.error().c_str());
    return 1;
  }
  std::vector<int> big_toks;
  for (int i = 0; i <= longest; ++i) big_toks.push_back(1 + (i * 37 + 11) % (spec->vocab_size - 1));
  const std::vector<std::string> methods = {"rope", "yarn:factor=4", "rerope:window=512,logn=1",
                                            "leaky-rerope:window=512,k=16", "self-extend:window=512,group=8",
                                            "sliding-window:window=1024,sinks=4"};
  std::printf("\n# %s (bf16): one PPL window on cuda, method / rope (medians of %d)\n", shape.c_str(), reps);
  std::printf("%8s %34s %12s %10s\n", "n", "method", "tok/s", "vs rope");
  for (int n : lengths) {
    std::vector<std::vector<double>> t(methods.size());
    time_window(big.value(), "cuda", "rope", big_toks, n);  // warm-up
    for (int r = 0; r < reps; ++r)
      for (size_t k = 0; k < methods.size(); ++k) t[k].push_back(time_window(big.value(), "cuda", methods[k], big_toks, n));
    for (size_t k = 0; k < methods.size(); ++k)
      std::printf("%8d %34s %12.0f %9.2fx\n", n, methods[k].c_str(), n / median(t[k]), median(t[k]) / median(t[0]));
  }
  return attention_section(attn_lengths, reps, json);
}
