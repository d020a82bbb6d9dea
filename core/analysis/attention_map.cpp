#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"

namespace ls {

namespace {

// The maps of `heads` (ascending; one entry per head of `layer`) from one forward that
// ends after `layer`'s attention: nothing above it changes what that layer attends.
Result<std::vector<AttentionMap>> attention_maps(const RunConfig& run, const std::vector<int>& tokens, int ctx, int layer,
                                                 const std::vector<int>& heads, int pool, PoolMode mode,
                                                 AttentionRegion region) {
  const ModelConfig& c = run.model->config;
  if (layer < 0 || layer >= c.n_layers)
    return make_error("layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.n_layers) + ")");
  for (int head : heads)
    if (head < 0 || head >= c.n_heads)
      return make_error("head " + std::to_string(head) + " is outside [0, " + std::to_string(c.n_heads) + ")");
  if (ctx < 1) return make_error("context length must be at least 1 token");
  const int n = (int)std::min<size_t>(ctx, tokens.size());
  if (pool < 0 || pool > 4096) return make_error("pool size must be in [0, 4096]");
  if (pool == 0 && n > 4096) return make_error("a full " + std::to_string(n) + "×" + std::to_string(n) +
                                               " map is too large; pool it (e.g. --pool 512)");
  if (region.size < 0 || region.size > 4096 || region.q0 < 0 || region.k0 < 0 || region.q0 >= n || region.k0 >= n)
    return make_error("attention region outside the " + std::to_string(n) + "-token window");
  const bool detail = region.size > 0;
  const int side = detail ? region.size : pool > 0 && pool < n ? pool : n;
  std::vector<AttentionMap> maps(heads.size());
  std::vector<int> slot(c.n_heads, -1);  // head → its map, or -1
  std::vector<std::vector<float>> counts(heads.size());
  std::vector<std::vector<double>> dist(heads.size());
  for (size_t i = 0; i < heads.size(); ++i) {
    slot[heads[i]] = (int)i;
    AttentionMap& map = maps[i];
    map.layer = layer;
    map.head = heads[i];
    map.n = n;
    map.region = region;
    map.pooled = !detail && side < n ? side : 0;
    map.probs.assign((size_t)side * side, 0.0f);
    map.entropy.assign(n, 0.0);
    counts[i].assign(mode == PoolMode::Mean ? (size_t)side * side : 0, 0.0f);
    dist[i].assign(n, 0.0);
  }
  std::vector<HeadSummary> summary(c.n_heads);
  for (auto& hs : summary) hs.minimap.assign((size_t)kMinimap * kMinimap, 0.0f);
  const int mini = std::min(kMinimap, n);
  std::mutex summary_mu;  // summaries are shared between queries
  std::unique_ptr<std::mutex[]> map_mu(new std::mutex[heads.size() > 0 ? heads.size() : 1]);  // pooled rows, per map
  std::atomic<long long> rows_seen{0};
  std::mutex progress_mu;  // rows arrive from several threads: report only rising values
  double reported = 0;
  auto report = [&](double f) {
    std::lock_guard<std::mutex> lock(progress_mu);
    if (f <= reported) return;
    reported = f;
    run.progress(f);
  };
  const double rows_total = (double)n * c.n_heads;
  AttentionObserver obs;
  obs.layer = layer;
  obs.head = -1;  // every head: summaries and mini-maps for the head picker
  obs.stop_after_layer = true;
  if (run.progress)  // layers below `layer` first, then the rows of `layer` itself
    obs.on_layer = [&report, layer](int l) { report(0.95 * l / (layer + 1.0)); };
  // Key j falls in pooled column j·side/n: column b holds keys [start[b], start[b + 1]).
  auto bin_starts = [n](int bins) {
    std::vector<int> start((size_t)bins + 1);
    for (int b = 0; b <= bins; ++b) start[(size_t)b] = (int)(((long long)b * n + bins - 1) / bins);
    return start;
  };
  const std::vector<int> mini_start = bin_starts(mini), pool_start = bin_starts(side);
  // The maximum of p over each bin the row reaches (bins past nk stay 0).
  auto bin_max = [](const std::vector<int>& start, const float* p, int nk, float* out) {
    const int bins = (int)start.size() - 1;
    int b = 0;
    for (; b < bins && start[(size_t)b] < nk; ++b) {
      const int e = std::min(start[(size_t)b + 1], nk);
      float mx = 0.0f;
      for (int j = start[(size_t)b]; j < e; ++j) mx = p[j] > mx ? p[j] : mx;
      out[b] = mx;
    }
    return b;  // bins written
  };
  obs.on_row = [&](int h, int m, const float* p, int nk) {
    if (m >= n) return;
    double ent = 0, d = 0;
    for (int j = 0; j < nk; ++j) {
      if (p[j] > 0) ent -= p[j] * std::log((double)p[j]);
      d += p[j] * (double)(m - j);
    }
    float mini_row[kMinimap];
    const int mini_bins = bin_max(mini_start, p, nk, mini_row);
    {
      std::lock_guard<std::mutex> lock(summary_mu);
      HeadSummary& hs = summary[h];
      hs.mean_entropy += ent / n;
      hs.mean_distance += d / n;
      float* cells = &hs.minimap[(size_t)((long long)m * mini / n) * kMinimap];
      for (int b = 0; b < mini_bins; ++b) cells[b] = std::max(cells[b], mini_row[b]);
    }
    if (run.progress && (++rows_seen & 1023) == 0)
      report(0.95 * (layer + rows_seen.load() / rows_total) / (layer + 1.0));
    const int i = slot[h];
    if (i < 0) return;
    AttentionMap& map = maps[(size_t)i];
    map.entropy[m] = ent;
    dist[(size_t)i][m] = d;
    if (detail) {  // full resolution inside the region; each cell written by exactly one query
      if (m < region.q0 || m >= region.q0 + region.size) return;
      for (int j = region.k0; j < std::min(nk, region.k0 + region.size); ++j)
        map.probs[(size_t)(m - region.q0) * side + (j - region.k0)] = p[j];
      return;
    }
    float* cells = &map.probs[(size_t)((long long)m * side / n) * side];
    if (side == n) {  // one row per query: nobody else writes it
      std::copy(p, p + nk, cells);
      return;
    }
    if (mode == PoolMode::Max) {  // the row's bin maxima first, then one short merge under the lock
      thread_local std::vector<float> row;
      row.resize((size_t)side);
      const int bins = bin_max(pool_start, p, nk, row.data());
      std::lock_guard<std::mutex> lock(map_mu[(size_t)i]);
      for (int b = 0; b < bins; ++b) cells[b] = std::max(cells[b], row[(size_t)b]);
      return;
    }
    std::lock_guard<std::mutex> lock(map_mu[(size_t)i]);
    float* count = &counts[(size_t)i][(size_t)((long long)m * side / n) * side];
    for (int b = 0; b < side && pool_start[(size_t)b] < nk; ++b)
      for (int j = pool_start[(size_t)b]; j < std::min(pool_start[(size_t)b + 1], nk); ++j) {
        cells[b] += p[j];
        count[b] += 1;
      }
  };
  RunConfig r = run;
  r.engine.observer = &obs;
  auto eng = make_engine(r.model, r.engine, n, r.precision, r.backend, r.backends);
  if (!eng) return make_error(eng.error());
  if (auto st = (*eng)->forward(tokens.data(), n); !st) return make_error(st.error());
  for (size_t i = 0; i < maps.size(); ++i) {
    AttentionMap& map = maps[i];
    if (mode == PoolMode::Mean && side < n)
      for (size_t k = 0; k < map.probs.size(); ++k) map.probs[k] = counts[i][k] > 0 ? map.probs[k] / counts[i][k] : 0.0f;
    double sum = 0;
    for (double d : dist[i]) sum += d;
    map.mean_distance = sum / n;
    map.heads = summary;
  }
  if (run.progress) report(1.0);
  return maps;
}

}  // namespace

Result<AttentionMap> run_attention(const RunConfig& run, const std::vector<int>& tokens, int ctx, int layer, int head,
                                   int pool, PoolMode mode, AttentionRegion region) {
  auto maps = attention_maps(run, tokens, ctx, layer, {head}, pool, mode, region);
  if (!maps) return make_error(maps.error());
  return std::move(maps.value()[0]);
}

Result<std::vector<AttentionMap>> run_attention_heads(const RunConfig& run, const std::vector<int>& tokens, int ctx,
                                                      int layer, int pool, PoolMode mode) {
  std::vector<int> heads(run.model->config.n_heads);
  for (int h = 0; h < (int)heads.size(); ++h) heads[(size_t)h] = h;
  return attention_maps(run, tokens, ctx, layer, heads, pool, mode, {});
}

}  // namespace ls
