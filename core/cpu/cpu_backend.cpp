// CPU ops. Float matmuls go through OpenBLAS one column block per thread (a fixed
// split: results do not depend on the thread count); double and naive runs use
// plain loops. The KV cache keeps one K copy per layer in the cache dtype.
#include "core/cpu/cpu_backend.h"
#include "core/cpu/rope_apply.h"

#include <cblas.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/cpu/parallel.h"
#include "core/util/memory.h"

namespace ls {

template <typename T>
CpuBackend<T>::CpuBackend(CpuOptions o) : opts_(o) {
  if (opts_.threads <= 0) opts_.threads = default_threads();
  if (opts_.naive) {
    opts_.threads = 1;
    opts_.attention = CpuAttention::Rows;
  }
  if constexpr (!std::is_same_v<T, float>) opts_.attention = CpuAttention::Rows;  // the kernel is fp32
  // The kernel's instruction set: the best one built and supported, unless asked for another.
  const std::vector<std::string> isas = cpu_attention_isas();
  std::string want = opts_.isa;
  if (want.empty())
    if (const char* env = std::getenv("LONGSCOPE_ISA")) want = env;
  isa_ = isas.front();
  for (const std::string& i : isas)
    if (i == want) isa_ = i;
  kernels_ = cpu_kernels(isa_.c_str());
  openblas_set_num_threads(1);  // threads are ours: one BLAS call per block
}

template <typename T>
size_t CpuBackend<T>::memory_available() const {
  return available_memory_bytes();
}

template <typename T>
T* CpuBackend<T>::alloc(size_t count) {
  buffers_.emplace_back(count, T(0));
  return buffers_.back().data();
}

template <typename T>
void CpuBackend<T>::release(T* p) {
  buffers_.remove_if([p](const std::vector<T>& b) { return b.data() == p; });
}

template <typename T>
void CpuBackend<T>::to_host(const T* src, T* dst, size_t count) {
  if (src != dst) std::memcpy(dst, src, count * sizeof(T));
}

template <typename T>
void CpuBackend<T>::from_host(const T* src, T* dst, size_t count) {
  if (src != dst) std::memcpy(dst, src, count * sizeof(T));
}

template <typename T>
size_t CpuBackend<T>::kv_bytes_per_token(const KvSpec& spec) const {
  return kv_token_bytes(spec, sizeof(T));
}

template <typename T>
std::unique_ptr<KvCache> CpuBackend<T>::make_cache(const KvSpec& spec) {
  auto c = std::make_unique<Cache>();
  c->spec = spec;
  return c;
}

template <typename T>
Status CpuBackend<T>::reserve_kv(KvCache& cache, int tokens, int keep) {
  Cache* cp = own(cache);
  if (!cp) return make_error("the KV cache was made by another backend");
  Cache& c = *cp;
  if (tokens <= c.tokens) return Status::Ok();
  const size_t per_token = kv_bytes_per_token(c.spec);
  if (auto st = check_memory((size_t)(tokens - c.tokens) * per_token,
                             "growing the KV cache from " + std::to_string(c.tokens) + " to " +
                                 std::to_string(tokens) + " tokens (" + format_bytes(per_token) + " per token)",
                             "choose a shorter context");
      !st)
    return st;
  const size_t row = (size_t)c.spec.kv_dim * kv_elem_bytes(c.spec.dtype, sizeof(T));
  c.layers.resize(c.spec.n_layers);
  for (typename Cache::Layer& layer : c.layers)
    for (std::vector<uint8_t>* buf : {&layer.k, &layer.v}) {
      std::vector<uint8_t> grown((size_t)tokens * row);
      if (keep > 0 && !buf->empty()) std::memcpy(grown.data(), buf->data(), std::min(buf->size(), (size_t)keep * row));
      buf->swap(grown);
    }
  c.tokens = tokens;
  return Status::Ok();
}

template <typename T>
void CpuBackend<T>::set_positions(KvCache& cache, const PositionTables& tables, int kind) {
  Cache* c = own(cache);
  if (!c || kind < 0 || kind >= kPositionTableKinds) return;  // attention reports the mismatch
  auto& ps = c->pos[kind];
  ps.tables = tables;
  ps.angles.set_table(tables.inv_freq, tables.attention_factor);
  ps.far_angles.set_table(tables.inv_freq, tables.attention_factor);
}

template <typename T>
void CpuBackend<T>::embed(const int* tokens, int n, const Matrix& table, int dim, T* out) {
  std::vector<float> row(dim);
  for (int t = 0; t < n; ++t) {
    table.row((size_t)tokens[t], dim, row.data());
    for (int i = 0; i < dim; ++i) out[(size_t)t * dim + i] = (T)row[i];
  }
}

template <typename T>
void CpuBackend<T>::rmsnorm(const T* x, const float* w, int rows, int dim, double eps, T* y) {
  parallel_for(rows, opts_.threads, [&](int r) {
    const T* xr = x + (size_t)r * dim;
    T ss = 0;
    for (int i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    T scale = T(1) / std::sqrt(ss / dim + (T)eps);
    for (int i = 0; i < dim; ++i) y[(size_t)r * dim + i] = (T)w[i] * (scale * xr[i]);
  });
}

template <typename T>
void CpuBackend<T>::layernorm(const T* x, const float* w, const float* b, int rows, int dim, double eps, T* y) {
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
void CpuBackend<T>::matmul(const T* x, int rows, int in, const Matrix& W, const float* b, int out, T* y) {
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
        if (!wb) {  // 16-bit weights: widen this block's rows only, then one sgemm
          thread_local std::vector<float> buf;
          buf.resize((size_t)n * in);
          widen(W16 + (size_t)o0 * in, (size_t)n * in, W.dtype == DType::BF16, buf.data());
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
void CpuBackend<T>::swiglu(T* gate, const T* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (T(1) + std::exp(-gate[i])) * up[i];
}

template <typename T>
void CpuBackend<T>::gelu(T* x, size_t n, bool exact) {
  if (exact) {  // x·Φ(x) = x/2·(1 + erf(x/√2)): GPT-NeoX's and MPT's nn.GELU()
    const T r = (T)0.7071067811865476;
    for (size_t i = 0; i < n; ++i) x[i] = x[i] * T(0.5) * (T(1) + std::erf(x[i] * r));
    return;
  }
  const T k = (T)0.7978845608028654;  // sqrt(2/π), BLOOM's bloom_gelu_forward
  for (size_t i = 0; i < n; ++i) x[i] = x[i] * T(0.5) * (T(1) + std::tanh(k * x[i] * (T(1) + T(0.044715) * x[i] * x[i])));
}

template <typename T>
void CpuBackend<T>::geglu(T* gate, const T* up, size_t n) {
  gelu(gate, n, false);  // gelu_pytorch_tanh
  for (size_t i = 0; i < n; ++i) gate[i] *= up[i];
}

template <typename T>
void CpuBackend<T>::scale(T* x, size_t n, double s) {
  for (size_t i = 0; i < n; ++i) x[i] *= (T)s;
}

template <typename T>
void CpuBackend<T>::softcap(T* x, size_t n, double cap) {
  for (size_t i = 0; i < n; ++i) x[i] = soft_cap(x[i], (T)cap);
}

template <typename T>
void CpuBackend<T>::add(T* x, const T* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

template <typename T>
void CpuBackend<T>::nll(const T* logits, int rows, int vocab, const int* targets, double* out, int* rank) {
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

template class CpuBackend<float>;
template class CpuBackend<double>;

}  // namespace ls
