// CPU ops. Float matmuls go through OpenBLAS one column block per thread (a fixed
// split: results do not depend on the thread count); double and naive runs use
// plain loops. The KV cache keeps one K copy per layer in the cache dtype.
#include "core/cpu/cpu_backend.h"
#include "core/position/rope_apply.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/util/parallel.h"
#include "core/util/memory.h"

namespace ls {

namespace {

// The options as the backend runs them: all cores by default; naive runs are one
// thread of row attention.
CpuOptions normalized(CpuOptions o) {
  if (o.threads <= 0) o.threads = default_threads();
  if (o.naive) {
    o.threads = 1;
    o.attention = CpuAttention::Rows;
  }
  return o;
}

// The kernel's instruction set: the best one built and supported, unless asked for another.
std::string chosen_isa(const CpuOptions& o) {
  const std::vector<std::string> isas = cpu_attention_isas();
  std::string want = o.isa;
  if (want.empty())
    if (const char* env = std::getenv("LONGSCOPE_ISA")) want = env;
  for (const std::string& i : isas)
    if (i == want) return i;
  return isas.front();
}

}  // namespace

CpuBackend::CpuBackend(CpuOptions o)
    : opts_(normalized(o)),
      isa_(chosen_isa(opts_)),
      f32_(opts_, cpu_kernels(isa_.c_str())),
      f64_(opts_, cpu_kernels(isa_.c_str())) {
  openblas_set_num_threads(1);  // threads are ours: one BLAS call per block
}

template <typename T>
CpuOps<T>::CpuOps(const CpuOptions& o, const CpuKernels& kernels) : opts_(o), kernels_(kernels) {
  if constexpr (!std::is_same_v<T, float>) opts_.attention = CpuAttention::Rows;  // the kernel is fp32
}

size_t CpuBackend::memory_available() const { return available_memory_bytes(); }

Tensor CpuBackend::alloc(DType dtype, size_t count) {
  if (!supports(dtype)) {
    fail("alloc", Tensor{nullptr, dtype, 0}, count, DType::F32);
    return Tensor{nullptr, dtype, 0};
  }
  buffers_.emplace_back((dtype_bytes(dtype, count) + 7) / 8, 0.0);
  return Tensor{buffers_.back().data(), dtype, count};
}

void CpuBackend::release(const Tensor& t) {
  buffers_.remove_if([&](const std::vector<double>& b) { return b.data() == t.data; });
}

void CpuBackend::to_host(const Tensor& src, void* dst) {
  if (src.data && src.data != dst) std::memcpy(dst, src.data, src.bytes());
}

void CpuBackend::from_host(const void* src, const Tensor& dst) {
  if (dst.data && src != dst.data) std::memcpy(dst.data, src, dst.bytes());
}

void CpuBackend::fail(const char* op, const Tensor& t, size_t need, DType want) {
  if (!pending_) return;  // the first error is the one to report
  if (!t.data && supports(t.dtype))
    pending_ = make_error(std::string("cpu backend: ") + op +
                          " was handed an empty view (memory never allocated, or a slice outside its tensor)");
  else if (!supports(t.dtype))
    pending_ = make_error(std::string("cpu backend: ") + op + " was handed " + dtype_name(t.dtype) +
                          " activations; it runs F32 and F64");
  else if (t.dtype != want)
    pending_ = make_error(std::string("cpu backend: ") + op + " was handed views of two dtypes (" +
                          dtype_name(t.dtype) + " and " + dtype_name(want) + ")");
  else
    pending_ = make_error(std::string("cpu backend: ") + op + " was handed a view of " + std::to_string(t.count) +
                          " elements where it needs " + std::to_string(need));
}

Status CpuBackend::sync() {
  Status st = std::move(pending_);
  pending_ = Status::Ok();
  return st;
}

size_t CpuBackend::kv_bytes_per_token(const KvSpec& spec) const { return kv_token_bytes(spec); }

std::unique_ptr<KvCache> CpuBackend::make_cache(const KvSpec& spec) {
  std::unique_ptr<KvCache> c;
  if (spec.act == DType::F64) c = std::make_unique<CpuKvCache<double>>();
  else c = std::make_unique<CpuKvCache<float>>();
  c->spec = spec;
  return c;
}

Status CpuBackend::reserve_kv(KvCache& cache, int tokens, int keep) {
  return on_cache(cache, [&](auto&, auto* c) -> Status {
    if (!c) return make_error("the KV cache was made by another backend");
    if (tokens <= c->tokens) return Status::Ok();
    const size_t per_token = kv_bytes_per_token(c->spec);
    if (auto st = check_memory((size_t)(tokens - c->tokens) * per_token,
                               "growing the KV cache from " + std::to_string(c->tokens) + " to " +
                                   std::to_string(tokens) + " tokens (" + format_bytes(per_token) + " per token)",
                               "choose a shorter context");
        !st)
      return st;
    const size_t row = kv_row_bytes(c->spec);
    c->layers.resize(c->spec.n_layers);
    for (auto& layer : c->layers)
      for (std::vector<uint8_t>* buf : {&layer.k, &layer.v}) {
        std::vector<uint8_t> grown((size_t)tokens * row);
        if (keep > 0 && !buf->empty()) std::memcpy(grown.data(), buf->data(), std::min(buf->size(), (size_t)keep * row));
        buf->swap(grown);
      }
    c->tokens = tokens;
    return Status::Ok();
  });
}

void CpuBackend::set_positions(KvCache& cache, const PositionTables& tables, int kind) {
  on_cache(cache, [&](auto&, auto* c) {
    if (!c || kind < 0 || kind >= kPositionTableKinds) return;  // attention reports the mismatch
    auto& ps = c->pos[kind];
    ps.tables = tables;
    ps.angles.set_table(tables.inv_freq, tables.attention_factor);
    ps.far_angles.set_table(tables.inv_freq, tables.attention_factor);
  });
}

// Each op: the views as the first one's dtype, checked for size; the typed op when all fit.
template <typename O>
using scalar_of = typename std::decay_t<O>::Scalar;

void CpuBackend::embed(const int* tokens, int n, const Matrix& table, int dim, const Tensor& out) {
  on(out.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    if (T* y = as<T>(out, (size_t)n * dim, "embed")) o.embed(tokens, n, table, dim, y);
  });
}

