#include "core/engine/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "core/position/spec.h"
#include "core/position/tables.h"
#include "core/util/memory.h"

namespace ls {

Status check_method_for_model(const MethodParams& m, const ModelConfig& c) {
  const std::string name = method_info(m.method).name;
  if (arch_alibi(c.arch) && !method_is_alibi(m.method))
    return make_error("method " + name + " needs rotary positions, but this is an ALiBi model (" + c.name +
                      "); use alibi, alibi-linear, ntk-alibi or dynamic-ntk-alibi");
  if (!arch_alibi(c.arch) && method_is_alibi(m.method))
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

int micro_batch(int asked, int preferred, int capacity) {
  return std::max(1, std::min(asked > 0 ? asked : preferred, capacity));
}

namespace {

// One K copy and V per layer of the model, in `dtype`, keys as `keys`, for activations `act`.
KvSpec kv_spec(const ModelConfig& c, DType act, std::optional<DType> dtype, KeyForm keys = KeyForm::Rotated) {
  KvSpec s;
  s.act = act;
  s.n_layers = c.n_layers;
  s.kv_dim = c.n_kv_heads * c.head_dim;
  s.dtype = dtype;
  s.keys = keys;
  return s;
}

}  // namespace

// The feed-forward work buffers' width: the dense or expert width, or the shared expert's when wider.
size_t ffn_width(const ModelConfig& c) { return (size_t)std::max(c.hidden_dim, c.block.moe.shared_hidden); }

size_t engine_memory_bytes(const ModelConfig& c, int capacity, int chunk, DType act, std::optional<DType> kv_dtype) {
  const size_t kv = (size_t)c.n_kv_heads * c.head_dim, q = (size_t)c.n_heads * c.head_dim, elem = dtype_bytes(act, 1);
  size_t cache = (size_t)capacity * kv_token_bytes(kv_spec(c, act, kv_dtype));  // one K copy and V
  const size_t moe = c.block.moe.n_experts > 0 ? 2 * (size_t)c.dim + (size_t)c.block.moe.n_experts : 0;
  size_t work = (size_t)chunk * (3 * c.dim + 3 * q + 2 * kv + 2 * ffn_width(c) + c.vocab_size + moe) * elem;
  size_t hidden = (size_t)capacity * c.dim * elem;
  size_t tables = (size_t)capacity * c.rot_dim * 2 * elem;  // cos/sin rows (near band, far band)
  return cache + work + hidden + tables;
}

int longest_context(const ModelConfig& c, size_t available, std::optional<DType> kv) {
  int n = 1 << 20;
  while (n > 256 && available && engine_memory_bytes(c, n, 256, DType::F32, kv) > available / 2) n /= 2;
  return n;
}

std::shared_ptr<SharedBackend> share_backend(std::unique_ptr<Backend> backend, const Model& model) {
  auto shared = std::make_shared<SharedBackend>();
  shared->uploaded = backend->upload(model);
  shared->backend = std::move(backend);
  return shared;
}

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                               int capacity, DType precision, std::shared_ptr<SharedBackend> shared) {
  const ModelConfig& c = model->config;
  if (auto st = check_method_for_model(opts.method, c); !st) return make_error(st.error());
  if (capacity < 1 || capacity > (1 << 24))
    return make_error("context of " + std::to_string(capacity) + " tokens is outside [1, 16777216]");
  if (!shared) return make_error("no backend given (core/backends: make_engine picks one)");
  if (!shared->uploaded) return make_error(shared->uploaded.error());
  if (!shared->backend) return make_error("no backend given");
  std::lock_guard<std::mutex> lock(shared->mu);
  Backend& b = *shared->backend;
  const DType act = precision;  // the activations' element type: f32, or f64 for reference runs
  if (act != DType::F32 && act != DType::F64)
    return make_error(std::string("activations run in F32 or F64, not ") + dtype_name(act));
  if (opts.kv && *opts.kv != DType::F16 && *opts.kv != DType::BF16)
    return make_error(std::string("a KV cache stores F16 or BF16 (or the activations' type), not ") + dtype_name(*opts.kv));
  if (!b.supports(act))
    return make_error(std::string("the ") + b.name() + " backend does not run " + dtype_name(act) + " activations");
  const int chunk = micro_batch(opts.chunk, b.preferred_chunk(), capacity);
  if (auto st = check_memory(engine_memory_bytes(c, capacity, chunk, act, opts.kv), b.memory_available(),
                             "a context of " + std::to_string(capacity) + " tokens (KV cache and work buffers)",
                             "choose a shorter context");
      !st)
    return make_error(st.error());
  std::unique_ptr<Engine> e(new Engine());
  e->model_ = model;
  e->shared_ = shared;
  e->opts_ = opts;
  e->opts_.chunk = chunk;
  attach_model_tables(e->opts_.method, c);
  e->capacity_ = capacity;
  const KvSpec spec = kv_spec(c, act, opts.kv, key_form_for(e->opts_.method));
  e->cache_ = b.make_cache(spec);
  const size_t q = (size_t)c.n_heads * c.head_dim, kv = (size_t)spec.kv_dim;
  e->x_ = b.alloc(act, (size_t)chunk * c.dim);
  e->xn_ = b.alloc(act, (size_t)chunk * c.dim);
  e->q_ = b.alloc(act, (size_t)chunk * q);
  e->k_new_ = b.alloc(act, (size_t)chunk * kv);
  e->v_new_ = b.alloc(act, (size_t)chunk * kv);
  e->att_ = b.alloc(act, (size_t)chunk * q);
  e->tmp_ = b.alloc(act, (size_t)chunk * c.dim);
  e->gate_ = b.alloc(act, (size_t)chunk * ffn_width(c));
  e->up_ = b.alloc(act, (size_t)chunk * ffn_width(c));
  if (c.block.moe.n_experts > 0) {
    e->moe_x_ = b.alloc(act, (size_t)chunk * c.dim);
    e->moe_y_ = b.alloc(act, (size_t)chunk * c.dim);
    e->router_ = b.alloc(act, (size_t)chunk * c.block.moe.n_experts);
  }
  e->logits_ = b.alloc(act, (size_t)chunk * c.vocab_size);
  if (auto st = b.sync(); !st) return make_error(st.error());  // an allocation the backend could not make
  return e;
}

Engine::~Engine() {
  if (!shared_) return;
  std::lock_guard<std::mutex> lock(shared_->mu);
  for (const Tensor* t : {&x_, &xn_, &q_, &k_new_, &v_new_, &att_, &tmp_, &gate_, &up_, &moe_x_, &moe_y_, &router_, &hidden_,
                          &logits_})
    if (t->data) shared_->backend->release(*t);
  cache_.reset();
}

Status Engine::reserve(int tokens, int rows) {
  const ModelConfig& c = model_->config;
  Backend& b = *shared_->backend;
  if (tokens > reserved_) {
    // Grow geometrically (never past capacity) so a long generation reallocates rarely.
    const int target = std::min(capacity_, std::max({tokens, reserved_ * 2, 256}));
    if (auto st = b.reserve_kv(*cache_, target, pos_); !st) return st;  // rows [0, pos) are kept
    reserved_ = target;
  }
  if (rows > hidden_rows_) {
    const int target = std::min(capacity_, std::max(rows, hidden_rows_ * 2));
    if (auto st = check_memory(dtype_bytes(activations(), (size_t)target * c.dim), b.memory_available(),
                               "hidden states of " + std::to_string(target) + " tokens", "");
        !st)
      return st;
    if (hidden_.data) b.release(hidden_);
    hidden_ = b.alloc(activations(), (size_t)target * c.dim);
    if (auto st = b.sync(); !st) return st;
    hidden_rows_ = target;
  }
  return Status::Ok();
}

Status Engine::check_tokens(const int* tokens, int n) const {
  if (n < 1) return make_error("forward needs at least one token");
  if (pos_ + n > capacity_)
    return make_error("context full: " + std::to_string(pos_) + " cached + " + std::to_string(n) + " new tokens exceed " +
                      std::to_string(capacity_));
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= model_->config.vocab_size)
      return make_error("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(pos_ + i) +
                        " is outside the vocabulary [0, " + std::to_string(model_->config.vocab_size) + ")");
  return Status::Ok();
}

