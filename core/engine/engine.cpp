#include "core/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/cpu/cpu_backend.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "core/util/memory.h"

namespace ls {

Status check_method_for_model(const MethodParams& m, const ModelConfig& c) {
  const std::string name = method_info(m.method).name;
  if (c.arch == Arch::Bloom && !method_is_alibi(m.method))
    return make_error("method " + name + " needs rotary positions, but this is an ALiBi model (" + c.name +
                      "); use alibi, alibi-linear, ntk-alibi or dynamic-ntk-alibi");
  if (c.arch == Arch::Llama && method_is_alibi(m.method))
    return make_error("method " + name + " needs an ALiBi model, but this model uses rotary positions; use a RoPE method");
  if (m.method == Method::LongRope &&
      (c.longrope_short.size() != (size_t)c.rot_dim / 2 || c.longrope_long.size() != (size_t)c.rot_dim / 2))
    return make_error("method longrope needs the model's per-pair factor lists (rope_scaling short_factor and "
                      "long_factor in config.json), and this model has none");
  return Status::Ok();
}

PositionTables position_tables(const MethodParams& m, const PositionContext& ctx, int n_heads) {
  PositionTables t;
  if (method_is_alibi(m.method)) {
    t.alibi_slopes = alibi_slopes(m, ctx, n_heads);
  } else if (ctx.rot_dim > 0) {
    RopeTable rt = rope_table(m, ctx);
    t.inv_freq = std::move(rt.inv_freq);
    t.attention_factor = rt.attention_factor;
  }
  return t;
}

AttentionParams attention_params(const MethodParams& m, int n_heads, int n_kv_heads, int head_dim, int rot_dim,
                                 PairLayout layout, double train_len) {
  AttentionParams a;
  a.n_heads = n_heads;
  a.n_kv_heads = n_kv_heads;
  a.head_dim = head_dim;
  a.rot_dim = rot_dim;
  a.layout = layout;
  a.method = m.method;
  a.remap = m.remap;
  a.logn = m.logn;
  a.train_len = train_len;
  return a;
}

size_t engine_memory_bytes(const ModelConfig& c, int capacity, int chunk, size_t elem, KvDtype kv_dtype) {
  const size_t kv = (size_t)c.n_kv_heads * c.head_dim, q = (size_t)c.n_heads * c.head_dim;
  KvSpec spec;
  spec.n_layers = c.n_layers;
  spec.kv_dim = (int)kv;
  spec.dtype = kv_dtype;
  size_t cache = (size_t)capacity * kv_token_bytes(spec, elem);  // one K copy and V
  size_t work = (size_t)chunk * (3 * c.dim + 3 * q + 2 * kv + 2 * (size_t)c.hidden_dim + c.vocab_size) * elem;
  size_t hidden = (size_t)capacity * c.dim * elem;
  size_t tables = (size_t)capacity * c.rot_dim * 2 * elem;  // cos/sin rows (near band, far band)
  return cache + work + hidden + tables;
}

template <typename T>
Result<std::unique_ptr<Engine<T>>> Engine<T>::create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                     int capacity, std::unique_ptr<Backend<T>> backend) {
  const ModelConfig& c = model->config;
  if (auto st = check_method_for_model(opts.method, c); !st) return make_error(st.error());
  if (capacity < 1 || capacity > (1 << 24))
    return make_error("context of " + std::to_string(capacity) + " tokens is outside [1, 16777216]");
  const int chunk = std::max(1, std::min(opts.chunk, capacity));
  if (auto st = check_memory(engine_memory_bytes(c, capacity, chunk, sizeof(T), opts.kv),
                             "a context of " + std::to_string(capacity) + " tokens (KV cache and work buffers)",
                             "choose a shorter context");
      !st)
    return make_error(st.error());
  std::unique_ptr<Engine<T>> e(new Engine<T>());
  e->model_ = model;
  e->opts_ = opts;
  e->opts_.chunk = chunk;
  attach_model_tables(e->opts_.method, c);
  e->capacity_ = capacity;
  CpuOptions cpu;
  cpu.threads = opts.threads;
  cpu.naive = opts.naive;
  cpu.attention = opts.row_attention ? CpuAttention::Rows : CpuAttention::Tiled;
  e->backend_ = backend ? std::move(backend) : std::make_unique<CpuBackend<T>>(cpu);
  Backend<T>& b = *e->backend_;
  if (auto st = b.upload(*model); !st) return make_error(st.error());
  const size_t q = (size_t)c.n_heads * c.head_dim, kv = (size_t)c.n_kv_heads * c.head_dim;
  e->kv_spec_.n_layers = c.n_layers;
  e->kv_spec_.kv_dim = (int)kv;
  e->kv_spec_.dtype = opts.kv;
  e->kv_spec_.keys = key_form_for(e->opts_.method);
  e->x_ = b.alloc((size_t)chunk * c.dim);
  e->xn_ = b.alloc((size_t)chunk * c.dim);
  e->q_ = b.alloc((size_t)chunk * q);
  e->k_new_ = b.alloc((size_t)chunk * kv);
  e->v_new_ = b.alloc((size_t)chunk * kv);
  e->att_ = b.alloc((size_t)chunk * q);
  e->tmp_ = b.alloc((size_t)chunk * c.dim);
  e->gate_ = b.alloc((size_t)chunk * c.hidden_dim);
  e->up_ = b.alloc((size_t)chunk * c.hidden_dim);
  e->logits_ = b.alloc((size_t)chunk * c.vocab_size);
  return e;
}

