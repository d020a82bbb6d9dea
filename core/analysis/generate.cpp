#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"

namespace ls {
namespace {

// xorshift64* (as llama2.c's sampler): uniform in [0, 1).
double next_uniform(unsigned long long& s) {
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return (double)((s * 0x2545F4914F6CDD1DULL) >> 40) / 16777216.0;
}

}  // namespace

int sample_token(const std::vector<float>& logits, const SampleOptions& o, unsigned long long& rng) {
  const int V = (int)logits.size();
  if (o.temperature <= 0) return (int)(std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<double> p(V);
  double mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (int i = 0; i < V; ++i) sum += p[i] = std::exp((logits[i] - mx) / o.temperature);
  for (auto& x : p) x /= sum;
  std::vector<int> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  int keep = V;
  if (o.top_p > 0 && o.top_p < 1) {
    double cum = 0;
    for (int k = 0; k < V; ++k) {
      cum += p[order[k]];
      if (cum >= o.top_p) {
        keep = k + 1;
        break;
      }
    }
  }
  double mass = 0;
  for (int k = 0; k < keep; ++k) mass += p[order[k]];
  double u = next_uniform(rng) * mass, cum = 0;
  for (int k = 0; k < keep; ++k) {
    cum += p[order[k]];
    if (u < cum) return order[k];
  }
  return order[keep - 1];
}

Result<std::vector<int>> run_generate(const RunConfig& run, const std::vector<int>& prompt, int n,
                                      const SampleOptions& s) {
  if (prompt.empty()) return make_error("the prompt is empty");
  if (n < 0 || n > (1 << 20)) return make_error("number of tokens to generate must be in [0, 1048576]");
  auto eng = make_engine(run.model, run.engine, (int)prompt.size() + n, run.precision, run.backend, run.backends);
  if (!eng) return make_error(eng.error());
  if (auto st = (*eng)->forward(prompt.data(), (int)prompt.size()); !st) return make_error(st.error());
  unsigned long long rng = s.seed ? s.seed : 1;
  std::vector<int> out;
  std::vector<float> logits;
  int last_row = (int)prompt.size() - 1;
  const int eos = run.model->config.eos_id, bos = run.model->config.bos_id;
  for (int i = 0; i < n; ++i) {
    if (auto st = (*eng)->logits(last_row, logits); !st) return make_error(st.error());
    int tok = sample_token(logits, s, rng);
    if (tok == eos || tok == bos) break;  // BOS delimits sequences in llama2.c models
    out.push_back(tok);
    if (i + 1 == n) break;
    if (auto st = (*eng)->forward(&tok, 1); !st) return make_error(st.error());
    last_row = 0;
    if (run.progress) run.progress((i + 1.0) / n);
  }
  return out;
}

std::vector<double> nbce_combine(const std::vector<std::vector<float>>& rows, const NbceOptions& o, int& k_star) {
  const double ninf = -std::numeric_limits<double>::infinity();
  const size_t K1 = rows.size(), V = rows[0].size();
  std::vector<std::vector<double>> logp(K1, std::vector<double>(V));
  for (size_t k = 0; k < K1; ++k) {
    // log_softmax
    double mx = *std::max_element(rows[k].begin(), rows[k].end()), sum = 0;
    for (size_t i = 0; i < V; ++i) sum += std::exp(rows[k][i] - mx);
    const double lse = mx + std::log(sum);
    for (size_t i = 0; i < V; ++i) logp[k][i] = rows[k][i] - lse;
    // top-p on each row before the entropy pick: entries outside the nucleus → -inf
    if (o.top_p > 0 && o.top_p < 1) {
      std::vector<size_t> order(V);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logp[k][a] > logp[k][b]; });
      double cum = 0;
      size_t keep = V;
      for (size_t r = 0; r < V; ++r) {
        cum += std::exp(logp[k][order[r]]);
        if (cum >= o.top_p) {
          keep = r + 1;
          break;
        }
      }
      for (size_t r = keep; r < V; ++r) logp[k][order[r]] = ninf;
    }
  }
  // k* = argmax_{k≥1} Σ p·clip(log p, -100, 0): the lowest-entropy context row
  k_star = 1;
  double best = ninf;
  for (size_t k = 1; k < K1; ++k) {
    double s = 0;
    for (size_t i = 0; i < V; ++i) {
      double lp = logp[k][i];
      if (lp == ninf) continue;  // p = 0
      s += std::exp(lp) * std::min(0.0, std::max(-100.0, lp));
    }
    if (s > best) {
      best = s;
      k_star = (int)k;
    }
  }
  std::vector<double> out(V);
  for (size_t i = 0; i < V; ++i)
    out[i] = logp[0][i] > -100 ? (1 + o.beta) * logp[k_star][i] - o.beta * logp[0][i] : logp[k_star][i];
  return out;
}