void CpuBackend::rmsnorm(const Tensor& x, const float* w, int rows, int dim, double eps, const Tensor& y) {
  const size_t n = (size_t)rows * dim;
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *xp = as<T>(x, n, "rmsnorm"), *yp = as<T>(y, n, "rmsnorm");
    if (xp && yp) o.rmsnorm(xp, w, rows, dim, eps, yp);
  });
}

void CpuBackend::layernorm(const Tensor& x, const float* w, const float* b, int rows, int dim, double eps,
                           const Tensor& y) {
  const size_t n = (size_t)rows * dim;
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *xp = as<T>(x, n, "layernorm"), *yp = as<T>(y, n, "layernorm");
    if (xp && yp) o.layernorm(xp, w, b, rows, dim, eps, yp);
  });
}

void CpuBackend::matmul(const Tensor& x, int rows, int in, const Matrix& W, const float* b, int out, const Tensor& y) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *xp = as<T>(x, (size_t)rows * in, "matmul"), *yp = as<T>(y, (size_t)rows * out, "matmul");
    if (xp && yp) o.matmul(xp, rows, in, W, b, out, yp);
  });
}

void CpuBackend::swiglu(const Tensor& gate, const Tensor& up) {
  on(gate.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *g = as<T>(gate, gate.count, "swiglu"), *u = as<T>(up, gate.count, "swiglu");
    if (g && u) o.swiglu(g, u, gate.count);
  });
}

void CpuBackend::geglu(const Tensor& gate, const Tensor& up) {
  on(gate.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *g = as<T>(gate, gate.count, "geglu"), *u = as<T>(up, gate.count, "geglu");
    if (g && u) o.geglu(g, u, gate.count);
  });
}

void CpuBackend::gelu(const Tensor& x, bool exact) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    if (T* p = as<T>(x, x.count, "gelu")) o.gelu(p, x.count, exact);
  });
}

void CpuBackend::scale(const Tensor& x, double s) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    if (T* p = as<T>(x, x.count, "scale")) o.scale(p, x.count, s);
  });
}

void CpuBackend::softcap(const Tensor& x, double cap) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    if (T* p = as<T>(x, x.count, "softcap")) o.softcap(p, x.count, cap);
  });
}

void CpuBackend::add(const Tensor& x, const Tensor& y) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *xp = as<T>(x, x.count, "add"), *yp = as<T>(y, x.count, "add");
    if (xp && yp) o.add(xp, yp, x.count);
  });
}

void CpuBackend::swiglu_oai(const Tensor& gate, const Tensor& up, double limit) {
  on(gate.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *g = as<T>(gate, gate.count, "swiglu_oai"), *u = as<T>(up, gate.count, "swiglu_oai");
    if (g && u) o.swiglu_oai(g, u, gate.count, limit);
  });
}

void CpuBackend::zero(const Tensor& x) {
  if (x.data) std::memset(x.data, 0, x.bytes());
}

// The source rows may lie anywhere in x (a micro-batch's normed rows); the check
// covers the whole of x, indices are the engine's own (0 … rows of x).
void CpuBackend::gather_rows(const Tensor& x, const int* rows, int n, int dim, const Tensor& out) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *xp = as<T>(x, x.count, "gather_rows"), *op = as<T>(out, (size_t)n * dim, "gather_rows");
    if (xp && op) o.gather_rows(xp, rows, n, dim, op);
  });
}