Status check_method_at_length(const MethodParams& method, const ModelConfig& c, int n) {
  const int window = c.block.local_window;
  if (window > 0 && c.block.local_rope_base <= 0 && method_is_remap(method.method) && n > window)
    return make_error("method " + method_spec_string(method) + " cannot run beyond " + std::to_string(window) +
                      " tokens on this model: its local layers' sliding window cannot be combined with a remapping "
                      "method's bands");
  return Status::Ok();
}

Status Engine::attention_blocks(int n, LayerAttention& blocks) {
  AttentionParams &ap = blocks.global, &local = blocks.local;
  const ModelConfig& c = model_->config;
  Backend& b = *shared_->backend;
  // Every token of this call sees the same current length n (dynamic methods).
  // The position tables are computed here, on the host, from core/position.
  const PositionContext ctx{c.rot_dim, c.rope_base, (double)c.train_len, (double)(pos_ + n)};
  b.set_positions(*cache_, position_tables(opts_.method, ctx, c.n_heads), 0);
  ap = attention_params(opts_.method, c.n_heads, c.n_kv_heads, c.head_dim, c.rot_dim, c.layout, (double)c.train_len);
  ap.scale = c.block.attn_scale;
  ap.softcap = c.block.attn_softcap;
  // Local layers (Gemma-2's sliding ones) see keys m - j < W: the method's bands with
  // that window on top. A remapping method has bands of its own, which cannot be
  // combined with the window: refused once the window matters.
  local = ap;
  const int window = c.block.local_window;
  if (window > 0 && c.block.local_rope_base > 0) {
    // Gemma-3: local layers keep their native plain RoPE at their own base, windowed;
    // the method (and any remapping) is the global layers'.
    const PositionContext lctx{c.rot_dim, c.block.local_rope_base, (double)c.train_len, (double)(pos_ + n)};
    b.set_positions(*cache_, position_tables(MethodParams{}, lctx, c.n_heads), 1);
    local.table = 1;
    local.method = Method::SlidingWindow;
    local.remap = RelposRemap{};
    local.remap.window = window;
    local.logn = 0;
  } else if (window > 0) {
    if (auto st = check_method_at_length(opts_.method, c, pos_ + n); !st) return st;
    if (local.method == Method::SlidingWindow) {
      local.remap.window = std::min(local.remap.window, (double)window);
    } else if (!method_is_remap(local.method)) {
      local.method = Method::SlidingWindow;
      local.remap = RelposRemap{};
      local.remap.window = window;
    }
  }
  // NoPE layers: causal attention over every key with no position term (table 2 is
  // empty: no θ', no slopes), whatever the method.
  AttentionParams& none = blocks.none;
  none = ap;
  none.method = Method::Rope;
  none.remap = RelposRemap{};
  none.logn = 0;
  none.rot_dim = 0;
  none.table = 2;
  if (std::find(c.block.layers.begin(), c.block.layers.end(), LayerKind::NoPosition) != c.block.layers.end())
    b.set_positions(*cache_, PositionTables{}, 2);
  return Status::Ok();
}

