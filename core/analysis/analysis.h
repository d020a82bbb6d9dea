// Analyses over a document: per-token NLL (perplexity), loss vs context length
// sweeps, attention maps, generation and NBCE. Plain result structs; progress is
// reported through a callback and every run honours the engine's cancel flag.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/backends/backends.h"
#include "core/engine/engine.h"
#include "core/model/model.h"

namespace ls {

struct RunConfig {
  std::shared_ptr<const Model> model;
  EngineOptions engine;          // method, cancel, observer
  BackendRequest backend;        // which backend, and the CPU's threads
  BackendCache* backends = nullptr;  // the caller's backends, shared across runs (null: a new one per run)
  DType precision = DType::F32;
  std::function<void(double fraction)> progress;  // 0 … 1, may be empty
};

// A run whose engines share one backend per request: the caller's cache, or one
// made for the length of an analysis that runs several engines (sweep cells, NBCE
// rows, retrieval prompts).
struct SharedBackends {
  explicit SharedBackends(const RunConfig& r) : run(r) {
    if (!run.backends) run.backends = &local;
  }
  SharedBackends(const SharedBackends&) = delete;
  SharedBackends& operator=(const SharedBackends&) = delete;
  BackendCache local;
  RunConfig run;
};

// ---- perplexity ------------------------------------------------------------
// LongScope's definition: the document is cut into consecutive windows; window w
// feeds N tokens (document positions w·N … w·N+N-1) at positions 0 … N-1 and
// scores the prediction of each following token, so it consumes N+1 document
// tokens and consecutive windows share one. The current length n seen by dynamic
// methods is N. nll[k] is in nats; position[k] is the predicting token's position
// in its window.
struct PplResult {
  int ctx = 0;
  int windows = 0;
  long long n_tokens = 0;  // scored predictions
  std::vector<double> nll;
  std::vector<int> position;
  std::vector<int> target;  // the token each nll scores
  std::vector<int> rank;    // tokens the model ranked above the target (0 = top-1)
  double mean_nll = 0, ppl = 0, tokens_per_second = 0, seconds = 0;
};

// max_windows 0: every full window of the document.
Result<PplResult> run_ppl(const RunConfig& run, const std::vector<int>& tokens, int ctx, int max_windows = 0);

// Mean NLL over position buckets [edges[i], edges[i+1]).
std::vector<double> bucket_means(const PplResult& r, const std::vector<int>& edges);

// ---- sweep -------------------------------------------------------------------
struct SweepCell {
  MethodParams method;             // the method the cell ran
  int ctx = 0;
  double mean_nll = 0;
  int windows = 0;
  std::vector<double> bucket_nll;  // per bucket of `edges` (NaN where the bucket lies beyond ctx)
};
struct SweepResult {
  std::vector<int> edges;
  std::vector<SweepCell> cells;
};
// LongScope's default position buckets: [0, L), then [L, 4L), [4L, 16L), … until `longest`.
std::vector<int> default_bucket_edges(int train_len, int longest);
// Where a sweep cell's PPL comes from: `run` carries the cell's method and progress.
using PplSource = std::function<Result<PplResult>(const RunConfig& run, int ctx)>;
// For each method × length: run_ppl with at most `max_windows` windows (0: all), or
// `source` when given (the app passes its result cache).
Result<SweepResult> run_sweep(const RunConfig& run, const std::vector<MethodParams>& methods,
                              const std::vector<int>& lengths, const std::vector<int>& edges,
                              const std::vector<int>& tokens, int max_windows, const PplSource& source = {});

// ---- attention maps ---------------------------------------------------------------
// Per-head summary of one layer: mean entropy and mean attention distance.
struct HeadSummary {
  double mean_entropy = 0;   // nats, averaged over queries
  double mean_distance = 0;  // Σ p·(m-j), tokens, averaged over queries
  std::vector<float> minimap;  // kMinimap × kMinimap max-pooled probabilities
};
constexpr int kMinimap = 32;

// A square block of the attention matrix kept at full resolution: queries
// q0 … q0+size-1 against keys k0 … k0+size-1 (detail of a pooled map).
struct AttentionRegion {
  int q0 = 0, k0 = 0, size = 0;  // size 0: the whole matrix
};

struct AttentionMap {
  int layer = 0, head = 0, n = 0;    // n×n probabilities of the first window
  int pooled = 0;                    // side of the pooled matrix (0: not pooled)
  AttentionRegion region;            // when region.size > 0, probs is that block at full resolution
  std::vector<float> probs;          // (side, side) row-major; row = query, column = key
  std::vector<double> entropy;       // per query (nats)
  double mean_distance = 0;          // Σ p·(m-j) averaged over queries (tokens)
  std::vector<HeadSummary> heads;    // every head of the layer
};
enum class PoolMode { Max, Mean };
// Runs the first `ctx` tokens and records (layer, head); pool > 0 pools to pool×pool.
// The forward ends after `layer` (the layers above it cannot change its attention).
Result<AttentionMap> run_attention(const RunConfig& run, const std::vector<int>& tokens, int ctx, int layer, int head,
                                   int pool, PoolMode mode, AttentionRegion region = {});
// Every head of `layer` from the same single forward, one map per head (a head switch
// then costs nothing; the app caches a layer's maps).
Result<std::vector<AttentionMap>> run_attention_heads(const RunConfig& run, const std::vector<int>& tokens, int ctx,
                                                      int layer, int pool, PoolMode mode);

// ---- generation ------------------------------------------------------------------
struct SampleOptions {
  double temperature = 0;  // 0: greedy
  double top_p = 1.0;
  unsigned long long seed = 42;
};
// Picks a token from logits (greedy, or temperature + nucleus sampling with a seeded RNG).
int sample_token(const std::vector<float>& logits, const SampleOptions& s, unsigned long long& rng_state);
// Feeds `prompt` (already with BOS) and generates up to n tokens (stops at EOS).
Result<std::vector<int>> run_generate(const RunConfig& run, const std::vector<int>& prompt, int n,
                                      const SampleOptions& s);

// ---- NBCE (docs/methods.md §4, bojone/NBCE) -----------------------------------------------
struct NbceOptions {
  double beta = 0.25;
  double top_p = 0.95;
  double temperature = 0.01;
  unsigned long long seed = 42;
  // Scoring mode: when not empty, these tokens are appended instead of sampled
  // (teacher forcing) and NbceResult reports how the combined distribution rates them.
  std::vector<int> forced;
  // What the tokenizer puts before a text (its BOS; Tokenizer::prefix): the question
  // starts with it, and the rows that put a chunk before the question leave it out.
  std::vector<int> prefix;
};
struct NbceResult {
  std::vector<int> tokens;
  std::vector<int> chosen_chunk;  // k* at each step (1-based)
  std::vector<double> logprob;    // log p(token) under the combined distribution (log-softmax of it)
  std::vector<char> top1;         // whether the token was the combined distribution's arg max
};
// The context cut into k contiguous chunks of (nearly) equal size, each led by BOS.
std::vector<std::vector<int>> nbce_chunks(const std::vector<int>& context, int k, int bos);
// The same, each chunk after `prefix` (what the tokenizer puts before a text; may be empty).
std::vector<std::vector<int>> nbce_chunks(const std::vector<int>& context, int k, const std::vector<int>& prefix);
// chunks: K token lists (context pieces); question: the question tokens. Row 0 is
// the question alone, row k is chunk k followed by the question.
Result<NbceResult> run_nbce(const RunConfig& run, const std::vector<std::vector<int>>& chunks,
                            const std::vector<int>& question, int n, const NbceOptions& o);
// One NBCE step on K+1 rows of logits: returns the combined logits and k*.
std::vector<double> nbce_combine(const std::vector<std::vector<float>>& row_logits, const NbceOptions& o, int& k_star);

}  // namespace ls
