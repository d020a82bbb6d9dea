#include "core/engine/engine.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "core/cpu/cpu_backend.h"
#include "core/position/spec.h"

namespace ls {

Status check_method_for_model(const MethodParams& m, const ModelConfig& c) {
  const std::string name = method_info(m.method).name;
  if (c.arch == Arch::Bloom && !method_is_alibi(m.method))
    return make_error("method " + name + " needs rotary positions, but this is an ALiBi model (" + c.name +
                      "); use alibi, alibi-linear, ntk-alibi or dynamic-ntk-alibi");
  if (c.arch == Arch::Llama && method_is_alibi(m.method))
    return make_error("method " + name + " needs an ALiBi model, but this model uses rotary positions; use a RoPE method");
  return Status::Ok();
}

size_t engine_memory_bytes(const ModelConfig& c, int capacity, int chunk, size_t elem) {
  const size_t kv = (size_t)c.n_kv_heads * c.head_dim, q = (size_t)c.n_heads * c.head_dim;
  size_t cache = 3 * (size_t)c.n_layers * capacity * kv;
  size_t work = (size_t)chunk * (3 * c.dim + 2 * q + 2 * (size_t)c.hidden_dim + c.vocab_size);
  size_t hidden = (size_t)capacity * c.dim;
  size_t far_keys = (size_t)capacity * kv;              // far-band keys of remapping methods
  size_t scores = (size_t)capacity * 4 * 2;            // per-task score rows (a few threads)
  return (cache + work + hidden + far_keys + scores) * elem;
}

size_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  size_t kb;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

template <typename T>
Result<std::unique_ptr<Engine<T>>> Engine<T>::create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                     int capacity, std::unique_ptr<Backend<T>> backend) {
  const ModelConfig& c = model->config;
  if (auto st = check_method_for_model(opts.method, c); !st) return make_error(st.error());
  if (capacity < 1 || capacity > (1 << 24))
    return make_error("context of " + std::to_string(capacity) + " tokens is outside [1, 16777216]");
  const int chunk = std::max(1, std::min(opts.chunk, capacity));
  const size_t need = engine_memory_bytes(c, capacity, chunk, sizeof(T));
  const size_t avail = available_memory_bytes();
  if (avail && need > avail / 10 * 9)
    return make_error("a context of " + std::to_string(capacity) + " tokens needs " + std::to_string(need >> 20) +
                      " MiB for the KV cache and work buffers, but only " + std::to_string(avail >> 20) +
                      " MiB are available; choose a shorter context");
  std::unique_ptr<Engine<T>> e(new Engine<T>());
  e->model_ = model;
  e->opts_ = opts;
  e->opts_.chunk = chunk;
  attach_model_tables(e->opts_.method, c);
  e->capacity_ = capacity;
  e->backend_ = backend ? std::move(backend) : std::make_unique<CpuBackend<T>>(CpuOptions{opts.threads, opts.naive});
  Backend<T>& b = *e->backend_;
  const size_t kv = (size_t)c.n_kv_heads * c.head_dim, q = (size_t)c.n_heads * c.head_dim;
  for (int l = 0; l < c.n_layers; ++l) {
    e->k_raw_.push_back(b.alloc((size_t)capacity * kv));
    e->k_rot_.push_back(b.alloc((size_t)capacity * kv));
    e->v_.push_back(b.alloc((size_t)capacity * kv));
  }
  e->x_ = b.alloc((size_t)chunk * c.dim);
  e->xn_ = b.alloc((size_t)chunk * c.dim);
  e->q_ = b.alloc((size_t)chunk * q);
  e->att_ = b.alloc((size_t)chunk * q);
  e->tmp_ = b.alloc((size_t)chunk * c.dim);
  e->gate_ = b.alloc((size_t)chunk * c.hidden_dim);
  e->up_ = b.alloc((size_t)chunk * c.hidden_dim);
  e->hidden_ = b.alloc((size_t)capacity * c.dim);
  e->logits_ = b.alloc((size_t)chunk * c.vocab_size);
  return e;
}

