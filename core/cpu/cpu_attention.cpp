// CPU attention for every method. RoPE-family methods rotate queries and keys by
// their tables; remapping methods (rerope, leaky-rerope, self-extend) score keys
// in the near band (m - j < w) against keys rotated at j, and keys in the far band
// against keys rotated at far_key_pos(j), with the query rotated at
// far_query_pos(m): one dot product per score, never two N×N matrices.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/cpu/rope_apply.h"

namespace ls {

template <typename T>
static T dot(const T* a, const T* b, int n) {
  T s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

template <typename T>
Status CpuBackend<T>::attention(const AttentionCall<T>& c) {
  RopeAngleCache<T>& angles = angles_;
  const int hd = c.head_dim, rd = c.rot_dim, half = rd / 2;
  const int kv_dim = c.n_kv_heads * hd, q_dim = c.n_heads * hd, group = c.n_heads / c.n_kv_heads;
  const int n = c.p0 + c.n_new;
  const MethodParams& mp = c.method;
  const bool rope = !method_is_alibi(mp.method) && rd > 0;
  const bool remap = rope && method_is_remap(mp.method);
  const T scale = T(1) / std::sqrt((T)hd);

  // 1. Keys of the near band: rotate the new keys (or, for a dynamic method with
  //    cache=raw, every key with the current table).
  int rotate_from = c.p0;
  if (rope && method_is_dynamic(mp.method) && mp.cache == KeyCache::Raw) rotate_from = 0;
  if (rope) {
    angles.prepare(mp, c.ctx, n);
    parallel_for(n - rotate_from, opts_.threads, [&](int r) {
      int j = rotate_from + r;
      const T* cs = &angles.cos[(size_t)j * half];
      const T* sn = &angles.sin[(size_t)j * half];
      for (int kh = 0; kh < c.n_kv_heads; ++kh)
        rope_rotate(c.k_raw + (size_t)j * kv_dim + kh * hd, c.k_rot + (size_t)j * kv_dim + kh * hd, hd, rd, c.layout,
                    cs, sn);
    });
  } else {
    for (int j = c.p0; j < n; ++j)
      for (int i = 0; i < kv_dim; ++i) c.k_rot[(size_t)j * kv_dim + i] = c.k_raw[(size_t)j * kv_dim + i];
  }

  // 2. Keys of the far band, rotated at far_key_pos(j) (fractional for leaky-rerope).
  std::vector<T> k_far;
  if (remap) {
    k_far.resize((size_t)n * kv_dim);
    parallel_for(n, opts_.threads, [&](int j) {
      std::vector<T> cs(half), sn(half);
      rope_angles_at(angles.table.inv_freq, angles.table.attention_factor, remap_far_key_pos(mp, j), cs.data(),
                     sn.data());
      for (int kh = 0; kh < c.n_kv_heads; ++kh)
        rope_rotate(c.k_raw + (size_t)j * kv_dim + kh * hd, &k_far[(size_t)j * kv_dim + kh * hd], hd, rd, c.layout,
                    cs.data(), sn.data());
    });
  }

  // 3. One task per (query, head): scores over contiguous key ranges (no per-key
  //    branching), softmax, weighted sum of values.
  std::atomic<bool> stopped{false};
  const bool observe = c.observer && c.observer->on_row && c.observer->layer == c.layer;
  const bool sliding = mp.method == Method::SlidingWindow;
  parallel_for(c.n_new * c.n_heads, opts_.threads, [&](int task) {
    if (stopped.load(std::memory_order_relaxed)) return;
    if (c.cancel && c.cancel->load(std::memory_order_relaxed)) {
      stopped = true;
      return;
    }
    thread_local std::vector<T> qn, qf, scores, cs, sn;
    const int t = task / c.n_heads, h = task % c.n_heads, kh = h / group;
    const int m = c.p0 + t;
    const T* q = c.q + (size_t)t * q_dim + h * hd;
    qn.resize(hd);
    qf.resize(hd);
    scores.assign(m + 1, T(0));
    const T qscale = (mp.logn ? (T)logn_scale(m, c.ctx.train_len) : T(1)) * scale;
    if (rope) {
      rope_rotate(q, qn.data(), hd, rd, c.layout, &angles.cos[(size_t)m * half], &angles.sin[(size_t)m * half]);
      if (remap) {
        cs.resize(half);
        sn.resize(half);
        rope_angles_at(angles.table.inv_freq, angles.table.attention_factor, remap_far_query_pos(mp, m), cs.data(),
                       sn.data());
        rope_rotate(q, qf.data(), hd, rd, c.layout, cs.data(), sn.data());
      }
    } else {
      for (int i = 0; i < hd; ++i) qn[i] = q[i];
    }
    for (int i = 0; i < hd; ++i) {
      qn[i] *= qscale;
      qf[i] *= qscale;
    }
    // Key ranges: far band [0, near_from) of a remap, near band [near_from, m];
    // a sliding window sees [0, sinks) and [m-W+1, m].
    int near_from = 0, sink_end = 0;
    if (remap) near_from = std::clamp(m - (int)std::ceil(mp.remap.window) + 1, 0, m + 1);
    if (sliding) {
      near_from = std::max(0, m - (int)mp.remap.window + 1);
      sink_end = std::min(mp.remap.sinks, near_from);
    }
    const T slope = c.alibi_slopes ? (T)c.alibi_slopes[h] : T(0);
    const T* kr = c.k_rot + kh * hd;
    T mx = -std::numeric_limits<T>::infinity();
    auto score_range = [&](int j0, int j1, const T* keys, const T* qq) {
      for (int j = j0; j < j1; ++j) {
        T s = dot(qq, keys + (size_t)j * kv_dim, hd) - slope * (T)(m - j);
        scores[j] = s;
        mx = std::max(mx, s);
      }
    };
    if (remap) score_range(0, near_from, k_far.data() + kh * hd, qf.data());
    if (sliding) score_range(0, sink_end, kr, qn.data());
    score_range(near_from, m + 1, kr, qn.data());
    T sum = 0;
    auto exp_range = [&](int j0, int j1) {
      for (int j = j0; j < j1; ++j) sum += scores[j] = std::exp(scores[j] - mx);
    };
    if (remap) exp_range(0, near_from);
    if (sliding) exp_range(0, sink_end);
    exp_range(near_from, m + 1);
    const T inv = T(1) / sum;
    T* o = c.out + (size_t)t * q_dim + h * hd;
    for (int i = 0; i < hd; ++i) o[i] = 0;
    auto acc_range = [&](int j0, int j1) {
      for (int j = j0; j < j1; ++j) {
        const T p = scores[j] *= inv;
        const T* v = c.v + (size_t)j * kv_dim + kh * hd;
        for (int i = 0; i < hd; ++i) o[i] += p * v[i];
      }
    };
    if (remap) acc_range(0, near_from);
    if (sliding) acc_range(0, sink_end);
    acc_range(near_from, m + 1);
    if (observe && (c.observer->head < 0 || h == c.observer->head)) {
      std::vector<float> probs(scores.begin(), scores.end());
      c.observer->on_row(h, m, probs.data(), m + 1);
    }
  });
  if (stopped) return make_error("cancelled");
  return Status::Ok();
}

template Status CpuBackend<float>::attention(const AttentionCall<float>&);
template Status CpuBackend<double>::attention(const AttentionCall<double>&);

}  // namespace ls
