// CPU attention for every method, over the backend's KV cache (one K copy, kept
// rotated or raw: KeyForm). Two paths:
// - tiled (float, default): the flash kernel of flash_kernel_impl.h, built for
//   generic x86-64 / AVX2 / AVX-512 and chosen at run time;
// - rows (double, the naive baseline): one (query, head) at a time with the score
//   row materialised, the reference the tiled path is tested against.
// A probed layer runs tiled too: the kernel also returns each row's log-sum-exp,
// and a probe pass recomputes the probed heads' scores as exp(s - lse) (the
// flash-attention backward's recompute), never a second softmax.
// Remapping methods (rerope, leaky-rerope, self-extend) score keys in the near
// band against R(j)k with the query at R(m)q, and keys in the far band against
// R(far_key_pos(j))k with the query at R(far_query_pos(m))q: one dot product per
// score, never two N×N matrices (docs/gpu.md, [rerope]).
#if defined(LONGSCOPE_FLASH_X86)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/flash_kernel.h"
#include "core/util/parallel.h"
#include "core/position/rope_apply.h"
#include "core/model/dtype.h"

namespace ls {

namespace {

template <typename T>
T dot(const T* a, const T* b, int n) {
  T s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Cache element <-> activation value.
template <typename T>
void store_row(DType d, const T* src, uint8_t* dst, int n) {
  if (d == dtype_of<T>()) {
    std::memcpy(dst, src, (size_t)n * sizeof(T));
    return;
  }
  uint16_t* h = reinterpret_cast<uint16_t*>(dst);
  for (int i = 0; i < n; ++i) h[i] = d == DType::F16 ? float_to_half((float)src[i]) : float_to_bf16((float)src[i]);
}
template <typename T>
void load_row(DType d, const uint8_t* src, T* dst, int n) {
  if (d == dtype_of<T>()) {
    std::memcpy(dst, src, (size_t)n * sizeof(T));
    return;
  }
  const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
  for (int i = 0; i < n; ++i) dst[i] = (T)(d == DType::F16 ? half_to_float(h[i]) : bf16_to_float(h[i]));
}

// Query operands of one head at position m: qn = R(m)q and, for a remapping
// method, qf = R(far_query_pos(m))q, both times the softmax scale (1/√hd unless
// the model sets its own) and the log-n factor. near_cs = null: no rotation (ALiBi); far_cs = null: no far band.
template <typename T>
void query_operands(const AttentionParams& p, const T* q, int m, const T* near_cs, const T* near_sn, const T* far_cs,
                    const T* far_sn, T* qn, T* qf) {
  const int hd = p.head_dim;
  const double base = softmax_scale(p);
  const T qscale = (T)((p.logn ? logn_scale(m, p.train_len) : 1.0) * base);
  if (near_cs) rope_rotate(q, qn, hd, p.rot_dim, p.layout, near_cs, near_sn);
  else std::memcpy(qn, q, (size_t)hd * sizeof(T));
  for (int i = 0; i < hd; ++i) qn[i] *= qscale;
  if (!far_cs) return;
  rope_rotate(q, qf, hd, p.rot_dim, p.layout, far_cs, far_sn);
  for (int i = 0; i < hd; ++i) qf[i] *= qscale;
}

}  // namespace

CpuKernels cpu_kernels(const char* isa) {
  const std::string i = isa;
#if defined(LONGSCOPE_FLASH_X86)
  if (i == "avx512") return {flash_task_avx512, widen_avx512};
  if (i == "avx2") return {flash_task_avx2, widen_avx2};
#endif
  return {flash_task_generic, widen_generic};
}

std::vector<std::string> cpu_attention_isas() {
  std::vector<std::string> isas;
#if defined(LONGSCOPE_FLASH_X86)
  __builtin_cpu_init();
  // F16C from CPUID leaf 1 (ECX bit 29): not every compiler names it in __builtin_cpu_supports.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
  const bool fma = __builtin_cpu_supports("fma");
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && fma && f16c)
    isas.push_back("avx512");
  if (__builtin_cpu_supports("avx2") && fma && f16c) isas.push_back("avx2");
#endif
  isas.push_back("generic");
  return isas;
}

template <typename T>
void CpuOps<T>::append_kv(Cache& c, const AttentionParams& p, const T* k_new, const T* v_new) {
  auto& ps = c.pos[p.table];

  const int hd = p.head_dim, kv_dim = p.n_kv_heads * hd, half = p.rot_dim / 2;
  const size_t row = kv_row_bytes(c.spec);
  typename Cache::Layer& L = c.layers[p.layer];
  const bool rotate = c.spec.keys == KeyForm::Rotated && !ps.tables.inv_freq.empty();
  parallel_for(p.n_new, opts_.threads, [&](int t) {
    const int j = p.p0 + t;
    std::vector<T> k(k_new + (size_t)t * kv_dim, k_new + (size_t)(t + 1) * kv_dim);
    if (rotate)
      for (int kh = 0; kh < p.n_kv_heads; ++kh)
        rope_rotate(&k[(size_t)kh * hd], &k[(size_t)kh * hd], hd, p.rot_dim, p.layout, &ps.angles.cos[(size_t)j * half],
                    &ps.angles.sin[(size_t)j * half]);
    store_row(kv_storage(c.spec), k.data(), L.k.data() + (size_t)j * row, kv_dim);
    store_row(kv_storage(c.spec), v_new + (size_t)t * kv_dim, L.v.data() + (size_t)j * row, kv_dim);
  });
}

template <typename T>
void CpuOps<T>::prepare_far_keys(Cache& c, const AttentionParams& p, int n) {
  auto& ps = c.pos[p.table];

  const MethodParams bp = band_params(p);
  if (bp.method != ps.far_bands.method || bp.remap.k != ps.far_bands.remap.k || bp.remap.group != ps.far_bands.remap.group) {
    ps.far_bands = bp;  // remap_far_key_pos depends on these alone
    ps.far_angles.rows = 0;
  }
  ps.far_angles.prepare(n, [&](int j) { return remap_far_key_pos(bp, j); });
}

template <typename T>
void CpuOps<T>::keys_as(const Cache& c, const AttentionParams& p, int n, bool far, std::vector<T>& out) {
  const auto& ps = c.pos[p.table];

  const int hd = p.head_dim, kv_dim = p.n_kv_heads * hd, half = p.rot_dim / 2;
  const size_t row = kv_row_bytes(c.spec);
  const typename Cache::Layer& L = c.layers[p.layer];
  const bool rope = !ps.tables.inv_freq.empty();
  out.resize((size_t)n * kv_dim);
  parallel_for(n, opts_.threads, [&](int j) {
    T* k = &out[(size_t)j * kv_dim];
    load_row(kv_storage(c.spec), L.k.data() + (size_t)j * row, k, kv_dim);
    if (!rope || (!far && c.spec.keys == KeyForm::Rotated)) return;
    const RopeAngleCache<T>& ang = far ? ps.far_angles : ps.angles;
    const T* cs = &ang.cos[(size_t)j * half];
    const T* sn = &ang.sin[(size_t)j * half];
    for (int kh = 0; kh < p.n_kv_heads; ++kh) rope_rotate(k + kh * hd, k + kh * hd, hd, p.rot_dim, p.layout, cs, sn);
  });
}

template <typename T>
void CpuOps<T>::values_as(const Cache& c, const AttentionParams& p, int n, std::vector<T>& out) {
  const int kv_dim = p.n_kv_heads * p.head_dim;
  const size_t row = kv_row_bytes(c.spec);
  out.resize((size_t)n * kv_dim);
  for (int j = 0; j < n; ++j) load_row(kv_storage(c.spec), c.layers[p.layer].v.data() + (size_t)j * row, &out[(size_t)j * kv_dim], kv_dim);
}

template <typename T>
Status CpuOps<T>::attention(Cache& c, const AttentionParams& p, const T* q, const T* k_new, const T* v_new, T* out,
                            const AttentionObserver* observer, const std::atomic<bool>* cancel) {
  if (p.table < 0 || p.table >= kPositionTableKinds) return make_error("attention: no position table " + std::to_string(p.table));
  auto& ps = c.pos[p.table];
  const int n = p.p0 + p.n_new;
  if (p.layer < 0 || p.layer >= (int)c.layers.size() || n > c.tokens)
    return make_error("attention: the KV cache has no room for layer " + std::to_string(p.layer) + " at " +
                      std::to_string(n) + " tokens");
  if (p.rot_dim > 0 && !ps.tables.inv_freq.empty()) ps.angles.prepare(n);
  if (!ps.tables.inv_freq.empty() && method_is_remap(p.method)) prepare_far_keys(c, p, n);
  append_kv(c, p, k_new, v_new);
  if (opts_.attention == CpuAttention::Rows || p.head_dim > kFlashMaxHeadDim)
    return attention_rows(c, p, q, out, observer, cancel);
  return attention_tiled(c, p, q, out, observer, cancel);
}

template <typename T>
Status CpuOps<T>::attention_rows(Cache& c, const AttentionParams& p, const T* q_in, T* out_, const AttentionObserver* observer,
                                     const std::atomic<bool>* cancel) {
  const int hd = p.head_dim, rd = p.rot_dim, half = rd / 2;
  const auto& ps = c.pos[p.table];
  const int kv_dim = p.n_kv_heads * hd, q_dim = p.n_heads * hd, group = p.n_heads / p.n_kv_heads;
  const int n = p.p0 + p.n_new;
  const MethodParams mp = band_params(p);
  const TileBands bands = tile_bands(p.method, p.remap);
  const bool rope = !ps.tables.inv_freq.empty();
  const bool remap = rope && bands.remap;
  std::vector<T> k_near, k_far, vals;
  keys_as(c, p, n, false, k_near);
  if (remap) keys_as(c, p, n, true, k_far);
  values_as(c, p, n, vals);
  std::atomic<bool> stopped{false};
  const bool observe = observer && observer->on_row && observer->layer == p.layer;
  // One task per (query, head): scores over contiguous key ranges (no per-key
  // branching), softmax, weighted sum of values.
  parallel_for(p.n_new * p.n_heads, opts_.threads, [&](int task) {
    if (stopped.load(std::memory_order_relaxed)) return;
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      stopped = true;
      return;
    }
    thread_local std::vector<T> qn, qf, scores, cs, sn;
    const int t = task / p.n_heads, h = task % p.n_heads, kh = h / group;
    const int m = p.p0 + t;
    const T* q = q_in + (size_t)t * q_dim + h * hd;
    qn.resize(hd);
    qf.resize(hd);
    scores.assign(m + 1, T(0));
    cs.resize(half);
    sn.resize(half);
    if (remap) rope_angles_at(ps.tables.inv_freq, ps.tables.attention_factor, remap_far_query_pos(mp, m), cs.data(), sn.data());
    query_operands(p, q, m, rope ? &ps.angles.cos[(size_t)m * half] : nullptr, rope ? &ps.angles.sin[(size_t)m * half] : nullptr,
                   remap ? cs.data() : nullptr, remap ? sn.data() : nullptr, qn.data(), qf.data());
    // Key ranges: far band [0, near_from) of a remap, near band [near_from, m];
    // a sliding window sees [0, sink_end) and [near_from, m].
    const int near_from = remap || bands.sliding ? band_near_from(bands, m) : 0;
    const int sink_end = band_sink_end(bands, m);
    const T slope = ps.tables.alibi_slopes.empty() ? T(0) : (T)ps.tables.alibi_slopes[h];
    T mx = -std::numeric_limits<T>::infinity();
    const T cap = (T)p.softcap;
    auto score_range = [&](int j0, int j1, const std::vector<T>& keys, const T* qq) {
      for (int j = j0; j < j1; ++j) {
        T s = dot(qq, &keys[(size_t)j * kv_dim + kh * hd], hd);
        if (cap > 0) s = soft_cap(s, cap);  // Gemma-2's logit soft-capping, before any bias
        s -= slope * (T)(m - j);
        scores[j] = s;
        mx = std::max(mx, s);
      }
    };
    if (remap) score_range(0, near_from, k_far, qf.data());
    score_range(0, sink_end, k_near, qn.data());
    score_range(near_from, m + 1, k_near, qn.data());
    // A sink logit (gpt-oss): one more softmax term with no value.
    const T sink = p.sinks ? (T)p.sinks[h] : -std::numeric_limits<T>::infinity();
    mx = std::max(mx, sink);
    T sum = p.sinks ? std::exp(sink - mx) : T(0);
    auto exp_range = [&](int j0, int j1) {
      for (int j = j0; j < j1; ++j) sum += scores[j] = std::exp(scores[j] - mx);
    };
    if (remap) exp_range(0, near_from);
    exp_range(0, sink_end);
    exp_range(near_from, m + 1);
    const T inv = T(1) / sum;
    T* o = out_ + (size_t)t * q_dim + h * hd;
    for (int i = 0; i < hd; ++i) o[i] = 0;
    auto acc_range = [&](int j0, int j1) {
      for (int j = j0; j < j1; ++j) {
        const T pj = scores[j] *= inv;
        const T* v = &vals[(size_t)j * kv_dim + kh * hd];
        for (int i = 0; i < hd; ++i) o[i] += pj * v[i];
      }
    };
    if (remap) acc_range(0, near_from);
    acc_range(0, sink_end);
    acc_range(near_from, m + 1);
    if (observe && (observer->head < 0 || h == observer->head)) {
      std::vector<float> probs(scores.begin(), scores.end());
      observer->on_row(h, m, probs.data(), m + 1);
    }
  });
  if (stopped) return make_error("cancelled");
  return Status::Ok();
}