template <typename T>
Status Engine<T>::forward(const int* tokens, int n) {
  const ModelConfig& c = model_->config;
  const ModelWeights& w = model_->weights;
  Backend<T>& b = *backend_;
  if (n < 1) return make_error("forward needs at least one token");
  if (pos_ + n > capacity_)
    return make_error("context full: " + std::to_string(pos_) + " cached + " + std::to_string(n) + " new tokens exceed " +
                      std::to_string(capacity_));
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size)
      return make_error("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(pos_ + i) +
                        " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  const int dim = c.dim, hid = c.hidden_dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  const bool llama = c.arch == Arch::Llama;
  // Every token of this call sees the same current length n (dynamic methods).
  const PositionContext ctx{c.rot_dim, c.rope_base, (double)c.train_len, (double)(pos_ + n)};
  std::vector<double> slopes;
  if (method_is_alibi(opts_.method.method))
    for (int h = 1; h <= c.n_heads; ++h) slopes.push_back(alibi_slope(opts_.method, ctx, h, c.n_heads));
  auto norm = [&](const T* x, const float* wt, const float* bias, int rows, T* y) {
    if (llama) b.rmsnorm(x, wt, rows, dim, c.norm_eps, y);
    else b.layernorm(x, wt, bias, rows, dim, c.norm_eps, y);
  };

  for (int c0 = 0; c0 < n; c0 += opts_.chunk) {
    const int rows = std::min(opts_.chunk, n - c0), p0 = pos_ + c0;
    // token embedding (+ BLOOM's embedding LayerNorm)
    b.embed(tokens + c0, rows, w.tok_embd, dim, x_);                                   // x (rows, dim)
    if (!llama) b.layernorm(x_, w.embd_norm, w.embd_norm_b, rows, dim, c.norm_eps, x_);
    for (int l = 0; l < c.n_layers; ++l) {
      if (opts_.cancel && opts_.cancel->load()) return make_error("cancelled");
      const LayerWeights& L = w.layers[l];
      // attention block: norm, projections (new keys/values appended to the cache)
      norm(x_, L.attn_norm, L.attn_norm_b, rows, xn_);                                  // xn (rows, dim)
      b.matmul(xn_, rows, dim, L.wq, L.bq, q_dim, q_);                                   // q (rows, q_dim)
      b.matmul(xn_, rows, dim, L.wk, L.bk, kv_dim, k_raw_[l] + (size_t)p0 * kv_dim);     // k before RoPE
      b.matmul(xn_, rows, dim, L.wv, L.bv, kv_dim, v_[l] + (size_t)p0 * kv_dim);         // v
      AttentionCall<T> call;
      call.layer = l;
      call.q = q_;
      call.k_raw = k_raw_[l];
      call.k_rot = k_rot_[l];
      call.v = v_[l];
      call.out = att_;                                                                   // att (rows, q_dim)
      call.p0 = p0;
      call.n_new = rows;
      call.n_heads = c.n_heads;
      call.n_kv_heads = c.n_kv_heads;
      call.head_dim = c.head_dim;
      call.rot_dim = c.rot_dim;
      call.layout = c.layout;
      call.method = opts_.method;
      call.ctx = ctx;
      call.alibi_slopes = slopes.empty() ? nullptr : slopes.data();
      call.observer = opts_.observer;
      call.cancel = opts_.cancel;
      if (auto st = b.attention(call); !st) return st;
      b.matmul(att_, rows, q_dim, L.wo, L.bo, dim, tmp_);                                // (rows, dim)
      b.add(x_, tmp_, (size_t)rows * dim);                                               // residual
      // feed-forward block: SwiGLU (LLaMA) or GELU (BLOOM)
      norm(x_, L.ffn_norm, L.ffn_norm_b, rows, xn_);
      if (llama) {
        b.matmul(xn_, rows, dim, L.w_gate, nullptr, hid, gate_);                         // (rows, hidden)
        b.matmul(xn_, rows, dim, L.w_up, nullptr, hid, up_);                             // (rows, hidden)
        b.swiglu(gate_, up_, (size_t)rows * hid);
      } else {
        b.matmul(xn_, rows, dim, L.w_up, L.b_up, hid, gate_);
        b.gelu(gate_, (size_t)rows * hid);
      }
      b.matmul(gate_, rows, hid, L.w_down, L.b_down, dim, tmp_);                         // (rows, dim)
      b.add(x_, tmp_, (size_t)rows * dim);                                               // residual
    }
    // final norm; the classifier runs on demand (nll / logits)
    norm(x_, w.out_norm, w.out_norm_b, rows, hidden_ + (size_t)c0 * dim);              // hidden (n, dim)
  }
  pos_ += n;
  last_rows_ = n;
  return Status::Ok();
}

template <typename T>
Status Engine<T>::nll(int first, int rows, const int* targets, double* out, int* rank) {
  const ModelConfig& c = model_->config;
  if (first < 0 || rows < 0 || first + rows > last_rows_) return make_error("nll rows outside the last forward");
  for (int r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= c.vocab_size) return make_error("target token outside the vocabulary");
  for (int r0 = 0; r0 < rows; r0 += opts_.chunk) {
    int n = std::min(opts_.chunk, rows - r0);
    backend_->matmul(hidden_ + (size_t)(first + r0) * c.dim, n, c.dim, model_->weights.output, nullptr, c.vocab_size,
                     logits_);
    backend_->nll(logits_, n, c.vocab_size, targets + r0, out + r0, rank ? rank + r0 : nullptr);
  }
  return Status::Ok();
}

template <typename T>
Status Engine<T>::logits(int row, std::vector<float>& out) {
  const ModelConfig& c = model_->config;
  if (row < 0 || row >= last_rows_) return make_error("logits row outside the last forward");
  backend_->matmul(hidden_ + (size_t)row * c.dim, 1, c.dim, model_->weights.output, nullptr, c.vocab_size, logits_);
  std::vector<T> host(c.vocab_size);
  backend_->to_host(logits_, host.data(), host.size());
  out.assign(host.begin(), host.end());
  return Status::Ok();
}

template class Engine<float>;
template class Engine<double>;

Result<std::unique_ptr<AnyEngine>> AnyEngine::create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                     int capacity, Precision precision) {
  std::unique_ptr<AnyEngine> e(new AnyEngine());
  if (precision == Precision::F64) {
    auto r = Engine<double>::create(model, opts, capacity);
    if (!r) return make_error(r.error());
    e->f64_ = r.take();
  } else {
    auto r = Engine<float>::create(model, opts, capacity);
    if (!r) return make_error(r.error());
    e->f32_ = r.take();
  }
  return e;
}

Status AnyEngine::forward(const int* t, int n) { return f32_ ? f32_->forward(t, n) : f64_->forward(t, n); }
Status AnyEngine::nll(int first, int rows, const int* targets, double* out, int* rank) {
  return f32_ ? f32_->nll(first, rows, targets, out, rank) : f64_->nll(first, rows, targets, out, rank);
}
Status AnyEngine::logits(int row, std::vector<float>& out) { return f32_ ? f32_->logits(row, out) : f64_->logits(row, out); }
int AnyEngine::pos() const { return f32_ ? f32_->pos() : f64_->pos(); }
void AnyEngine::reset() { f32_ ? f32_->reset() : f64_->reset(); }
const Model& AnyEngine::model() const { return f32_ ? f32_->model() : f64_->model(); }

}  // namespace ls