std::vector<std::vector<int>> nbce_chunks(const std::vector<int>& context, int k, int bos) {
  return nbce_chunks(context, k, std::vector<int>{bos});
}

std::vector<std::vector<int>> nbce_chunks(const std::vector<int>& context, int k, const std::vector<int>& prefix) {
  std::vector<std::vector<int>> chunks;
  const size_t total = context.size();
  for (long long i = 0; i < k; ++i) {
    const size_t b = total * i / k, e = total * (i + 1) / k;
    std::vector<int> c = prefix;
    c.insert(c.end(), context.begin() + (long)b, context.begin() + (long)e);
    chunks.push_back(std::move(c));
  }
  return chunks;
}

Result<NbceResult> run_nbce(const RunConfig& run_in, const std::vector<std::vector<int>>& chunks,
                            const std::vector<int>& question, int n, const NbceOptions& o) {
  SharedBackends shared(run_in);  // the rows run as one batch on one backend
  const RunConfig& run = shared.run;
  if (chunks.empty()) return make_error("NBCE needs at least one context chunk");
  if (question.empty()) return make_error("the question is empty");
  if (!o.forced.empty() && (size_t)n != o.forced.size()) return make_error("NBCE scoring needs one step per forced token");
  std::vector<std::vector<int>> rows;
  rows.push_back(question);  // row 0: unconditional (question only)
  for (const auto& ch : chunks) {
    std::vector<int> r = ch;
    const bool lead = !o.prefix.empty() && question.size() >= o.prefix.size() &&
                      std::equal(o.prefix.begin(), o.prefix.end(), question.begin());
    r.insert(r.end(), question.begin() + (lead ? (long)o.prefix.size() : 0), question.end());
    rows.push_back(r);
  }
  // K+1 engines live at once: their memory is checked together, before any is made.
  size_t total = 0;
  for (const auto& r : rows) {
    const int cap = (int)r.size() + n;
    total += engine_memory_bytes(run.model->config, cap, engine_chunk(run.model, run.engine, run.backend, cap, run.precision, run.backends),
                                 run.precision);
  }
  if (auto st = check_memory(total, "NBCE with " + std::to_string(rows.size()) + " engines (one per chunk and one for "
                                    "the question)",
                             "use fewer or shorter chunks");
      !st)
    return make_error(st.error());
  std::vector<std::unique_ptr<Engine>> engines;
  for (const auto& r : rows) {
    auto e = make_engine(run.model, run.engine, (int)r.size() + n, run.precision, run.backend, run.backends);
    if (!e) return make_error(e.error());
    if (auto st = (*e)->forward(r.data(), (int)r.size()); !st) return make_error(st.error());
    engines.push_back(e.take());
  }
  NbceResult res;
  unsigned long long rng = o.seed ? o.seed : 1;
  std::vector<int> last(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) last[k] = (int)rows[k].size() - 1;
  for (int step = 0; step < n; ++step) {
    std::vector<std::vector<float>> logits(rows.size());
    for (size_t k = 0; k < rows.size(); ++k)
      if (auto st = engines[k]->logits(last[k], logits[k]); !st) return make_error(st.error());
    int k_star = 1;
    auto combined = nbce_combine(logits, o, k_star);
    int tok = 0;
    if (!o.forced.empty()) {
      tok = o.forced[(size_t)step];
      if (tok < 0 || tok >= (int)combined.size()) return make_error("forced token outside the vocabulary");
      double mx = -INFINITY, sum = 0;
      size_t arg = 0;
      for (size_t v = 0; v < combined.size(); ++v)
        if (combined[v] > mx) mx = combined[v], arg = v;
      for (double x : combined) sum += std::exp(x - mx);
      res.logprob.push_back(combined[(size_t)tok] - mx - std::log(sum));
      res.top1.push_back(arg == (size_t)tok);
    } else {
      std::vector<float> cf(combined.begin(), combined.end());
      tok = sample_token(cf, SampleOptions{o.temperature, 1.0, 0}, rng);
      if (tok == run.model->config.eos_id) break;
    }
    res.tokens.push_back(tok);
    res.chosen_chunk.push_back(k_star);
    // Every row takes the token in one batch (one GEMM per projection for all K+1 rows).
    std::vector<Engine*> batch;
    for (auto& e : engines) batch.push_back(e.get());
    const std::vector<int> same(rows.size(), tok);
    if (auto st = Engine::forward_each(batch, same.data()); !st) return make_error(st.error());
    std::fill(last.begin(), last.end(), 0);
    if (run.progress) run.progress((step + 1.0) / n);
  }
  return res;
}

}  // namespace ls