Status Engine::run_rows(Engine& work, const Segment* segs, int nseg) {
  const ModelConfig& c = work.model_->config;
  const ModelWeights& w = work.model_->weights;
  Backend& b = *work.shared_->backend;
  const int dim = c.dim, hid = c.hidden_dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  const BlockDesc& block = c.block;
  const bool rms = block.norm == NormKind::Rms, gated = ffn_gated(c);
  auto norm = [&](const Tensor& x, const float* wt, const float* bias, int n, const Tensor& y) {
    if (rms) b.rmsnorm(x, wt, n, dim, c.norm_eps, y);
    else b.layernorm(x, wt, bias, n, dim, c.norm_eps, y);
  };
  int rows = 0;  // the stacked rows of every segment
  for (int s = 0; s < nseg; ++s) {
    b.embed(segs[s].tokens, segs[s].rows, w.tok_embd, dim, work.x_.slice((size_t)rows * dim, (size_t)segs[s].rows * dim));
    rows += segs[s].rows;
  }
  // The micro-batch's rows of each work buffer (x (rows, dim) and so on).
  const size_t nd = (size_t)rows * dim, nh = (size_t)rows * hid;
  const Tensor x = work.x_.head(nd), xn = work.xn_.head(nd), tmp = work.tmp_.head(nd);
  const Tensor q = work.q_.head((size_t)rows * q_dim), att = work.att_.head((size_t)rows * q_dim);
  const Tensor k_new = work.k_new_.head((size_t)rows * kv_dim), v_new = work.v_new_.head((size_t)rows * kv_dim);
  const Tensor gate = work.gate_.head(nh), up = work.up_.head(nh);
  if (w.embd_norm) b.layernorm(x, w.embd_norm, w.embd_norm_b, rows, dim, c.norm_eps, x);  // BLOOM
  if (block.embed_scale) b.scale(x, std::sqrt((double)dim));                               // Gemma: × √dim
  for (int l = 0; l < c.n_layers; ++l) {
    if (auto st = b.sync(); !st) return st;  // a device's asynchronous errors, once per layer
    if (work.opts_.cancel && work.opts_.cancel->load()) return make_error("cancelled");
    const AttentionObserver* observer = work.opts_.observer;
    if (observer && observer->on_layer) observer->on_layer(l);
    const LayerWeights& L = w.layers[l];
    // attention block: norm, projections (new keys/values appended to each segment's cache)
    norm(x, L.attn_norm, L.attn_norm_b, rows, xn);                  // xn (rows, dim)
    b.matmul(xn, rows, dim, L.wq, L.bq, q_dim, q);                  // q (rows, q_dim)
    b.matmul(xn, rows, dim, L.wk, L.bk, kv_dim, k_new);             // k before RoPE
    b.matmul(xn, rows, dim, L.wv, L.bv, kv_dim, v_new);             // v
    if (block.qk_norm_full) {  // OLMoE: over each row's whole q and k
      if (L.q_norm) b.rmsnorm(q, L.q_norm, rows, q_dim, c.norm_eps, q);
      if (L.k_norm) b.rmsnorm(k_new, L.k_norm, rows, kv_dim, c.norm_eps, k_new);
    } else {  // per head (Gemma-3, Qwen3)
      if (L.q_norm) b.rmsnorm(q, L.q_norm, rows * c.n_heads, c.head_dim, c.norm_eps, q);
      if (L.k_norm) b.rmsnorm(k_new, L.k_norm, rows * c.n_kv_heads, c.head_dim, c.norm_eps, k_new);
    }
    for (int s = 0, r0 = 0; s < nseg; r0 += segs[s].rows, ++s) {  // attention: each segment over its own cache
      Engine& e = *segs[s].engine;
      AttentionParams& lp = segs[s].attention->of(layer_kind(c, l));
      lp.layer = l;
      lp.sinks = L.attn_sinks;
      lp.p0 = segs[s].p0;
      lp.n_new = segs[s].rows;
      const size_t nq = (size_t)segs[s].rows * q_dim, nkv = (size_t)segs[s].rows * kv_dim;
      if (auto st = b.attention(*e.cache_, lp, q.slice(r0 * (size_t)q_dim, nq), k_new.slice(r0 * (size_t)kv_dim, nkv),
                                v_new.slice(r0 * (size_t)kv_dim, nkv), att.slice(r0 * (size_t)q_dim, nq),
                                e.opts_.observer, e.opts_.cancel);
          !st)
        return st;  // att (rows, q_dim)
    }
    if (observer && observer->stop_after_layer && l == observer->layer) return b.sync();  // what was asked is seen
    b.matmul(att, rows, q_dim, L.wo, L.bo, dim, tmp);  // (rows, dim)
    if (L.post_attn_norm) b.rmsnorm(tmp, L.post_attn_norm, rows, dim, c.norm_eps, tmp);
    // feed-forward block: SwiGLU (LLaMA) or GELU. Its norm reads x before the
    // attention output is added when the residual is parallel (GPT-NeoX); with a
    // shared norm (Phi-2) it reads the attention's normed input, still in xn.
    if (block.residual == Residual::Parallel) norm(x, L.ffn_norm, L.ffn_norm_b, rows, xn);
    b.add(x, tmp);  // residual
    if (block.residual == Residual::Sequential) norm(x, L.ffn_norm, L.ffn_norm_b, rows, xn);
    if (block.moe.n_experts > 0) {
      if (auto st = work.moe_ffn(L, rows, xn, tmp); !st) return st;
      b.add(x, tmp);  // residual
      continue;
    }
    if (gated) {
      b.matmul(xn, rows, dim, L.w_gate, nullptr, hid, gate);  // (rows, hidden)
      b.matmul(xn, rows, dim, L.w_up, nullptr, hid, up);      // (rows, hidden)
      if (block.ffn == FeedForward::GeGlu) b.geglu(gate, up);
      else b.swiglu(gate, up);
    } else {
      b.matmul(xn, rows, dim, L.w_up, L.b_up, hid, gate);
      b.gelu(gate, block.ffn == FeedForward::Gelu);
    }
    b.matmul(gate, rows, hid, L.w_down, L.b_down, dim, tmp);  // (rows, dim)
    if (L.post_ffn_norm) b.rmsnorm(tmp, L.post_ffn_norm, rows, dim, c.norm_eps, tmp);
    b.add(x, tmp);  // residual
  }
  // final norm into each segment's hidden states; the classifier runs on demand (nll / logits)
  for (int s = 0, r0 = 0; s < nseg; r0 += segs[s].rows, ++s)
    norm(x.slice((size_t)r0 * dim, (size_t)segs[s].rows * dim), w.out_norm, w.out_norm_b, segs[s].rows, segs[s].hidden);
  return Status::Ok();
}

