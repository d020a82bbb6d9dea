// PPL throughput of the CPU engine on the bundled model (and a BLOOM model of the
// same shape for the ALiBi methods), as ratios measured side by side in one run:
//   speed-up   = engine fast path / the engine's own naive path (plain loops, 1 thread)
//   rerope/rope = time of ReRoPE / time of plain RoPE, both on the fast path
// Medians over --reps runs; machines are noisy, so only ratios are reported as results.
//
// usage: bench_ppl [--lengths 512,2048,8192] [--reps 3] [--threads T] [--naive-max 8192]
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
#include "core/tokenizer/tokenizer.h"

namespace {

using namespace ls;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Seconds for one window of `ctx` tokens.
double time_window(std::shared_ptr<const Model> m, const MethodParams& p, const std::vector<int>& toks, int ctx,
                   bool naive, int threads) {
  RunConfig run;
  run.model = m;
  run.engine.method = p;
  run.engine.naive = naive;
  run.engine.threads = threads;
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
  int reps = 3, threads = 0, naive_max = 8192;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--lengths") {
      lengths.clear();
      for (size_t p = 0; p < v.size();) {
        size_t q = v.find(',', p);
        lengths.push_back(std::stoi(v.substr(p, q - p)));
        p = q == std::string::npos ? v.size() : q + 1;
      }
    } else if (k == "--reps") reps = std::max(1, std::stoi(v));
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--naive-max") naive_max = std::stoi(v);
  }
  auto model = load_model(LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf");
  auto tok = Tokenizer::for_model(*model.value());
  auto text = read_text_file(LONGSCOPE_RESOURCES_DIR "/documents/tinystories_3.txt");
  if (!model || !tok || !text) {
    std::fprintf(stderr, "error: bundled model, tokenizer or document missing\n");
    return 1;
  }
  auto toks = encode_document(*tok.value(), text.value()).value();
  // ALiBi methods need an ALiBi model: a random BLOOM of the bundled shape.
  auto bloom_spec = random_model_shape("bundled").value();
  bloom_spec.arch = Arch::Bloom;
  bloom_spec.n_kv_heads = bloom_spec.n_heads;
  bloom_spec.hidden_dim = 4 * bloom_spec.dim;
  const std::string dir = (std::filesystem::temp_directory_path() / "longscope_bench_bloom").string();
  if (!write_hf_model(make_random_model(bloom_spec), dir).ok()) return 1;
  auto bloom = load_model(dir).value();

  struct Row { const char* spec; bool alibi; };
  const Row rows[] = {{"rope", false}, {"yarn:factor=16", false}, {"rerope:window=256", false},
                      {"leaky-rerope:window=256,k=16", false}, {"alibi", true}, {"ntk-alibi:a=4", true}};
  std::printf("LongScope PPL benchmark (CPU). Document tinystories_3 (%zu tokens); threads=%d (0 = all cores); "
              "medians of %d run(s)\n\n", toks.size(), threads, reps);
  std::printf("%-30s %6s %12s %12s %10s\n", "method", "ctx", "fast tok/s", "naive tok/s", "speed-up");
  for (int ctx : lengths) {
    std::vector<double> rope_t, rerope_t;
    for (const Row& row : rows) {
      auto p = parse_method_spec(row.spec).value();
      auto m = row.alibi ? bloom : model.value();
      std::vector<double> fast, naive;
      for (int r = 0; r < reps; ++r) {
        fast.push_back(time_window(m, p, toks, ctx, false, threads));
        if (ctx <= naive_max && (r == 0 || ctx < 8192)) naive.push_back(time_window(m, p, toks, ctx, true, 1));
      }
      double f = median(fast), n = median(naive);
      if (std::strcmp(row.spec, "rope") == 0) rope_t = fast;
      if (std::strcmp(row.spec, "rerope:window=256") == 0) rerope_t = fast;
      if (naive.empty()) std::printf("%-30s %6d %12.0f %12s %10s\n", row.spec, ctx, ctx / f, "-", "-");
      else std::printf("%-30s %6d %12.0f %12.0f %9.2fx\n", row.spec, ctx, ctx / f, ctx / n, n / f);
    }
    std::printf("%-30s %6d %36.3fx   (target <= 1.3x at 8192)\n\n", "rerope / rope time", ctx,
                median(rerope_t) / median(rope_t));
  }
  return 0;
}