void CpuBackend::scatter_add_rows(const Tensor& x, const int* rows, const float* weights, int n, int dim,
                                  const Tensor& y) {
  on(x.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    T *xp = as<T>(x, (size_t)n * dim, "scatter_add_rows"), *yp = as<T>(y, y.count, "scatter_add_rows");
    if (xp && yp) o.scatter_add_rows(xp, rows, weights, n, dim, yp);
  });
}

Status CpuBackend::attention(KvCache& cache, const AttentionParams& p, const Tensor& q, const Tensor& k_new,
                             const Tensor& v_new, const Tensor& out, const AttentionObserver* observer,
                             const std::atomic<bool>* cancel) {
  const size_t nq = (size_t)p.n_new * p.n_heads * p.head_dim, nkv = (size_t)p.n_new * p.n_kv_heads * p.head_dim;
  return on_cache(cache, [&](auto& o, auto* c) -> Status {
    using T = scalar_of<decltype(o)>;
    if (!c) return make_error("the KV cache was made by another backend");
    T *qp = as<T>(q, nq, "attention"), *kp = as<T>(k_new, nkv, "attention"), *vp = as<T>(v_new, nkv, "attention"),
      *op = as<T>(out, nq, "attention");
    if (!qp || !kp || !vp || !op) return sync();
    return o.attention(*c, p, qp, kp, vp, op, observer, cancel);
  });
}

void CpuBackend::nll(const Tensor& logits, int rows, int vocab, const int* targets, double* out, int* rank) {
  on(logits.dtype, [&](auto& o) {
    using T = scalar_of<decltype(o)>;
    if (T* l = as<T>(logits, (size_t)rows * vocab, "nll")) o.nll(l, rows, vocab, targets, out, rank);
  });
}

template <typename T>
void CpuOps<T>::embed(const int* tokens, int n, const Matrix& table, int dim, T* out) {
  std::vector<float> row(dim);
  for (int t = 0; t < n; ++t) {
    table.row((size_t)tokens[t], dim, row.data());
    for (int i = 0; i < dim; ++i) out[(size_t)t * dim + i] = (T)row[i];
  }
}

