// An independent reference forward for tests: double precision, the whole
// sequence at once, no KV cache, no chunking, no rotated copies. Each attention
// score is computed from the relative angle r·θ'_i directly:
//   Σ_pairs cos(rθ')(q_a k_a + q_b k_b) + sin(rθ')(q_a k_b − q_b k_a)
// with r = m - j, or the remapped distance of docs/methods.md §2 written out here
// (not taken from core/position). Tables θ'_i, the attention factor and ALiBi
// slopes come from core/position, which is checked against golden values.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
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

// One attention layer's heads, as the reference computes them.
struct RefHeads {
  int n_heads, n_kv_heads, head_dim, rot_dim;
  PairLayout layout;
  double qk_scale, softcap, train_len;
  int local_window;  // > 0: only keys m - j < local_window (local layers)
  const float* sinks = nullptr;  // (n_heads) gpt-oss's sink logits: a softmax term with no value; null: none
};

// Attention outputs (n, n_heads·head_dim) of the queries from row m_from on (rows
// before it stay 0), q (n, n_heads·hd) and k, v (n, n_kv_heads·hd) at positions
// 0 … n-1. The first rot_dim dims of a head rotate by θ' of `tab` (none when its
// table is empty), times the attention factor on cos and sin; `slopes` (n_heads)
// are ALiBi's, or empty. cos/sin are taken once per distinct remapped distance.
using RefMat = std::vector<std::vector<double>>;
inline RefMat ref_attention(const RefMat& q, const RefMat& k, const RefMat& v, const RefHeads& g, const MethodParams& p,
                            const RopeTable& tab, const std::vector<double>& slopes, int m_from = 0) {
  const int n = (int)q.size(), H = g.n_heads, hd = g.head_dim, group = H / g.n_kv_heads;
  const int rd = tab.inv_freq.empty() ? 0 : g.rot_dim, half = rd / 2;
  const double af2 = tab.attention_factor * tab.attention_factor;
  RefMat att(n, std::vector<double>((size_t)H * hd, 0.0));
  std::map<double, std::vector<double>> angles;  // r → cos, sin of r·θ'_i
  auto cos_sin = [&](double r) -> const std::vector<double>& {
    auto it = angles.find(r);
    if (it != angles.end()) return it->second;
    std::vector<double> cs(2 * half);
    for (int i = 0; i < half; ++i) {
      cs[2 * i] = std::cos(r * tab.inv_freq[i]);
      cs[2 * i + 1] = std::sin(r * tab.inv_freq[i]);
    }
    return angles.emplace(r, std::move(cs)).first->second;
  };
  std::vector<double> s((size_t)H * n);
  for (int m = m_from; m < n; ++m) {
    const double logn = p.logn ? std::max(1.0, std::log(m + 1.0) / std::log(g.train_len)) : 1.0;
    std::fill(s.begin(), s.end(), -INFINITY);
    for (int j = 0; j <= m; ++j) {
      if (!ref_visible(p, m, j) || (g.local_window > 0 && m - j >= g.local_window)) continue;
      const std::vector<double>& cs = cos_sin(ref_remapped_distance(p, m, j));
      for (int h = 0; h < H; ++h) {
        const double* qm = &q[m][(size_t)h * hd];
        const double* kj = &k[j][(size_t)(h / group) * hd];
        double rot = 0, pass = 0;
        for (int i = 0; i < half; ++i) {
          const int a = g.layout == PairLayout::Interleaved ? 2 * i : i;
          const int b = g.layout == PairLayout::Interleaved ? 2 * i + 1 : i + half;
          rot += cs[2 * i] * (qm[a] * kj[a] + qm[b] * kj[b]) + cs[2 * i + 1] * (qm[a] * kj[b] - qm[b] * kj[a]);
        }
        for (int i = rd; i < hd; ++i) pass += qm[i] * kj[i];
        double sc = (rot * af2 + pass) * logn * g.qk_scale;
        if (g.softcap > 0) sc = g.softcap * std::tanh(sc / g.softcap);
        s[(size_t)h * n + j] = sc - (slopes.empty() ? 0.0 : slopes[h] * (m - j));
      }
    }
    for (int h = 0; h < H; ++h) {
      double* sh = &s[(size_t)h * n];
      double mx = g.sinks ? (double)g.sinks[h] : -INFINITY;
      for (int j = 0; j <= m; ++j) mx = std::max(mx, sh[j]);
      double sum = g.sinks ? std::exp((double)g.sinks[h] - mx) : 0.0;
      for (int j = 0; j <= m; ++j) sum += (sh[j] = std::isinf(sh[j]) ? 0.0 : std::exp(sh[j] - mx));
      for (int j = 0; j <= m; ++j)
        for (int i = 0; i < hd; ++i) att[m][(size_t)h * hd + i] += sh[j] / sum * v[j][(size_t)(h / group) * hd + i];
    }
  }
  return att;
}