template <typename T>
Status CpuOps<T>::attention_tiled(Cache& c, const AttentionParams& p, const T* q_in, T* out,
                                      const AttentionObserver* observer, const std::atomic<bool>* cancel) {
  if constexpr (!std::is_same_v<T, float>) {
    return attention_rows(c, p, q_in, out, observer, cancel);
  } else {
    const auto& ps = c.pos[p.table];
    const int hd = p.head_dim, rd = p.rot_dim, half = rd / 2, q_dim = p.n_heads * hd;
    const int group = p.n_heads / p.n_kv_heads;
    const MethodParams mp = band_params(p);
    FlashArgs a;
    a.p0 = p.p0;
    a.n_new = p.n_new;
    a.n_heads = p.n_heads;
    a.n_kv_heads = p.n_kv_heads;
    a.head_dim = hd;
    a.rot_dim = ps.tables.inv_freq.empty() ? 0 : rd;
    a.layout = p.layout;
    a.q_block = std::clamp(128 / group, 1, 64);
    a.bands = tile_bands(p.method, p.remap);
    a.softcap = (float)p.softcap;
    a.sinks = p.sinks;
    const bool rope = !ps.tables.inv_freq.empty();
    if (!rope) a.bands.remap = 0;
    a.rotate_near = rope && c.spec.keys == KeyForm::Raw;
    a.kv_dtype = kv_storage(c.spec);
    a.k = c.layers[p.layer].k.data();
    a.v = c.layers[p.layer].v.data();
    if (rope) {
      a.cos = ps.angles.cos.data();
      a.sin = ps.angles.sin.data();
      if (a.bands.remap) {
        a.far_cos = ps.far_angles.cos.data();
        a.far_sin = ps.far_angles.sin.data();
      }
    }
    std::vector<float> slopes(ps.tables.alibi_slopes.begin(), ps.tables.alibi_slopes.end());
    a.slopes = slopes.empty() ? nullptr : slopes.data();
    a.out = out;
    // A probed layer: the kernel also gives each row's log-sum-exp for the probe pass.
    const bool observe = observer && observer->on_row && observer->layer == p.layer;
    std::vector<float> lse(observe ? (size_t)p.n_new * p.n_heads : 0);
    a.lse = observe ? lse.data() : nullptr;
    // Query operands: rotated for each band, with the softmax and log-n scales folded in.
    std::vector<float> qn((size_t)p.n_new * q_dim), qf(a.bands.remap ? (size_t)p.n_new * q_dim : 0);
    parallel_for(p.n_new, opts_.threads, [&](int t) {
      const int m = p.p0 + t;
      std::vector<float> cs(half), sn(half);
      if (a.bands.remap)
        rope_angles_at(ps.tables.inv_freq, ps.tables.attention_factor, remap_far_query_pos(mp, m), cs.data(), sn.data());
      for (int h = 0; h < p.n_heads; ++h) {
        const size_t off = (size_t)t * q_dim + (size_t)h * hd;
        query_operands(p, q_in + off, m, rope ? &ps.angles.cos[(size_t)m * half] : nullptr,
                       rope ? &ps.angles.sin[(size_t)m * half] : nullptr, a.bands.remap ? cs.data() : nullptr,
                       a.bands.remap ? sn.data() : nullptr, &qn[off], a.bands.remap ? &qf[off] : nullptr);
      }
    });
    a.qn = qn.data();
    a.qf = a.bands.remap ? qf.data() : nullptr;
    const auto fn = kernels_.flash;
    const int scratch_floats = flash_scratch_floats(a);
    std::atomic<bool> stopped{false};
    parallel_for(flash_tasks(a), opts_.threads, [&](int task) {
      if (stopped.load(std::memory_order_relaxed)) return;
      if (cancel && cancel->load(std::memory_order_relaxed)) {
        stopped = true;
        return;
      }
      thread_local std::vector<float> scratch;
      if ((int)scratch.size() < scratch_floats) scratch.resize(scratch_floats);
      fn(a, task, scratch.data());
    });
    if (stopped) return make_error("cancelled");
    if (observe) return probe_rows(c, p, a.qn, a.qf, lse.data(), *observer, cancel);
    return Status::Ok();
  }
}