Status Engine::moe_ffn(const LayerWeights& L, int rows, const Tensor& xn, const Tensor& out) {
  const ModelConfig& c = model_->config;
  const MoeDesc& moe = c.block.moe;
  Backend& b = *shared_->backend;
  const int dim = c.dim, hid = c.hidden_dim, E = moe.n_experts, k = moe.n_used;
  // Router: softmax over the E logits (in double here), the k most probable experts
  // (ties: the lower index), their probabilities as weights, renormalised or not.
  // A small tensor (router logits, shared-expert gates) read back as doubles.
  auto on_host = [&b](const Tensor& t) {
    std::vector<double> values(t.count);
    if (t.dtype == DType::F64) {
      b.to_host(t, values.data());
    } else {
      std::vector<float> f(t.count);
      b.to_host(t, f.data());
      std::copy(f.begin(), f.end(), values.begin());
    }
    return values;
  };
  const Tensor logits = router_.head((size_t)rows * E);
  b.matmul(xn, rows, dim, L.router, L.router_b, E, logits);
  const std::vector<double> lg = on_host(logits);
  if (auto st = b.sync(); !st) return st;
  std::vector<std::vector<int>> rows_of((size_t)E);
  std::vector<std::vector<float>> weight_of((size_t)E);
  std::vector<int> order((size_t)E);
  std::vector<double> p((size_t)E);
  for (int r = 0; r < rows; ++r) {
    const double* z = &lg[(size_t)r * E];
    const double mx = *std::max_element(z, z + E);
    double sum = 0;
    for (int e = 0; e < E; ++e) sum += p[(size_t)e] = std::exp(z[e] - mx);
    for (int e = 0; e < E; ++e) p[(size_t)e] /= sum;
    for (int e = 0; e < E; ++e) order[(size_t)e] = e;
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b2) { return p[(size_t)a] > p[(size_t)b2] || (p[(size_t)a] == p[(size_t)b2] && a < b2); });
    double top = 0;
    for (int i = 0; i < k; ++i) top += p[(size_t)order[(size_t)i]];
    for (int i = 0; i < k; ++i) {
      const int e = order[(size_t)i];
      rows_of[(size_t)e].push_back(r);
      weight_of[(size_t)e].push_back((float)(moe.renormalise ? p[(size_t)e] / top : p[(size_t)e]));
    }
  }
  // Each expert once, on the rows routed to it (one GEMM per matrix per chunk).
  b.zero(out.head((size_t)rows * dim));
  for (int e = 0; e < E; ++e) {
    const int n = (int)rows_of[(size_t)e].size();
    if (n == 0) continue;
    const Tensor xe = moe_x_.head((size_t)n * dim), ye = moe_y_.head((size_t)n * dim);
    const Tensor g = gate_.head((size_t)n * hid), u = up_.head((size_t)n * hid);
    const bool biased = !L.exp_gate_b.empty();
    b.gather_rows(xn, rows_of[(size_t)e].data(), n, dim, xe);
    b.matmul(xe, n, dim, L.exp_gate[(size_t)e], biased ? L.exp_gate_b[(size_t)e] : nullptr, hid, g);
    b.matmul(xe, n, dim, L.exp_up[(size_t)e], biased ? L.exp_up_b[(size_t)e] : nullptr, hid, u);
    if (moe.swiglu_limit > 0) b.swiglu_oai(g, u, moe.swiglu_limit);
    else b.swiglu(g, u);
    b.matmul(g, n, hid, L.exp_down[(size_t)e], biased ? L.exp_down_b[(size_t)e] : nullptr, dim, ye);
    b.scatter_add_rows(ye, rows_of[(size_t)e].data(), weight_of[(size_t)e].data(), n, dim, out);
  }
  if (moe.shared_hidden == 0) return Status::Ok();
  // The shared expert (Qwen2-MoE) on every row, scaled by sigmoid(x · w_gate).
  const int sh = moe.shared_hidden;
  const Tensor g = gate_.head((size_t)rows * sh), u = up_.head((size_t)rows * sh), y = moe_y_.head((size_t)rows * dim);
  b.matmul(xn, rows, dim, L.sh_gate, nullptr, sh, g);
  b.matmul(xn, rows, dim, L.sh_up, nullptr, sh, u);
  b.swiglu(g, u);
  b.matmul(g, rows, sh, L.sh_down, nullptr, dim, y);
  const Tensor gl = router_.head((size_t)rows);
  b.matmul(xn, rows, dim, L.sh_router, nullptr, 1, gl);
  const std::vector<double> z = on_host(gl);
  if (auto st = b.sync(); !st) return st;
  std::vector<int> all((size_t)rows);
  std::vector<float> sig((size_t)rows);
  for (int r = 0; r < rows; ++r) all[(size_t)r] = r, sig[(size_t)r] = (float)(1.0 / (1.0 + std::exp(-z[(size_t)r])));
  b.scatter_add_rows(y, all.data(), sig.data(), rows, dim, out);
  return Status::Ok();
}

