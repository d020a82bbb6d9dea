#include <chrono>
#include <cmath>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"
#include "core/position/spec.h"

namespace ls {

Result<PplResult> run_ppl(const RunConfig& run, const std::vector<int>& tokens, int ctx, int max_windows) {
  if (ctx < 1) return make_error("context length must be at least 1 token");
  const long long available = ((long long)tokens.size() - 1) / ctx;
  if (available < 1)
    return make_error("the document has " + std::to_string(tokens.size()) + " tokens; a window of " +
                      std::to_string(ctx) + " needs " + std::to_string(ctx + 1) + " (choose a shorter context)");
  const int windows = (int)(max_windows > 0 ? std::min<long long>(max_windows, available) : available);
  auto eng = make_engine(run.model, run.engine, ctx, run.precision, run.backend, run.backends);
  if (!eng) return make_error(eng.error());
  PplResult r;
  r.ctx = ctx;
  r.windows = windows;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<double> nll(ctx);
  std::vector<int> rank(ctx);
  for (int w = 0; w < windows; ++w) {
    const int* window = tokens.data() + (size_t)w * ctx;
    (*eng)->reset();
    if (auto st = (*eng)->forward(window, ctx); !st) return make_error(st.error());
    if (auto st = (*eng)->nll(0, ctx, window + 1, nll.data(), rank.data()); !st) return make_error(st.error());
    for (int p = 0; p < ctx; ++p) {
      r.nll.push_back(nll[p]);
      r.rank.push_back(rank[p]);
      r.position.push_back(p);
      r.target.push_back(window[p + 1]);
    }
    if (run.progress) run.progress((w + 1.0) / windows);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.n_tokens = (long long)r.nll.size();
  double sum = 0;
  for (double x : r.nll) sum += x;
  r.mean_nll = sum / (double)r.n_tokens;
  r.ppl = std::exp(r.mean_nll);
  r.tokens_per_second = r.seconds > 0 ? (double)r.n_tokens / r.seconds : 0;
  return r;
}

std::vector<double> bucket_means(const PplResult& r, const std::vector<int>& edges) {
  std::vector<double> sum(edges.size() > 1 ? edges.size() - 1 : 0, 0.0), cnt(sum.size(), 0.0);
  for (size_t k = 0; k < r.nll.size(); ++k)
    for (size_t b = 0; b + 1 < edges.size(); ++b)
      if (r.position[k] >= edges[b] && r.position[k] < edges[b + 1]) {
        sum[b] += r.nll[k];
        cnt[b] += 1;
      }
  for (size_t b = 0; b < sum.size(); ++b) sum[b] = cnt[b] > 0 ? sum[b] / cnt[b] : NAN;
  return sum;
}

std::vector<int> default_bucket_edges(int train_len, int longest) {
  std::vector<int> edges = {0, train_len};
  for (long long e = 4LL * train_len; edges.back() < longest && e <= (1LL << 30); e *= 4) edges.push_back((int)e);
  return edges;
}

Result<SweepResult> run_sweep(const RunConfig& run_in, const std::vector<MethodParams>& methods,
                              const std::vector<int>& lengths, const std::vector<int>& edges,
                              const std::vector<int>& tokens, int max_windows, const PplSource& source) {
  SharedBackends shared(run_in);  // every cell on one backend
  const RunConfig& run = shared.run;
  SweepResult out;
  out.edges = edges;
  const double total = (double)methods.size() * lengths.size();
  int done = 0;
  for (const auto& m : methods) {
    if (auto st = check_method_for_model(m, run.model->config); !st) return make_error(st.error());
    for (int len : lengths) {
      RunConfig r = run;
      r.engine.method = m;
      r.progress = [&](double f) {
        if (run.progress) run.progress((done + f) / total);
      };
      auto p = source ? source(r, len) : run_ppl(r, tokens, len, max_windows);
      if (!p) return make_error(method_spec_string(m) + " at " + std::to_string(len) + ": " + p.error());
      out.cells.push_back({m, len, p->mean_nll, p->windows, bucket_means(p.value(), edges)});
      ++done;
    }
  }
  return out;
}

}  // namespace ls