template <typename T>
Status CpuOps<T>::probe_rows(Cache& c, const AttentionParams& p, const float* qn, const float* qf, const float* lse,
                                 const AttentionObserver& observer, const std::atomic<bool>* cancel) {
  if constexpr (std::is_same_v<T, float>) {
    const int hd = p.head_dim, kv_dim = p.n_kv_heads * hd, q_dim = p.n_heads * hd, group = p.n_heads / p.n_kv_heads;
    const auto& ps = c.pos[p.table];
    const int n = p.p0 + p.n_new;
    const TileBands bands = tile_bands(p.method, p.remap);
    const bool remap = !ps.tables.inv_freq.empty() && bands.remap;
    std::vector<float> k_near, k_far;  // keys as each band sees them
    keys_as(c, p, n, false, k_near);
    if (remap) keys_as(c, p, n, true, k_far);
    const int h0 = observer.head < 0 ? 0 : observer.head, nh = observer.head < 0 ? p.n_heads : 1;
    std::atomic<bool> stopped{false};
    parallel_for(p.n_new * nh, opts_.threads, [&](int task) {
      if (stopped.load(std::memory_order_relaxed)) return;
      if (cancel && cancel->load(std::memory_order_relaxed)) {
        stopped = true;
        return;
      }
      const int t = task / nh, h = h0 + task % nh, kh = h / group, m = p.p0 + t;
      const float* qq = qn + (size_t)t * q_dim + (size_t)h * hd;
      const float* qqf = remap ? qf + (size_t)t * q_dim + (size_t)h * hd : nullptr;
      const float slope = ps.tables.alibi_slopes.empty() ? 0.0f : (float)ps.tables.alibi_slopes[h];
      const float l = lse[(size_t)t * p.n_heads + h];
      std::vector<float> probs(m + 1, 0.0f);
      const float cap = (float)p.softcap;
      auto range = [&](int j0, int j1, const std::vector<float>& keys, const float* q) {
        for (int j = j0; j < j1; ++j) {
          float sc = dot(q, &keys[(size_t)j * kv_dim + kh * hd], hd);
          if (cap > 0) sc = soft_cap(sc, cap);
          probs[j] = std::exp(sc - slope * (float)(m - j) - l);
        }
      };
      const int near_from = remap || bands.sliding ? band_near_from(bands, m) : 0;
      if (remap) range(0, near_from, k_far, qqf);
      range(0, band_sink_end(bands, m), k_near, qq);
      range(near_from, m + 1, k_near, qq);
      observer.on_row(h, m, probs.data(), m + 1);
    });
    if (stopped) return make_error("cancelled");
  }
  return Status::Ok();
}

#define LS_INSTANTIATE(T)                                                                                    \
  template Status CpuOps<T>::attention(CpuKvCache<T>&, const AttentionParams&, const T*, const T*, const T*, T*, \
                                       const AttentionObserver*, const std::atomic<bool>*);
LS_INSTANTIATE(float)
LS_INSTANTIATE(double)
#undef LS_INSTANTIATE

}  // namespace ls