template <typename T>
void CpuOps<T>::rmsnorm(const T* x, const float* w, int rows, int dim, double eps, T* y) {
  parallel_for(rows, opts_.threads, [&](int r) {
    const T* xr = x + (size_t)r * dim;
    T ss = 0;
    for (int i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    T scale = T(1) / std::sqrt(ss / dim + (T)eps);
    for (int i = 0; i < dim; ++i) y[(size_t)r * dim + i] = (T)w[i] * (scale * xr[i]);
  });
}

template <typename T>
void CpuOps<T>::layernorm(const T* x, const float* w, const float* b, int rows, int dim, double eps, T* y) {
  parallel_for(rows, opts_.threads, [&](int r) {
    const T* xr = x + (size_t)r * dim;
    T mean = 0, var = 0;
    for (int i = 0; i < dim; ++i) mean += xr[i];
    mean /= dim;
    for (int i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    T scale = T(1) / std::sqrt(var / dim + (T)eps);
    for (int i = 0; i < dim; ++i) y[(size_t)r * dim + i] = (xr[i] - mean) * scale * (T)w[i] + (b ? (T)b[i] : T(0));
  });
}

template <typename T>
void CpuOps<T>::matmul(const T* x, int rows, int in, const Matrix& W, const float* b, int out, T* y) {
  // Output columns per task: fixed by the shape alone (never by the thread count,
  // so results do not depend on it), larger for wide outputs so the activation
  // panel is packed fewer times.
  const int block = std::clamp((out / 16 + 63) / 64 * 64, 64, 512);
  const int blocks = (out + block - 1) / block;
  const float* W32 = W.f32();
  const uint16_t* W16 = W32 ? nullptr : static_cast<const uint16_t*>(W.data);
  if constexpr (std::is_same_v<T, float>) {
    if (!opts_.naive) {
      const auto widen = kernels_.widen;
      parallel_for(blocks, opts_.threads, [&](int blk) {
        const int o0 = blk * block, n = std::min(block, out - o0);
        const float* wb = W32 ? W32 + (size_t)o0 * in : nullptr;
        if (!wb) {  // 16-bit or block weights: widen this block's rows only, then one sgemm
          thread_local std::vector<float> buf;
          buf.resize((size_t)n * in);
          if (dtype_quantized(W.dtype)) W.rows((size_t)o0, (size_t)n, (size_t)in, buf.data());
          else widen(W16 + (size_t)o0 * in, (size_t)n * in, W.dtype == DType::BF16, buf.data());
          wb = buf.data();
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, in, 1.0f, x, in, wb, in, 0.0f, y + o0, out);
        if (b)
          for (int r = 0; r < rows; ++r)
            for (int o = o0; o < o0 + n; ++o) y[(size_t)r * out + o] += b[o];
      });
      return;
    }
  }
  parallel_for(blocks, opts_.threads, [&](int blk) {
    const int o0 = blk * block, o1 = std::min(out, o0 + block);
    thread_local std::vector<float> wrow;
    wrow.resize(in);
    for (int o = o0; o < o1; ++o) {
      const float* wr = W32 ? W32 + (size_t)o * in : (W.row(o, in, wrow.data()), wrow.data());
      for (int r = 0; r < rows; ++r) {
        const T* xr = x + (size_t)r * in;
        T acc = 0;
        for (int i = 0; i < in; ++i) acc += xr[i] * (T)wr[i];
        y[(size_t)r * out + o] = acc + (b ? (T)b[o] : T(0));
      }
    }
  });
}

template <typename T>
void CpuOps<T>::gather_rows(const T* x, const int* rows, int n, int dim, T* out) {
  for (int i = 0; i < n; ++i) std::memcpy(out + (size_t)i * dim, x + (size_t)rows[i] * dim, sizeof(T) * (size_t)dim);
}

// gpt-oss (transformers' GptOssExperts): the gate clamped from above, the up clamped
// both ways, the GLU with σ(1.702·g), the up shifted by one.
template <typename T>
void CpuOps<T>::swiglu_oai(T* gate, const T* up, size_t n, double limit) {
  const T lim = (T)limit;
  for (size_t i = 0; i < n; ++i) {
    const T g = std::min(gate[i], lim), u = std::clamp(up[i], -lim, lim);
    gate[i] = (u + T(1)) * g / (T(1) + std::exp(T(-1.702) * g));
  }
}

template <typename T>
void CpuOps<T>::scatter_add_rows(const T* x, const int* rows, const float* weights, int n, int dim, T* y) {
  for (int i = 0; i < n; ++i) {
    const T w = (T)weights[i];
    T* dst = y + (size_t)rows[i] * dim;
    const T* src = x + (size_t)i * dim;
    for (int j = 0; j < dim; ++j) dst[j] += w * src[j];
  }
}

template <typename T>
void CpuOps<T>::swiglu(T* gate, const T* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (T(1) + std::exp(-gate[i])) * up[i];
}

template <typename T>
void CpuOps<T>::gelu(T* x, size_t n, bool exact) {
  if (exact) {  // x·Φ(x) = x/2·(1 + erf(x/√2)): GPT-NeoX's and MPT's nn.GELU()
    const T r = (T)0.7071067811865476;
    for (size_t i = 0; i < n; ++i) x[i] = x[i] * T(0.5) * (T(1) + std::erf(x[i] * r));
    return;
  }
  const T k = (T)0.7978845608028654;  // sqrt(2/π), BLOOM's bloom_gelu_forward
  for (size_t i = 0; i < n; ++i) x[i] = x[i] * T(0.5) * (T(1) + std::tanh(k * x[i] * (T(1) + T(0.044715) * x[i] * x[i])));
}

template <typename T>
void CpuOps<T>::geglu(T* gate, const T* up, size_t n) {
  gelu(gate, n, false);  // gelu_pytorch_tanh
  for (size_t i = 0; i < n; ++i) gate[i] *= up[i];
}

template <typename T>
void CpuOps<T>::scale(T* x, size_t n, double s) {
  for (size_t i = 0; i < n; ++i) x[i] *= (T)s;
}

template <typename T>
void CpuOps<T>::softcap(T* x, size_t n, double cap) {
  for (size_t i = 0; i < n; ++i) x[i] = soft_cap(x[i], (T)cap);
}

template <typename T>
void CpuOps<T>::add(T* x, const T* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

template <typename T>
void CpuOps<T>::nll(const T* logits, int rows, int vocab, const int* targets, double* out, int* rank) {
  parallel_for(rows, opts_.threads, [&](int r) {
    const T* lr = logits + (size_t)r * vocab;
    T mx = lr[0];
    for (int i = 1; i < vocab; ++i) mx = std::max(mx, lr[i]);
    double sum = 0;
    for (int i = 0; i < vocab; ++i) sum += std::exp((double)(lr[i] - mx));
    out[r] = (double)mx + std::log(sum) - (double)lr[targets[r]];
    if (rank) {
      int above = 0;
      for (int i = 0; i < vocab; ++i) above += lr[i] > lr[targets[r]];
      rank[r] = above;
    }
  });
}

template class CpuOps<float>;
template class CpuOps<double>;

}  // namespace ls
