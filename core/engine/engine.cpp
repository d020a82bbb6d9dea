#include "core/engine/engine.h"

#if defined(LONGSCOPE_CUDA_MODULE)
#include <dlfcn.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <type_traits>

#include "core/cpu/cpu_backend.h"
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

namespace {

// Tokens per micro-batch: the one asked for, else the backend's choice, never past capacity.
int micro_batch(int asked, int preferred, int capacity) {
  return std::max(1, std::min(asked > 0 ? asked : preferred, capacity));
}

// One K copy and V per layer of the model, in `dtype`, keys as `keys`.
KvSpec kv_spec(const ModelConfig& c, KvDtype dtype, KeyForm keys = KeyForm::Rotated) {
  KvSpec s;
  s.n_layers = c.n_layers;
  s.kv_dim = c.n_kv_heads * c.head_dim;
  s.dtype = dtype;
  s.keys = keys;
  return s;
}

}  // namespace

size_t engine_memory_bytes(const ModelConfig& c, int capacity, int chunk, size_t elem, KvDtype kv_dtype) {
  const size_t kv = (size_t)c.n_kv_heads * c.head_dim, q = (size_t)c.n_heads * c.head_dim;
  size_t cache = (size_t)capacity * kv_token_bytes(kv_spec(c, kv_dtype), elem);  // one K copy and V
  size_t work = (size_t)chunk * (3 * c.dim + 3 * q + 2 * kv + 2 * (size_t)c.hidden_dim + c.vocab_size) * elem;
  size_t hidden = (size_t)capacity * c.dim * elem;
  size_t tables = (size_t)capacity * c.rot_dim * 2 * elem;  // cos/sin rows (near band, far band)
  return cache + work + hidden + tables;
}

int longest_context(const ModelConfig& c, size_t available, KvDtype kv) {
  int n = 1 << 20;
  while (n > 256 && available && engine_memory_bytes(c, n, 256, sizeof(float), kv) > available / 2) n /= 2;
  return n;
}

namespace {

struct DeviceRegistry {
  std::mutex mu;
  std::map<std::string, DeviceBackendFactory> factories;
  std::map<std::string, bool> usable;  // whether the factory found a device (asked once)
};
DeviceRegistry& device_registry() {
  static DeviceRegistry r;
  return r;
}

}  // namespace

void register_device_backend(const std::string& name, DeviceBackendFactory factory) {
  std::lock_guard<std::mutex> lock(device_registry().mu);
  device_registry().factories[name] = factory;
}

#if defined(LONGSCOPE_CUDA_MODULE)
namespace {

// The CUDA backend module (gpu/cuda_module.cpp), opened on first use: programs map
// the CUDA libraries only when a run asks for them. LONGSCOPE_CUDA_MODULE in the
// environment names another copy.
using ModuleEntry = Backend<float>* (*)(char*, size_t);
ModuleEntry g_cuda_entry = nullptr;
std::string g_cuda_module_error;

Result<std::unique_ptr<Backend<float>>> make_module_cuda_backend() {
  if (!g_cuda_entry) return make_error(g_cuda_module_error);
  char err[512] = {0};
  Backend<float>* b = g_cuda_entry(err, sizeof err);
  if (!b) return make_error(err);
  return std::unique_ptr<Backend<float>>(b);
}

// Registers "cuda" once (the registry's lock held): the module's factory, or one
// that reports why the module could not be opened.
void load_cuda_module_locked(std::map<std::string, DeviceBackendFactory>& factories) {
  static bool tried = false;
  if (tried || factories.count("cuda")) return;
  tried = true;
  const char* env = std::getenv("LONGSCOPE_CUDA_MODULE");
  const std::string path = env && *env ? env : LONGSCOPE_CUDA_MODULE;
  if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    g_cuda_entry = reinterpret_cast<ModuleEntry>(dlsym(h, "longscope_cuda_backend_new"));
    if (!g_cuda_entry) g_cuda_module_error = path + " has no longscope_cuda_backend_new";
  } else {
    const char* why = dlerror();
    g_cuda_module_error = "the CUDA backend module could not be loaded (" + std::string(why ? why : path) + ")";
  }
  factories["cuda"] = &make_module_cuda_backend;
}

}  // namespace
#endif

