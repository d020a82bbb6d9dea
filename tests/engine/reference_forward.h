// An independent reference forward for tests: double precision, the whole
// sequence at once, no KV cache, no chunking, no rotated copies. Each attention
// score is computed from the relative angle r·θ'_i directly:
//   Σ_pairs cos(rθ')(q_a k_a + q_b k_b) + sin(rθ')(q_a k_b − q_b k_a)
// with r = m - j, or the remapped distance of METHODS.md §2 written out here
// (not taken from core/position). Tables θ'_i, the attention factor and ALiBi
// slopes come from core/position, which is checked against golden values.
#pragma once

#include <cmath>
#include <vector>

#include "core/model/model.h"
#include "core/position/tables.h"

namespace ls::test {

inline double ref_remapped_distance(const MethodParams& p, int m, int j) {
  const double d = m - j, w = p.remap.window;
  switch (p.method) {
    case Method::Rerope: return std::min(d, w);
    case Method::LeakyRerope: return d < w ? d : w + (d - w) / p.remap.k;
    case Method::SelfExtend: {
      const int G = p.remap.group, wn = (int)w;
      const double offset = p.remap.float_offset ? w - w / G : (double)(wn - wn / G);
      return d < wn ? d : (double)(m / G - j / G) + offset;
    }
    default: return d;
  }
}

inline bool ref_visible(const MethodParams& p, int m, int j) {
  if (j > m) return false;
  if (p.method == Method::SlidingWindow) return m - j < p.remap.window || j < p.remap.sinks;
  return true;
}

// Logits (n, vocab) for tokens at positions 0 … n-1; dynamic methods see n.
inline std::vector<std::vector<double>> reference_logits(const Model& model, const std::vector<int>& tokens,
                                                         const MethodParams& p) {
  const ModelConfig& c = model.config;
  const ModelWeights& W = model.weights;
  const int n = (int)tokens.size(), D = c.dim, hd = c.head_dim, H = c.n_heads, KV = c.n_kv_heads;
  const int rd = c.rot_dim, half = rd / 2, hid = c.hidden_dim;
  const bool rms = c.arch == Arch::Llama, alibi = method_is_alibi(p.method);
  const PositionContext ctx{c.rot_dim, c.rope_base, (double)c.train_len, (double)n};
  RopeTable tab;
  if (!alibi && rd > 0) tab = rope_table(p, ctx);
  using Mat = std::vector<std::vector<double>>;
  // Weights as stored (fp32, or f16 / bf16 rows widened exactly to fp32 first).
  auto linear = [](const Mat& x, const Matrix& w, const float* b, int out) {
    Mat y(x.size(), std::vector<double>(out));
    const int in = (int)x[0].size();
    std::vector<float> wr(in);
    for (int o = 0; o < out; ++o) {
      w.row(o, in, wr.data());
      for (size_t r = 0; r < x.size(); ++r) {
        double s = b ? b[o] : 0.0;
        for (int i = 0; i < in; ++i) s += x[r][i] * (double)wr[i];
        y[r][o] = s;
      }
    }
    return y;
  };
  auto norm = [&](const Mat& x, const float* w, const float* b) {
    Mat y = x;
    for (auto& row : y) {
      double mean = 0, ss = 0;
      if (!rms) {
        for (double v : row) mean += v;
        mean /= D;
      }
      for (double v : row) ss += (v - mean) * (v - mean);
      double inv = 1.0 / std::sqrt(ss / D + c.norm_eps);
      for (int i = 0; i < D; ++i) row[i] = (row[i] - mean) * inv * w[i] + (b ? b[i] : 0.0);
    }
    return y;
  };
  Mat x(n, std::vector<double>(D));
  std::vector<float> er(D);
  for (int t = 0; t < n; ++t) {
    W.tok_embd.row((size_t)tokens[t], D, er.data());
    for (int i = 0; i < D; ++i) x[t][i] = er[i];
  }
  if (W.embd_norm) x = norm(x, W.embd_norm, W.embd_norm_b);
  if (c.embed_scale)
    for (auto& row : x)
      for (auto& e : row) e *= std::sqrt((double)D);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& Lw = W.layers[l];
    Mat xn = norm(x, Lw.attn_norm, Lw.attn_norm_b);
    Mat q = linear(xn, Lw.wq, Lw.bq, H * hd), k = linear(xn, Lw.wk, Lw.bk, KV * hd), v = linear(xn, Lw.wv, Lw.bv, KV * hd);
    // Gemma-3: each q and k head RMS-normed (weights as loaded) before the rotation.
    auto head_norm = [&](Mat& xs, const float* w, int heads) {
      for (auto& row : xs)
        for (int h = 0; h < heads; ++h) {
          double ss = 0;
          for (int i = 0; i < hd; ++i) ss += row[h * hd + i] * row[h * hd + i];
          const double inv = 1.0 / std::sqrt(ss / hd + c.norm_eps);
          for (int i = 0; i < hd; ++i) row[h * hd + i] *= inv * w[i];
        }
    };
    if (Lw.q_norm) head_norm(q, Lw.q_norm, H);
    if (Lw.k_norm) head_norm(k, Lw.k_norm, KV);
    Mat att(n, std::vector<double>(H * hd, 0.0));
    // Local layers (keys m - j < window), written out here: Gemma-2's even layers;
    // Gemma-3's all but every local_pattern-th, with plain RoPE at their own base.
    const bool local = c.local_window > 0 && (c.local_rope_base > 0 ? (l + 1) % c.local_pattern != 0 : l % 2 == 0);
    const bool own_table = local && c.local_rope_base > 0;
    const MethodParams plain;
    const MethodParams& lp = own_table ? plain : p;
    RopeTable local_tab;
    if (own_table) local_tab = rope_table(plain, PositionContext{rd, c.local_rope_base, (double)c.train_len, (double)n});
    const RopeTable& lt = own_table ? local_tab : tab;
    const double laf2 = lt.attention_factor * lt.attention_factor;
    const double qk_scale = c.attn_scale > 0 ? c.attn_scale : 1.0 / std::sqrt((double)hd);
    for (int h = 0; h < H; ++h) {
      const int kh = h / (H / KV);
      const double slope = alibi ? alibi_slope(p, ctx, h + 1, H) : 0.0;
      for (int m = 0; m < n; ++m) {
        const double* qm = &q[m][h * hd];
        const double logn = lp.logn ? std::max(1.0, std::log(m + 1.0) / std::log((double)c.train_len)) : 1.0;
        std::vector<double> s(m + 1, -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j <= m; ++j) {
          if (!ref_visible(lp, m, j) || (local && m - j >= c.local_window)) continue;
          const double* kj = &k[j][kh * hd];
          const double r = ref_remapped_distance(lp, m, j);
          double rot = 0, pass = 0;
          for (int i = 0; i < half; ++i) {
            int a = c.layout == PairLayout::Interleaved ? 2 * i : i;
            int b = c.layout == PairLayout::Interleaved ? 2 * i + 1 : i + half;
            double ang = r * lt.inv_freq[i];
            rot += std::cos(ang) * (qm[a] * kj[a] + qm[b] * kj[b]) + std::sin(ang) * (qm[a] * kj[b] - qm[b] * kj[a]);
          }
          for (int i = (alibi ? 0 : rd); i < hd; ++i) pass += qm[i] * kj[i];
          double sc = (rot * laf2 + pass) * logn * qk_scale;
          if (c.attn_softcap > 0) sc = c.attn_softcap * std::tanh(sc / c.attn_softcap);
          s[j] = sc - slope * (m - j);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (auto& e : s) sum += (e = std::isinf(e) ? 0.0 : std::exp(e - mx));
        for (int j = 0; j <= m; ++j)
          for (int i = 0; i < hd; ++i) att[m][h * hd + i] += s[j] / sum * v[j][kh * hd + i];
      }
    }
    Mat o = linear(att, Lw.wo, Lw.bo, D);
    if (Lw.post_attn_norm) o = norm(o, Lw.post_attn_norm, nullptr);
    // GPT-NeoX's parallel residual: both blocks read the same x, through their own
    // norms; a block without a feed-forward norm (Phi-2) reuses the attention's xn.
    if (c.parallel_residual && Lw.ffn_norm) xn = norm(x, Lw.ffn_norm, Lw.ffn_norm_b);
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < D; ++i) x[t][i] += o[t][i];
    if (!c.parallel_residual) xn = norm(x, Lw.ffn_norm, Lw.ffn_norm_b);
    Mat h1;
    if (Lw.w_gate) {  // gated: LLaMA, Gemma, StableLM
      Mat g = linear(xn, Lw.w_gate, nullptr, hid), u = linear(xn, Lw.w_up, nullptr, hid);
      for (int t = 0; t < n; ++t)
        for (int i = 0; i < hid; ++i) {
          const double e = g[t][i];
          g[t][i] = (c.geglu ? 0.5 * e * (1 + std::tanh(0.7978845608028654 * (e + 0.044715 * e * e * e)))
                             : e / (1 + std::exp(-e))) * u[t][i];
        }
      h1 = g;
    } else {
      h1 = linear(xn, Lw.w_up, Lw.b_up, hid);
      for (auto& row : h1)
        for (auto& e : row)
          e = c.gelu_exact ? 0.5 * e * std::erfc(-e / std::sqrt(2.0))  // x·Φ(x)
                           : 0.5 * e * (1 + std::tanh(0.7978845608028654 * e * (1 + 0.044715 * e * e)));
    }
    Mat dn = linear(h1, Lw.w_down, Lw.b_down, D);
    if (Lw.post_ffn_norm) dn = norm(dn, Lw.post_ffn_norm, nullptr);
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < D; ++i) x[t][i] += dn[t][i];
  }
  x = norm(x, W.out_norm, W.out_norm_b);
  Mat logits = linear(x, W.output, W.output_b, c.vocab_size);
  if (c.final_softcap > 0)
    for (auto& row : logits)
      for (auto& e : row) e = c.final_softcap * std::tanh(e / c.final_softcap);
  return logits;
}

inline std::vector<double> reference_nll(const Model& model, const std::vector<int>& tokens, const MethodParams& p) {
  std::vector<int> in(tokens.begin(), tokens.end() - 1);
  auto logits = reference_logits(model, in, p);
  std::vector<double> nll;
  for (size_t t = 0; t < in.size(); ++t) {
    double mx = -INFINITY, s = 0;
    for (double v : logits[t]) mx = std::max(mx, v);
    for (double v : logits[t]) s += std::exp(v - mx);
    nll.push_back(mx + std::log(s) - logits[t][tokens[t + 1]]);
  }
  return nll;
}

}  // namespace ls::test