Status Engine::forward(const int* tokens, int n) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (auto st = check_tokens(tokens, n); !st) return st;
  if (auto st = reserve(pos_ + n, n); !st) return st;
  LayerAttention blocks;
  if (auto st = attention_blocks(n, blocks); !st) return st;
  for (int c0 = 0; c0 < n; c0 += opts_.chunk) {
    const int rows = std::min(opts_.chunk, n - c0);
    const size_t dim = (size_t)model_->config.dim;
    const Segment seg{this, tokens + c0, rows, pos_ + c0, &blocks, hidden_.slice(c0 * dim, rows * dim)};
    if (auto st = run_rows(*this, &seg, 1); !st) return st;
  }
  if (auto st = shared_->backend->sync(); !st) return st;
  pos_ += n;
  last_rows_ = n;
  return Status::Ok();
}

Status Engine::forward_each(const std::vector<Engine*>& engines, const int* tokens) {
  if (engines.empty()) return Status::Ok();
  Engine& work = *engines.front();  // its work buffers hold the stacked rows
  for (Engine* e : engines)
    if (e->shared_ != work.shared_ || e->model_ != work.model_ || e->activations() != work.activations())
      return make_error("forward_each: the engines must share one model, one backend and one precision");
  std::lock_guard<std::mutex> lock(work.shared_->mu);
  const size_t k = engines.size();
  std::vector<LayerAttention> blocks(k);
  for (size_t i = 0; i < k; ++i) {
    Engine& e = *engines[i];
    if (auto st = e.check_tokens(tokens + i, 1); !st) return st;
    if (auto st = e.reserve(e.pos_ + 1, 1); !st) return st;
    if (auto st = e.attention_blocks(1, blocks[i]); !st) return st;
  }
  std::vector<Segment> segs;
  for (size_t i = 0; i < k; ++i)
    segs.push_back(Segment{engines[i], tokens + i, 1, engines[i]->pos_, &blocks[i],
                           engines[i]->hidden_.head((size_t)work.model_->config.dim)});
  for (size_t s0 = 0; s0 < k; s0 += (size_t)work.opts_.chunk)  // as many rows at once as the work buffers hold
    if (auto st = run_rows(work, segs.data() + s0, (int)std::min(k - s0, (size_t)work.opts_.chunk)); !st) return st;
  if (auto st = work.shared_->backend->sync(); !st) return st;
  for (Engine* e : engines) {
    e->pos_ += 1;
    e->last_rows_ = 1;
  }
  return Status::Ok();
}