template <typename T>
Status Engine<T>::reserve(int tokens, int rows) {
  const ModelConfig& c = model_->config;
  Backend<T>& b = *backend_;
  if (tokens > reserved_) {
    // Grow geometrically (never past capacity) so a long generation reallocates rarely.
    const int target = std::min(capacity_, std::max({tokens, reserved_ * 2, 256}));
    if (auto st = b.reserve_kv(kv_spec_, target, pos_); !st) return st;  // rows [0, pos) are kept
    reserved_ = target;
  }
  if (rows > hidden_rows_) {
    const int target = std::min(capacity_, std::max(rows, hidden_rows_ * 2));
    if (auto st = check_memory((size_t)target * c.dim * sizeof(T), "hidden states of " + std::to_string(target) + " tokens");
        !st)
      return st;
    if (hidden_) b.release(hidden_);
    hidden_ = b.alloc((size_t)target * c.dim);
    hidden_rows_ = target;
  }
  return Status::Ok();
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
  if (auto st = reserve(pos_ + n, n); !st) return st;
  const int dim = c.dim, hid = c.hidden_dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  const bool llama = c.arch == Arch::Llama;
  // Every token of this call sees the same current length n (dynamic methods).
  // The position tables are computed here, on the host, from core/position.
  const PositionContext ctx{c.rot_dim, c.rope_base, (double)c.train_len, (double)(pos_ + n)};
  b.set_positions(position_tables(opts_.method, ctx, c.n_heads));
  AttentionParams ap =
      attention_params(opts_.method, c.n_heads, c.n_kv_heads, c.head_dim, c.rot_dim, c.layout, (double)c.train_len);
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
      b.matmul(xn_, rows, dim, L.wk, L.bk, kv_dim, k_new_);                               // k before RoPE
      b.matmul(xn_, rows, dim, L.wv, L.bv, kv_dim, v_new_);                               // v
      ap.layer = l;
      ap.p0 = p0;
      ap.n_new = rows;
      if (auto st = b.attention(ap, q_, k_new_, v_new_, att_, opts_.observer, opts_.cancel); !st) return st;  // att (rows, q_dim)
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
  // A NaN or Inf here means the weights or the method produced garbage: never report it as a number.
  for (int r = 0; r < rows; ++r)
    if (!std::isfinite(out[r]))
      return make_error("the loss at position " + std::to_string(pos_ - last_rows_ + first + r) + " is " +
                        std::to_string(out[r]) + " (non-finite activations; check the model's weights and the method's "
                        "parameters)");
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
  for (float x : out)
    if (!std::isfinite(x)) return make_error("the logits hold NaN or Inf (non-finite activations)");
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