Result<std::string> resolve_backend(const std::string& wanted, bool f64) {
  if (wanted == "cpu") return std::string("cpu");
  DeviceRegistry& r = device_registry();
  std::lock_guard<std::mutex> lock(r.mu);
#if defined(LONGSCOPE_CUDA_MODULE)
  if (wanted == "cuda" || wanted == "auto") load_cuda_module_locked(r.factories);
#endif
  if (wanted == "auto") {
    if (f64) return std::string("cpu");  // device backends run in f32
    for (const auto& [name, make] : r.factories) {
      auto it = r.usable.find(name);
      if (it == r.usable.end()) it = r.usable.emplace(name, make().ok()).first;
      if (it->second) return name;
    }
    return std::string("cpu");
  }
  if (!r.factories.count(wanted))
    return make_error("backend \"" + wanted + "\" is not built into this program (" +
                      (r.factories.empty() ? std::string("it was built without a CUDA toolkit; ") : std::string()) +
                      "choose cpu or auto)");
  if (f64) return make_error("the " + wanted + " backend runs in f32; f64 runs on the cpu backend");
  return wanted;
}

namespace {

// A device backend (float only), made once per model.
std::shared_ptr<SharedBackend<float>> device_backend_for(const Model& model, const std::string& name) {
  const std::string key = name + "/f32";
  std::lock_guard<std::mutex> lock(model.attached.mu);
  std::shared_ptr<void>& slot = model.attached.items[key];
  if (!slot) {
    DeviceBackendFactory make = nullptr;
    {
      std::lock_guard<std::mutex> reg(device_registry().mu);
      make = device_registry().factories.at(name);
    }
    auto b = make();
    if (!b) {  // not kept: a later call may find the device free again
      auto failed = std::make_shared<SharedBackend<float>>();
      failed->uploaded = make_error(name + " backend: " + b.error());
      return failed;
    }
    slot = share_backend<float>(std::move(b.value()), model);
  }
  return std::static_pointer_cast<SharedBackend<float>>(slot);
}

}  // namespace

template <typename T>
std::shared_ptr<SharedBackend<T>> backend_for(const Model& model, const EngineOptions& opts) {
  auto which = resolve_backend(opts.backend, sizeof(T) == 8);
  if (!which) {
    auto failed = std::make_shared<SharedBackend<T>>();
    failed->uploaded = make_error(which.error());
    return failed;
  }
  if constexpr (std::is_same_v<T, float>)
    if (which.value() != "cpu") return device_backend_for(model, which.value());
  CpuOptions cpu;
  cpu.threads = opts.threads;
  cpu.naive = opts.naive;
  cpu.attention = opts.row_attention ? CpuAttention::Rows : CpuAttention::Tiled;
  const std::string key = std::string("cpu/") + (sizeof(T) == 4 ? "f32" : "f64") + "/threads=" +
                          std::to_string(cpu.threads) + (cpu.naive ? "/naive" : "") + (opts.row_attention ? "/rows" : "");
  std::lock_guard<std::mutex> lock(model.attached.mu);
  std::shared_ptr<void>& slot = model.attached.items[key];
  if (!slot) slot = share_backend<T>(std::make_unique<CpuBackend<T>>(cpu), model);
  return std::static_pointer_cast<SharedBackend<T>>(slot);
}

size_t backend_memory_available(const Model& model, const EngineOptions& opts) {
  auto which = resolve_backend(opts.backend, false);
  if (!which || which.value() == "cpu") return available_memory_bytes();  // makes no CPU backend just to ask
  auto shared = device_backend_for(model, which.value());
  if (!shared->uploaded || !shared->backend) return available_memory_bytes();
  std::lock_guard<std::mutex> lock(shared->mu);
  return shared->backend->memory_available();
}

template <typename T>
std::shared_ptr<SharedBackend<T>> share_backend(std::unique_ptr<Backend<T>> backend, const Model& model) {
  auto shared = std::make_shared<SharedBackend<T>>();
  shared->uploaded = backend->upload(model);
  shared->backend = std::move(backend);
  return shared;
}