Status Engine::nll(int first, int rows, const int* targets, double* out, int* rank) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const ModelConfig& c = model_->config;
  Backend& b = *shared_->backend;
  if (first < 0 || rows < 0 || first + rows > last_rows_) return make_error("nll rows outside the last forward");
  for (int r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= c.vocab_size) return make_error("target token outside the vocabulary");
  for (int r0 = 0; r0 < rows; r0 += opts_.chunk) {
    const int n = std::min(opts_.chunk, rows - r0);
    const Tensor logits = logits_.head((size_t)n * c.vocab_size);
    b.matmul(hidden_.slice((size_t)(first + r0) * c.dim, (size_t)n * c.dim), n, c.dim, model_->weights.output,
             model_->weights.output_b, c.vocab_size, logits);
    if (c.block.final_softcap > 0) b.softcap(logits, c.block.final_softcap);
    b.nll(logits, n, c.vocab_size, targets + r0, out + r0, rank ? rank + r0 : nullptr);
  }
  if (auto st = b.sync(); !st) return st;
  // A NaN or Inf here means the weights or the method produced garbage: never report it as a number.
  for (int r = 0; r < rows; ++r)
    if (!std::isfinite(out[r]))
      return make_error("the loss at position " + std::to_string(pos_ - last_rows_ + first + r) + " is " +
                        std::to_string(out[r]) + " (non-finite activations; check the model's weights and the method's "
                        "parameters)");
  return Status::Ok();
}

Status Engine::logits(int row, std::vector<float>& out) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const ModelConfig& c = model_->config;
  Backend& b = *shared_->backend;
  if (row < 0 || row >= last_rows_) return make_error("logits row outside the last forward");
  const Tensor logits = logits_.head((size_t)c.vocab_size);
  b.matmul(hidden_.slice((size_t)row * c.dim, (size_t)c.dim), 1, c.dim, model_->weights.output,
           model_->weights.output_b, c.vocab_size, logits);
  if (c.block.final_softcap > 0) b.softcap(logits, c.block.final_softcap);
  std::vector<uint8_t> host(logits.bytes());
  b.to_host(logits, host.data());
  if (auto st = b.sync(); !st) return st;
  out.resize(c.vocab_size);
  dequantize(activations(), host.data(), out.size(), out.data());
  for (float x : out)
    if (!std::isfinite(x)) return make_error("the logits hold NaN or Inf (non-finite activations)");
  return Status::Ok();
}

}  // namespace ls