// Logits (n, vocab) for tokens at positions 0 … n-1; dynamic methods see n.
inline std::vector<std::vector<double>> reference_logits(const Model& model, const std::vector<int>& tokens,
                                                         const MethodParams& p) {
  const ModelConfig& c = model.config;
  const ModelWeights& W = model.weights;
  const int n = (int)tokens.size(), D = c.dim, hd = c.head_dim, H = c.n_heads, KV = c.n_kv_heads;
  const int rd = c.rot_dim, hid = c.hidden_dim;
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
  const BlockDesc& blk = c.block;
  if (blk.embed_scale)
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
    // OLMoE: one RMSNorm over each row's whole q (and k) projection.
    auto full_norm = [&](Mat& xs, const float* w) {
      for (auto& row : xs) {
        double ss = 0;
        for (double e : row) ss += e * e;
        const double inv = 1.0 / std::sqrt(ss / (double)row.size() + c.norm_eps);
        for (size_t i = 0; i < row.size(); ++i) row[i] *= inv * w[i];
      }
    };
    if (blk.qk_norm_full) {
      if (Lw.q_norm) full_norm(q, Lw.q_norm);
      if (Lw.k_norm) full_norm(k, Lw.k_norm);
    } else {
      if (Lw.q_norm) head_norm(q, Lw.q_norm, H);
      if (Lw.k_norm) head_norm(k, Lw.k_norm, KV);
    }
    // Local layers (keys m - j < window) as the config lists them (the config tests
    // check the lists: Gemma-2's even layers, Gemma-3's five in six), Gemma-3's with
    // plain RoPE at their own base.
    const bool local = l < (int)blk.layers.size() && blk.layers[l] == LayerKind::Local;
    const bool own_table = local && blk.local_rope_base > 0;
    const MethodParams plain;
    RopeTable local_tab;
    if (own_table) local_tab = rope_table(plain, PositionContext{rd, blk.local_rope_base, (double)c.train_len, (double)n});
    RefHeads heads{H, KV, hd, rd, c.layout, blk.attn_scale > 0 ? blk.attn_scale : 1.0 / std::sqrt((double)hd), blk.attn_softcap,
               (double)c.train_len, local ? blk.local_window : 0, Lw.attn_sinks};
    std::vector<double> slopes;
    for (int h = 0; alibi && h < H; ++h) slopes.push_back(alibi_slope(p, ctx, h + 1, H));
    // NoPE layers (SmolLM3): no rotation, no slopes, no remapping or log-n.
    const bool nope = l < (int)blk.layers.size() && blk.layers[l] == LayerKind::NoPosition;
    Mat att = nope ? ref_attention(q, k, v, heads, plain, RopeTable{}, {})
                   : ref_attention(q, k, v, heads, own_table ? plain : p, own_table ? local_tab : tab, slopes);
    Mat o = linear(att, Lw.wo, Lw.bo, D);
    if (Lw.post_attn_norm) o = norm(o, Lw.post_attn_norm, nullptr);
    // GPT-NeoX's parallel residual: both blocks read the same x, through their own
    // norms; a block without a feed-forward norm (Phi-2) reuses the attention's xn.
    const bool parallel = blk.residual != Residual::Sequential;
    if (parallel && Lw.ffn_norm) xn = norm(x, Lw.ffn_norm, Lw.ffn_norm_b);
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < D; ++i) x[t][i] += o[t][i];
    if (!parallel) xn = norm(x, Lw.ffn_norm, Lw.ffn_norm_b);
    if (blk.moe.n_experts > 0) {
      // Mixture of experts, token by token: softmax over the router's logits, the k
      // largest probabilities (the lower index first on ties), renormalised when the
      // family says so; each chosen expert's SwiGLU scaled by its weight; the shared
      // expert scaled by the sigmoid of its gate (Qwen2-MoE).
      const MoeDesc& moe = blk.moe;
      const int E = moe.n_experts;
      Mat logits = linear(xn, Lw.router, Lw.router_b, E);
      Mat out(n, std::vector<double>(D, 0.0));
      // gpt-oss: biases, and the clamped GLU (u + 1)·g·σ(1.702·g), g = min(gate, lim), u = clamp(up, ±lim).
      auto swiglu_ffn = [&](const Mat& in, const Matrix& g, const Matrix& u, const Matrix& dn, int width,
                            const float* gb = nullptr, const float* ub = nullptr, const float* db = nullptr) {
        Mat gm = linear(in, g, gb, width), um = linear(in, u, ub, width);
        const double lim = moe.swiglu_limit;
        for (size_t t = 0; t < gm.size(); ++t)
          for (int i = 0; i < width; ++i) {
            double a = gm[t][i], b2 = um[t][i];
            if (lim > 0) {
              a = std::min(a, lim);
              b2 = std::min(std::max(b2, -lim), lim);
              gm[t][i] = (b2 + 1) * a / (1 + std::exp(-1.702 * a));
            } else {
              gm[t][i] = a / (1 + std::exp(-a)) * b2;
            }
          }
        return linear(gm, dn, db, D);
      };
      for (int t = 0; t < n; ++t) {
        std::vector<double> pr(E);
        double mx = -INFINITY, z = 0;
        for (int e = 0; e < E; ++e) mx = std::max(mx, logits[t][e]);
        for (int e = 0; e < E; ++e) z += pr[e] = std::exp(logits[t][e] - mx);
        for (double& pe : pr) pe /= z;
        std::vector<int> chosen;
        std::vector<bool> taken(E, false);
        for (int i = 0; i < moe.n_used; ++i) {
          int best = -1;
          for (int e = 0; e < E; ++e)
            if (!taken[e] && (best < 0 || pr[e] > pr[best])) best = e;
          taken[best] = true;
          chosen.push_back(best);
        }
        double top = 0;
        for (int e : chosen) top += pr[e];
        const Mat row{xn[t]};
        for (int e : chosen) {
          const double wgt = moe.renormalise ? pr[e] / top : pr[e];
          const bool biased = !Lw.exp_gate_b.empty();
          const Mat y = swiglu_ffn(row, Lw.exp_gate[e], Lw.exp_up[e], Lw.exp_down[e], hid,
                                   biased ? Lw.exp_gate_b[e] : nullptr, biased ? Lw.exp_up_b[e] : nullptr,
                                   biased ? Lw.exp_down_b[e] : nullptr);
          for (int i = 0; i < D; ++i) out[t][i] += wgt * y[0][i];
        }
      }
      if (moe.shared_hidden > 0) {
        const Mat y = swiglu_ffn(xn, Lw.sh_gate, Lw.sh_up, Lw.sh_down, moe.shared_hidden);
        const Mat gl = linear(xn, Lw.sh_router, nullptr, 1);
        for (int t = 0; t < n; ++t)
          for (int i = 0; i < D; ++i) out[t][i] += y[t][i] / (1 + std::exp(-gl[t][0]));
      }
      for (int t = 0; t < n; ++t)
        for (int i = 0; i < D; ++i) x[t][i] += out[t][i];
      continue;
    }
    Mat h1;
    if (Lw.w_gate) {  // gated: LLaMA, Gemma, StableLM
      Mat g = linear(xn, Lw.w_gate, nullptr, hid), u = linear(xn, Lw.w_up, nullptr, hid);
      for (int t = 0; t < n; ++t)
        for (int i = 0; i < hid; ++i) {
          const double e = g[t][i];
          g[t][i] = (blk.ffn == FeedForward::GeGlu ? 0.5 * e * (1 + std::tanh(0.7978845608028654 * (e + 0.044715 * e * e * e)))
                                                   : e / (1 + std::exp(-e))) *
                    u[t][i];
        }
      h1 = g;
    } else {
      h1 = linear(xn, Lw.w_up, Lw.b_up, hid);
      for (auto& row : h1)
        for (auto& e : row)
          e = blk.ffn == FeedForward::Gelu ? 0.5 * e * std::erfc(-e / std::sqrt(2.0))  // x·Φ(x)
                                           : 0.5 * e * (1 + std::tanh(0.7978845608028654 * e * (1 + 0.044715 * e * e)));
    }
    Mat dn = linear(h1, Lw.w_down, Lw.b_down, D);
    if (Lw.post_ffn_norm) dn = norm(dn, Lw.post_ffn_norm, nullptr);
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < D; ++i) x[t][i] += dn[t][i];
  }
  x = norm(x, W.out_norm, W.out_norm_b);
  Mat logits = linear(x, W.output, W.output_b, c.vocab_size);
  if (blk.final_softcap > 0)
    for (auto& row : logits)
      for (auto& e : row) e = blk.final_softcap * std::tanh(e / blk.final_softcap);
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
