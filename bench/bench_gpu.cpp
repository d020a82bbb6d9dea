// The CUDA backend, as ratios measured side by side in one run (runs interleaved,
// medians over --reps; machines are noisy, so only ratios are results):
//   cuda / cpu      = one PPL window on the CUDA backend against the CPU backend, on
//                     the bundled model (the app's story: n up to 8192) — the speed-up
//                     a user of the app sees;
//   method / rope   = a method's window time against plain RoPE's, both on the CUDA
//                     backend, on a random model of a real shape (--shape, default
//                     tinyllama-1.1b, bf16 weights): the cost of the band algebra
//                     (issue #11's target: remapping methods ≤ 1.15× RoPE);
//   tokens/s        = printed for orientation only.
// Needs a CUDA device (exits 2 with a reason otherwise).
//
// usage: bench_gpu [--lengths 1024,4096,8192] [--reps 3] [--shape tinyllama-1.1b] [--cpu-max 8192]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/analysis/analysis.h"
#include "core/model/random_model.h"
#include "core/position/spec.h"
#include "gpu/cuda_backend.h"
#include "gpu/rope_table.h"

namespace {

using namespace ls;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double time_window(std::shared_ptr<const Model> m, const std::string& backend, const std::string& method,
                   const std::vector<int>& toks, int ctx) {
  RunConfig run;
  run.model = m;
  run.engine.backend = backend;
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

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    out.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> lengths = {1024, 4096, 8192};
  int reps = 3, cpu_max = 8192;
  std::string shape = "tinyllama-1.1b";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--lengths")) lengths = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--shape")) shape = argv[i + 1];
    else if (!std::strcmp(argv[i], "--cpu-max")) cpu_max = std::atoi(argv[i + 1]);
  }
  if (!gpu::device_available()) {
    std::fprintf(stderr, "bench_gpu: no CUDA device is present\n");
    return 2;
  }
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
  return 0;
}
