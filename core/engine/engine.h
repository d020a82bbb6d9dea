// The inference engine: forward() written once against Backend<T>, a KV cache
// holding keys before RoPE, an observer for attention probabilities, and a
// cancel flag checked every layer and every attention task.
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

enum class Precision { F32, F64 };

struct EngineOptions {
  MethodParams method;                         // applied inside attention
  int threads = 0;                             // 0: all cores
  bool naive = false;                          // the plain-loop baseline (benchmarks)
  bool row_attention = false;                  // the row-by-row reference attention instead of the tiled kernel
  KvDtype kv = KvDtype::Same;                  // KV cache storage: the activation type, f16 or bf16
  int chunk = 0;                               // tokens per micro-batch of a forward (0: the backend's choice)
  // Which backend runs: "cpu", a registered device backend ("cuda"), or "auto" (the
  // device backend when one is built in and finds a device, else the CPU).
  std::string backend = "cpu";
  const std::atomic<bool>* cancel = nullptr;   // set to stop a run; forward returns "cancelled"
  const AttentionObserver* observer = nullptr; // attention probabilities of one (layer, head)
};

// Whether `method` can run on this model (ALiBi methods need an ALiBi model, etc.).
Status check_method_for_model(const MethodParams& method, const ModelConfig& c);

// Bytes an engine with `capacity` cached tokens needs (weights are the model's):
// KV cache (one K copy and V, in the cache dtype), work buffers, hidden states.
size_t engine_memory_bytes(const ModelConfig& c, int capacity, int chunk, size_t elem_size,
                           KvDtype kv = KvDtype::Same);

// The longest context, a power of two in [256, 2^20], whose engine (chunks of 256)
// fits in half of `available` bytes (no limit known: 2^20).
int longest_context(const ModelConfig& c, size_t available, KvDtype kv = KvDtype::Same);

// A backend and the lock its users take: one per model and option set, shared by
// every engine on that model (windows, sweep cells, NBCE rows), which each hold
// their own KV cache and work buffers. One engine call runs at a time.
template <typename T>
struct SharedBackend {
  std::unique_ptr<Backend<T>> backend;
  std::mutex mu;
  Status uploaded = Status::Ok();  // the result of the one upload(model)
};

// A device backend's maker (gpu/: register_cuda_backend); an error when no device is usable.
using DeviceBackendFactory = Result<std::unique_ptr<Backend<float>>> (*)();
// Registers a device backend under `name`; programs that link gpu/ call it at start.
void register_device_backend(const std::string& name, DeviceBackendFactory factory);
// The backend opts.backend resolves to for this precision ("cpu", "cuda"), or an
// error (an unknown or unbuilt backend, no device, a device backend in f64).
Result<std::string> resolve_backend(const std::string& wanted, bool f64);

// The backend `opts` asks for (threads, naive, row attention; opts.backend), made on
// the first call for this model and precision and kept with the model after. A
// backend that cannot be made comes back with `uploaded` holding the reason.
template <typename T>
std::shared_ptr<SharedBackend<T>> backend_for(const Model& model, const EngineOptions& opts);
// What the backend `opts` picks for `model` can still allocate: the device's free
// memory (after the weights) for a device backend, the host's for the CPU; the
// host's when that backend cannot be made.
size_t backend_memory_available(const Model& model, const EngineOptions& opts);
// Wraps a backend of the caller's (a device backend, a test's) and uploads `model` to it.
template <typename T>
std::shared_ptr<SharedBackend<T>> share_backend(std::unique_ptr<Backend<T>> backend, const Model& model);

template <typename T>
class Engine {
 public:
  // capacity: the most tokens this engine will hold (prompt + generated).
  // backend: null for the model's shared backend (backend_for), or one of the caller's.
  static Result<std::unique_ptr<Engine>> create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                int capacity, std::shared_ptr<SharedBackend<T>> backend = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Feeds n tokens at positions pos() … pos()+n-1. Dynamic methods see the current
  // length n = pos() + n for every token of the call.
  Status forward(const int* tokens, int n);
  // Feeds tokens[i] to engines[i], one each, as one batch: the rows of every engine
  // go through each projection and feed-forward together (one GEMM, not one GEMV per
  // engine), each attends over its own cache. The engines share one model and one
  // backend (NBCE's rows). Equals a forward(&tokens[i], 1) on each.
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
  const Backend<T>& backend() const { return *shared_->backend; }

 private:
  Engine() = default;
  // One engine's rows of a micro-batch: tokens at positions p0 …, their attention
  // parameter blocks (global and local layers) and where their hidden states go.
  struct Segment {
    Engine* engine;
    const int* tokens;
    int rows, p0;
    AttentionParams *global, *local;
    T* hidden;
  };
  // Runs stacked segments (at most opts_.chunk rows in all) through every layer in the work buffers of `work`.
  static Status run_rows(Engine& work, const Segment* segs, int nseg);
  Status check_tokens(const int* tokens, int n) const;
  // This engine's position tables for a forward of n tokens (set on its cache) and the parameter blocks.
  Status attention_blocks(int n, AttentionParams& global, AttentionParams& local);
  // Grows the KV cache to hold `tokens` and the hidden states to hold `rows`
  // (geometrically, never past capacity), checking the memory budget first.
  Status reserve(int tokens, int rows);
  std::shared_ptr<const Model> model_;
  std::shared_ptr<SharedBackend<T>> shared_;
  std::unique_ptr<KvCache> cache_;  // this engine's sequence (one K copy, rotated or raw, and V per layer)
  EngineOptions opts_;
  int capacity_ = 0, pos_ = 0, last_rows_ = 0;
  int reserved_ = 0;     // tokens the KV cache holds room for (grown on demand up to capacity_)
  int hidden_rows_ = 0;  // rows of hidden_
  // Work buffers for one micro-batch of `chunk` tokens.
  T *x_ = nullptr;     // (chunk, dim) residual stream
  T *xn_ = nullptr;    // (chunk, dim) normalised
  T *q_ = nullptr;     // (chunk, q_dim) queries before RoPE
  T *k_new_ = nullptr; // (chunk, kv_dim) new keys before RoPE
  T *v_new_ = nullptr; // (chunk, kv_dim) new values
  T *att_ = nullptr;   // (chunk, q_dim) attention output
  T *tmp_ = nullptr;   // (chunk, dim) projection output
  T *gate_ = nullptr;  // (chunk, hidden) SwiGLU gate / GELU input
  T *up_ = nullptr;    // (chunk, hidden)
  T *hidden_ = nullptr;  // (hidden_rows, dim) final-normed hidden states of the last forward
  T *logits_ = nullptr;  // (chunk, vocab)
};

// The engine of the chosen precision behind one interface (analyses use this).
class AnyEngine {
 public:
  static Result<std::unique_ptr<AnyEngine>> create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                   int capacity, Precision precision);
  // The micro-batch an engine of `capacity` tokens will use (opts.chunk, or the backend's choice).
  static int chunk_for(const Model& model, const EngineOptions& opts, int capacity, Precision precision);
  Status forward(const int* tokens, int n);
  // Engine<T>::forward_each over engines of one precision.
  static Status forward_each(const std::vector<AnyEngine*>& engines, const int* tokens);
  Status nll(int first, int rows, const int* targets, double* out, int* rank = nullptr);
  Status logits(int row, std::vector<float>& out);
  int pos() const;
  void reset();
  const Model& model() const;

 private:
  std::unique_ptr<Engine<float>> f32_;
  std::unique_ptr<Engine<double>> f64_;
};

}  // namespace ls
