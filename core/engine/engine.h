// The inference engine: forward() written once against Backend, with activations
// of a runtime dtype (f32, or f64 for reference runs) in Tensor views the backend
// owns, a KV cache made by the backend, an observer for attention probabilities,
// and a cancel flag checked every layer and every attention task.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine/backend.h"
#include "core/model/model.h"
#include "core/util/memory.h"

namespace ls {

struct EngineOptions {
  MethodParams method;                         // applied inside attention
  std::optional<DType> kv;                     // KV cache storage: F16 or BF16; none: the activation type
  int chunk = 0;                               // tokens per micro-batch of a forward (0: the backend's choice)
  const std::atomic<bool>* cancel = nullptr;   // set to stop a run; forward returns "cancelled"
  const AttentionObserver* observer = nullptr; // attention probabilities of one (layer, head)
};

// Whether `method` can run on this model (ALiBi methods need an ALiBi model, etc.).
Status check_method_for_model(const MethodParams& method, const ModelConfig& c);
// Whether `method` runs over a context of n tokens on this model: a remapping method
// on a model whose local (sliding) layers share its table runs only while n ≤ the window.
Status check_method_at_length(const MethodParams& method, const ModelConfig& c, int n);

// Bytes an engine with `capacity` cached tokens needs (weights are the model's):
// KV cache (one K copy and V, in the cache dtype), work buffers, hidden states.
size_t engine_memory_bytes(const ModelConfig& c, int capacity, int chunk, DType act, std::optional<DType> kv = {});

// The longest context, a power of two in [256, 2^20], whose engine (chunks of 256)
// fits in half of `available` bytes (no limit known: 2^20).
int longest_context(const ModelConfig& c, size_t available, std::optional<DType> kv = {});

// A backend and the lock its users take: one per model and option set, shared by
// every engine on that model (windows, sweep cells, NBCE rows, f32 and f64 runs),
// which each hold their own KV cache and work buffers. One engine call runs at a time.
struct SharedBackend {
  std::unique_ptr<Backend> backend;
  std::mutex mu;
  Status uploaded = Status::Ok();  // the result of the one upload(model)
};

// Tokens per micro-batch: the one asked for, else the backend's choice, never past capacity.
int micro_batch(int asked, int preferred, int capacity);
// Wraps a backend of the caller's (a device backend, a test's) and uploads `model` to it.
std::shared_ptr<SharedBackend> share_backend(std::unique_ptr<Backend> backend, const Model& model);

class Engine {
 public:
  // capacity: the most tokens this engine will hold (prompt + generated); precision:
  // the activation dtype (the backend must support it).
  // backend: the backend it runs on (core/backends: make_engine picks the one opts asks for).
  static Result<std::unique_ptr<Engine>> create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                int capacity, DType precision, std::shared_ptr<SharedBackend> backend);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Feeds n tokens at positions pos() … pos()+n-1. Dynamic methods see the current
  // length n = pos() + n for every token of the call.
  Status forward(const int* tokens, int n);
  // Feeds tokens[i] to engines[i], one each, as one batch: the rows of every engine
  // go through each projection and feed-forward together (one GEMM, not one GEMV per
  // engine), each attends over its own cache. The engines share one model, one
  // backend and one precision (NBCE's rows). Equals a forward(&tokens[i], 1) on each.
  static Status forward_each(const std::vector<Engine*>& engines, const int* tokens);
  // NLL (nats) of targets[r] after row first+r of the last forward; rank optional.
  Status nll(int first, int rows, const int* targets, double* out, int* rank = nullptr);
  // Logits of row `row` of the last forward.
  Status logits(int row, std::vector<float>& out);

  int pos() const { return pos_; }
  int capacity() const { return capacity_; }
  void reset() { pos_ = 0; }
  const Model& model() const { return *model_; }
  const EngineOptions& options() const { return opts_; }
  const Backend& backend() const { return *shared_->backend; }
  DType activations() const { return cache_->spec.act; }  // the cache's, as every view's

 private:
  Engine() = default;
  // The attention parameter blocks of one forward, one per layer kind.
  struct LayerAttention {
    AttentionParams global, local, none;
    AttentionParams& of(LayerKind k) { return k == LayerKind::Local ? local : k == LayerKind::NoPosition ? none : global; }
  };
  // One engine's rows of a micro-batch: tokens at positions p0 …, their attention
  // parameter blocks and where their hidden states go.
  struct Segment {
    Engine* engine;
    const int* tokens;
    int rows, p0;
    LayerAttention* attention;
    Tensor hidden;
  };
  // Runs stacked segments (at most opts_.chunk rows in all) through every layer in the work buffers of `work`.
  static Status run_rows(Engine& work, const Segment* segs, int nseg);
  // A layer's mixture of experts on `rows` normed rows xn into out (rows, dim), in
  // this engine's work buffers: each expert runs once on the rows routed to it.
  Status moe_ffn(const LayerWeights& L, int rows, const Tensor& xn, const Tensor& out);
  Status check_tokens(const int* tokens, int n) const;
  // This engine's position tables for a forward of n tokens (set on its cache) and the parameter blocks.
  Status attention_blocks(int n, LayerAttention& blocks);
  // Grows the KV cache to hold `tokens` and the hidden states to hold `rows`
  // (geometrically, never past capacity), checking the memory budget first.
  Status reserve(int tokens, int rows);
  std::shared_ptr<const Model> model_;
  std::shared_ptr<SharedBackend> shared_;
  std::unique_ptr<KvCache> cache_;  // this engine's sequence (one K copy, rotated or raw, and V per layer)
  EngineOptions opts_;
  int capacity_ = 0, pos_ = 0, last_rows_ = 0;
  int reserved_ = 0;     // tokens the KV cache holds room for (grown on demand up to capacity_)
  int hidden_rows_ = 0;  // rows of hidden_
  // Work buffers for one micro-batch of `chunk` tokens, in the backend's memory.
  Tensor x_;       // (chunk, dim) residual stream
  Tensor xn_;      // (chunk, dim) normalised
  Tensor q_;       // (chunk, q_dim) queries before RoPE
  Tensor k_new_;   // (chunk, kv_dim) new keys before RoPE
  Tensor v_new_;   // (chunk, kv_dim) new values
  Tensor att_;     // (chunk, q_dim) attention output
  Tensor tmp_;     // (chunk, dim) projection output
  Tensor gate_;    // (chunk, hidden) SwiGLU gate / GELU input
  Tensor up_;      // (chunk, hidden)
  Tensor moe_x_;   // (chunk, dim) one expert's gathered rows (mixture-of-experts models)
  Tensor moe_y_;   // (chunk, dim) its outputs
  Tensor router_;  // (chunk, experts) router logits
  Tensor hidden_;  // (hidden_rows, dim) final-normed hidden states of the last forward
  Tensor logits_;  // (chunk, vocab)
};

}  // namespace ls