template <typename T>
Result<std::unique_ptr<Engine<T>>> Engine<T>::create(std::shared_ptr<const Model> model, const EngineOptions& opts,
                                                     int capacity, std::shared_ptr<SharedBackend<T>> shared) {
  const ModelConfig& c = model->config;
  if (auto st = check_method_for_model(opts.method, c); !st) return make_error(st.error());
  if (capacity < 1 || capacity > (1 << 24))
    return make_error("context of " + std::to_string(capacity) + " tokens is outside [1, 16777216]");
  if (!shared) shared = backend_for<T>(*model, opts);
  if (!shared->uploaded) return make_error(shared->uploaded.error());
  if (!shared->backend) return make_error("no backend given");
  std::lock_guard<std::mutex> lock(shared->mu);
  Backend<T>& b = *shared->backend;
  const int chunk = micro_batch(opts.chunk, b.preferred_chunk(), capacity);
  if (auto st = check_memory(engine_memory_bytes(c, capacity, chunk, sizeof(T), opts.kv), b.memory_available(),
                             "a context of " + std::to_string(capacity) + " tokens (KV cache and work buffers)",
                             "choose a shorter context");
      !st)
    return make_error(st.error());
  std::unique_ptr<Engine<T>> e(new Engine<T>());
  e->model_ = model;
  e->shared_ = shared;
  e->opts_ = opts;
  e->opts_.chunk = chunk;
  attach_model_tables(e->opts_.method, c);
  e->capacity_ = capacity;
  const KvSpec spec = kv_spec(c, opts.kv, key_form_for(e->opts_.method));
  e->cache_ = b.make_cache(spec);
  const size_t q = (size_t)c.n_heads * c.head_dim, kv = (size_t)spec.kv_dim;
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
Engine<T>::~Engine() {
  if (!shared_) return;
  std::lock_guard<std::mutex> lock(shared_->mu);
  for (T* p : {x_, xn_, q_, k_new_, v_new_, att_, tmp_, gate_, up_, hidden_, logits_})
    if (p) shared_->backend->release(p);
  cache_.reset();
}

template <typename T>
Status Engine<T>::reserve(int tokens, int rows) {
  const ModelConfig& c = model_->config;
  Backend<T>& b = *shared_->backend;
  if (tokens > reserved_) {
    // Grow geometrically (never past capacity) so a long generation reallocates rarely.
    const int target = std::min(capacity_, std::max({tokens, reserved_ * 2, 256}));
    if (auto st = b.reserve_kv(*cache_, target, pos_); !st) return st;  // rows [0, pos) are kept
    reserved_ = target;
  }
  if (rows > hidden_rows_) {
    const int target = std::min(capacity_, std::max(rows, hidden_rows_ * 2));
    if (auto st = check_memory((size_t)target * c.dim * sizeof(T), b.memory_available(),
                               "hidden states of " + std::to_string(target) + " tokens", "");
        !st)
      return st;
    if (hidden_) b.release(hidden_);
    hidden_ = b.alloc((size_t)target * c.dim);
    hidden_rows_ = target;
  }
  return Status::Ok();
}

template <typename T>
Status Engine<T>::check_tokens(const int* tokens, int n) const {
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

template <typename T>
Status Engine<T>::attention_blocks(int n, AttentionParams& ap, AttentionParams& local) {
  const ModelConfig& c = model_->config;
  Backend<T>& b = *shared_->backend;
  // Every token of this call sees the same current length n (dynamic methods).
  // The position tables are computed here, on the host, from core/position.
  const PositionContext ctx{c.rot_dim, c.rope_base, (double)c.train_len, (double)(pos_ + n)};
  b.set_positions(*cache_, position_tables(opts_.method, ctx, c.n_heads), 0);
  ap = attention_params(opts_.method, c.n_heads, c.n_kv_heads, c.head_dim, c.rot_dim, c.layout, (double)c.train_len);
  ap.scale = c.attn_scale;
  ap.softcap = c.attn_softcap;
  // Local layers (Gemma-2's sliding ones) see keys m - j < W: the method's bands with
  // that window on top. A remapping method has bands of its own, which cannot be
  // combined with the window: refused once the window matters.
  local = ap;
  if (c.local_window > 0 && c.local_rope_base > 0) {
    // Gemma-3: local layers keep their native plain RoPE at their own base, windowed;
    // the method (and any remapping) is the global layers'.
    const PositionContext lctx{c.rot_dim, c.local_rope_base, (double)c.train_len, (double)(pos_ + n)};
    b.set_positions(*cache_, position_tables(MethodParams{}, lctx, c.n_heads), 1);
    local.table = 1;
    local.method = Method::SlidingWindow;
    local.remap = RelposRemap{};
    local.remap.window = c.local_window;
    local.logn = 0;
  } else if (c.local_window > 0) {
    if (method_is_remap(local.method) && pos_ + n > c.local_window)
      return make_error("method " + method_spec_string(opts_.method) + " cannot run beyond " +
                        std::to_string(c.local_window) + " tokens on this model: its local layers' sliding window "
                        "cannot be combined with a remapping method's bands");
    if (local.method == Method::SlidingWindow) {
      local.remap.window = std::min(local.remap.window, (double)c.local_window);
    } else if (!method_is_remap(local.method)) {
      local.method = Method::SlidingWindow;
      local.remap = RelposRemap{};
      local.remap.window = c.local_window;
    }
  }
  return Status::Ok();
}

template <typename T>
Status Engine<T>::run_rows(Engine& work, const Segment* segs, int nseg) {
  const ModelConfig& c = work.model_->config;
  const ModelWeights& w = work.model_->weights;
  Backend<T>& b = *work.shared_->backend;
  const int dim = c.dim, hid = c.hidden_dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  const bool rms = c.arch == Arch::Llama, gated = ffn_gated(c);
  auto norm = [&](const T* x, const float* wt, const float* bias, int n, T* y) {
    if (rms) b.rmsnorm(x, wt, n, dim, c.norm_eps, y);
    else b.layernorm(x, wt, bias, n, dim, c.norm_eps, y);
  };
  int rows = 0;  // the stacked rows of every segment
  for (int s = 0; s < nseg; ++s) {
    b.embed(segs[s].tokens, segs[s].rows, w.tok_embd, dim, work.x_ + (size_t)rows * dim);  // x (rows, dim)
    rows += segs[s].rows;
  }
  if (w.embd_norm) b.layernorm(work.x_, w.embd_norm, w.embd_norm_b, rows, dim, c.norm_eps, work.x_);  // BLOOM
  if (c.embed_scale) b.scale(work.x_, (size_t)rows * dim, std::sqrt((double)dim));                  // Gemma: × √dim
  for (int l = 0; l < c.n_layers; ++l) {
    if (auto st = b.sync(); !st) return st;  // a device's asynchronous errors, once per layer
    if (work.opts_.cancel && work.opts_.cancel->load()) return make_error("cancelled");
    const LayerWeights& L = w.layers[l];
    // attention block: norm, projections (new keys/values appended to each segment's cache)
    norm(work.x_, L.attn_norm, L.attn_norm_b, rows, work.xn_);                                // xn (rows, dim)
    b.matmul(work.xn_, rows, dim, L.wq, L.bq, q_dim, work.q_);                                 // q (rows, q_dim)
    b.matmul(work.xn_, rows, dim, L.wk, L.bk, kv_dim, work.k_new_);                             // k before RoPE
    b.matmul(work.xn_, rows, dim, L.wv, L.bv, kv_dim, work.v_new_);                             // v
    if (L.q_norm) b.rmsnorm(work.q_, L.q_norm, rows * c.n_heads, c.head_dim, c.norm_eps, work.q_);  // per head (Gemma-3)
    if (L.k_norm) b.rmsnorm(work.k_new_, L.k_norm, rows * c.n_kv_heads, c.head_dim, c.norm_eps, work.k_new_);
    for (int s = 0, r0 = 0; s < nseg; r0 += segs[s].rows, ++s) {  // attention: each segment over its own cache
      Engine& e = *segs[s].engine;
      AttentionParams& lp = layer_is_local(c, l) ? *segs[s].local : *segs[s].global;
      lp.layer = l;
      lp.p0 = segs[s].p0;
      lp.n_new = segs[s].rows;
      if (auto st = b.attention(*e.cache_, lp, work.q_ + (size_t)r0 * q_dim, work.k_new_ + (size_t)r0 * kv_dim,
                                work.v_new_ + (size_t)r0 * kv_dim, work.att_ + (size_t)r0 * q_dim, e.opts_.observer,
                                e.opts_.cancel);
          !st)
        return st;  // att (rows, q_dim)
    }
    b.matmul(work.att_, rows, q_dim, L.wo, L.bo, dim, work.tmp_);                              // (rows, dim)
    if (L.post_attn_norm) b.rmsnorm(work.tmp_, L.post_attn_norm, rows, dim, c.norm_eps, work.tmp_);
    // feed-forward block: SwiGLU (LLaMA) or GELU. Its norm reads x before the
    // attention output is added when the residual is parallel (GPT-NeoX); with a
    // shared norm (Phi-2) it reads the attention's normed input, still in xn.
    if (c.parallel_residual && !c.shared_norm) norm(work.x_, L.ffn_norm, L.ffn_norm_b, rows, work.xn_);
    b.add(work.x_, work.tmp_, (size_t)rows * dim);                                             // residual
    if (!c.parallel_residual) norm(work.x_, L.ffn_norm, L.ffn_norm_b, rows, work.xn_);
    if (gated) {
      b.matmul(work.xn_, rows, dim, L.w_gate, nullptr, hid, work.gate_);                       // (rows, hidden)
      b.matmul(work.xn_, rows, dim, L.w_up, nullptr, hid, work.up_);                           // (rows, hidden)
      if (c.geglu) b.geglu(work.gate_, work.up_, (size_t)rows * hid);
      else b.swiglu(work.gate_, work.up_, (size_t)rows * hid);
    } else {
      b.matmul(work.xn_, rows, dim, L.w_up, L.b_up, hid, work.gate_);
      b.gelu(work.gate_, (size_t)rows * hid, c.gelu_exact);
    }
    b.matmul(work.gate_, rows, hid, L.w_down, L.b_down, dim, work.tmp_);                       // (rows, dim)
    if (L.post_ffn_norm) b.rmsnorm(work.tmp_, L.post_ffn_norm, rows, dim, c.norm_eps, work.tmp_);
    b.add(work.x_, work.tmp_, (size_t)rows * dim);                                             // residual
  }
  // final norm into each segment's hidden states; the classifier runs on demand (nll / logits)
  for (int s = 0, r0 = 0; s < nseg; r0 += segs[s].rows, ++s)
    norm(work.x_ + (size_t)r0 * dim, w.out_norm, w.out_norm_b, segs[s].rows, segs[s].hidden);
  return Status::Ok();
}

template <typename T>
Status Engine<T>::forward(const int* tokens, int n) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (auto st = check_tokens(tokens, n); !st) return st;
  if (auto st = reserve(pos_ + n, n); !st) return st;
  AttentionParams ap, local;
  if (auto st = attention_blocks(n, ap, local); !st) return st;
  for (int c0 = 0; c0 < n; c0 += opts_.chunk) {
    const Segment seg{this, tokens + c0, std::min(opts_.chunk, n - c0), pos_ + c0, &ap, &local,
                      hidden_ + (size_t)c0 * model_->config.dim};
    if (auto st = run_rows(*this, &seg, 1); !st) return st;
  }
  if (auto st = shared_->backend->sync(); !st) return st;
  pos_ += n;
  last_rows_ = n;
  return Status::Ok();
}

template <typename T>
Status Engine<T>::forward_each(const std::vector<Engine*>& engines, const int* tokens) {
  if (engines.empty()) return Status::Ok();
  Engine& work = *engines.front();  // its work buffers hold the stacked rows
  for (Engine* e : engines)
    if (e->shared_ != work.shared_ || e->model_ != work.model_)
      return make_error("forward_each: the engines must share one model and one backend");
  std::lock_guard<std::mutex> lock(work.shared_->mu);
  const size_t k = engines.size();
  std::vector<AttentionParams> ap(k), local(k);
  for (size_t i = 0; i < k; ++i) {
    Engine& e = *engines[i];
    if (auto st = e.check_tokens(tokens + i, 1); !st) return st;
    if (auto st = e.reserve(e.pos_ + 1, 1); !st) return st;
    if (auto st = e.attention_blocks(1, ap[i], local[i]); !st) return st;
  }
  std::vector<Segment> segs;
  for (size_t i = 0; i < k; ++i)
    segs.push_back(Segment{engines[i], tokens + i, 1, engines[i]->pos_, &ap[i], &local[i], engines[i]->hidden_});
  for (size_t s0 = 0; s0 < k; s0 += (size_t)work.opts_.chunk)  // as many rows at once as the work buffers hold
    if (auto st = run_rows(work, segs.data() + s0, (int)std::min(k - s0, (size_t)work.opts_.chunk)); !st) return st;
  if (auto st = work.shared_->backend->sync(); !st) return st;
  for (Engine* e : engines) {
    e->pos_ += 1;
    e->last_rows_ = 1;
  }
  return Status::Ok();
}

template <typename T>
Status Engine<T>::nll(int first, int rows, const int* targets, double* out, int* rank) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const ModelConfig& c = model_->config;
  Backend<T>& b = *shared_->backend;
  if (first < 0 || rows < 0 || first + rows > last_rows_) return make_error("nll rows outside the last forward");
  for (int r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= c.vocab_size) return make_error("target token outside the vocabulary");
  for (int r0 = 0; r0 < rows; r0 += opts_.chunk) {
    int n = std::min(opts_.chunk, rows - r0);
    b.matmul(hidden_ + (size_t)(first + r0) * c.dim, n, c.dim, model_->weights.output, model_->weights.output_b,
             c.vocab_size, logits_);
    if (c.final_softcap > 0) b.softcap(logits_, (size_t)n * c.vocab_size, c.final_softcap);
    b.nll(logits_, n, c.vocab_size, targets + r0, out + r0, rank ? rank + r0 : nullptr);
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

template <typename T>
Status Engine<T>::logits(int row, std::vector<float>& out) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const ModelConfig& c = model_->config;
  Backend<T>& b = *shared_->backend;
  if (row < 0 || row >= last_rows_) return make_error("logits row outside the last forward");
  b.matmul(hidden_ + (size_t)row * c.dim, 1, c.dim, model_->weights.output, model_->weights.output_b, c.vocab_size,
           logits_);
  if (c.final_softcap > 0) b.softcap(logits_, (size_t)c.vocab_size, c.final_softcap);
  std::vector<T> host(c.vocab_size);
  b.to_host(logits_, host.data(), host.size());
  if (auto st = b.sync(); !st) return st;
  out.assign(host.begin(), host.end());
  for (float x : out)
    if (!std::isfinite(x)) return make_error("the logits hold NaN or Inf (non-finite activations)");
  return Status::Ok();
}

template class Engine<float>;
template class Engine<double>;
template std::shared_ptr<SharedBackend<float>> backend_for<float>(const Model&, const EngineOptions&);
template std::shared_ptr<SharedBackend<double>> backend_for<double>(const Model&, const EngineOptions&);
template std::shared_ptr<SharedBackend<float>> share_backend<float>(std::unique_ptr<Backend<float>>, const Model&);
template std::shared_ptr<SharedBackend<double>> share_backend<double>(std::unique_ptr<Backend<double>>, const Model&);

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

int AnyEngine::chunk_for(const Model& model, const EngineOptions& opts, int capacity, Precision precision) {
  const int preferred = precision == Precision::F64 ? backend_for<double>(model, opts)->backend->preferred_chunk()
                                                    : backend_for<float>(model, opts)->backend->preferred_chunk();
  return micro_batch(opts.chunk, preferred, capacity);
}

Status AnyEngine::forward(const int* t, int n) { return f32_ ? f32_->forward(t, n) : f64_->forward(t, n); }
Status AnyEngine::forward_each(const std::vector<AnyEngine*>& engines, const int* tokens) {
  std::vector<Engine<float>*> f32;
  std::vector<Engine<double>*> f64;
  for (AnyEngine* e : engines) {
    if (e->f32_) f32.push_back(e->f32_.get());
    else f64.push_back(e->f64_.get());
  }
  if (!f32.empty() && !f64.empty()) return make_error("forward_each: the engines must share one precision");
  return f32.empty() ? Engine<double>::forward_each(f64, tokens) : Engine<float>::forward_each(f32, tokens);
}
Status AnyEngine::nll(int first, int rows, const int* targets, double* out, int* rank) {
  return f32_ ? f32_->nll(first, rows, targets, out, rank) : f64_->nll(first, rows, targets, out, rank);
}
Status AnyEngine::logits(int row, std::vector<float>& out) { return f32_ ? f32_->logits(row, out) : f64_->logits(row, out); }
int AnyEngine::pos() const { return f32_ ? f32_->pos() : f64_->pos(); }
void AnyEngine::reset() { f32_ ? f32_->reset() : f64_->reset(); }
const Model& AnyEngine::model() const { return f32_ ? f32_->model() : f64_->model(); }

}  // namespace ls
