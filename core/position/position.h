// LongScope position math: every method of docs/methods.md sections 1-3 as pure,
// inline functions over typed parameter structs. This is the ONE place the
// formulas live; the CPU engine, the CUDA kernels (gpu/) and every plot call it.
//
// Usable from host and device code: under nvcc LS_HD expands to
// __host__ __device__. No exceptions, no allocation, no std:: containers here.
//
// Units: positions and windows in tokens; angular speeds (inv_freq, θ) in
// radians per token; wavelengths in tokens. Pair index i is 0 … d/2-1.
#pragma once

#include <math.h>

#include <compare>

// A translation unit built for another instruction set (core/cpu/flash_*.cpp)
// defines LS_HD as `static inline` first, so its copies never replace the
// baseline ones at link time.
#ifndef LS_HD
#if defined(__CUDACC__)
#define LS_HD __host__ __device__ inline
#else
#define LS_HD inline
#endif
#endif

namespace ls {

// π, spelled out so the header needs no _USE_MATH_DEFINES / GNU extensions.
constexpr double kPi = 3.14159265358979323846;

// Which dimensions of a head form rotary pair i: (x[2i], x[2i+1]) in Meta's, llama2.c's
// and GGUF's LLaMA checkpoints, (x[i], x[i+d/2]) in Hugging Face's and GPT-NeoX's
// (docs/methods.md, "Pair layout"); core/position/rope_apply.h maps i to the two.
enum class PairLayout { Interleaved, HalfSplit };

// Every method LongScope implements. The order is the order of `longscope-cli methods`.
enum class Method : int {
  Rope,            // RoFormer
  Linear,          // Position Interpolation ([ext-notes] §二, Chen et al. 2023)
  Ntk,             // NTK-aware fixed base change ([ext-notes] §三)
  DynamicNtk,      // [ext-notes] §四, HF "dynamic"
  DynamicLinear,   // [ext-notes] §四
  NtkByParts,      // [yarn-notes] form (rotations r = L/λ, no floor/ceil)
  Yarn,            // HF "yarn" form (correction range with floor/ceil)
  DynamicYarn,     // YaRN paper: s = max(1, n/L)
  Llama3,          // HF "llama3" wavelength bands
  LongRope,        // HF "longrope": per-pair factors from a model's config
  Rerope,          // [rerope]
  LeakyRerope,     // [rerope]
  SelfExtend,      // Jin et al. 2024 (LongLM), integer group offset
  SlidingWindow,   // window W plus S attention sinks
  Alibi,           // Press et al. 2022, BLOOM build_alibi_tensor
  AlibiLinear,     // [alibi-interp], interpolation
  NtkAlibi,        // [alibi-interp]
  DynamicNtkAlibi, // [alibi-interp]
  Count
};

// Key cache for methods whose table depends on the current length n ([ext-notes] §五).
enum class KeyCache : int {
  Rotated, // keys rotated once, with the table of the step that appended them (HF)
  Raw      // keys cached before RoPE, all re-rotated with the current table ([ext-notes]' consistent form)
};

// RoPE-family frequency scaling parameters (docs/methods.md §1).
struct RopeScaling {
  double factor = 1.0;           // s: target length / L
  double alpha = 1.0;            // NTK α; ntk-by-parts lower rotation bound α
  double beta = 32.0;            // ntk-by-parts upper rotation bound β
  double beta_fast = 32.0;       // yarn β_fast (rotations)
  double beta_slow = 1.0;        // yarn β_slow (rotations)
  double attention_factor = 0.0; // yarn: multiplies cos and sin; 0 = derived (0.1·ln s + 1)
  double low_freq_factor = 1.0;  // llama3
  double high_freq_factor = 4.0; // llama3
  int truncate = 1;              // yarn: floor/ceil the correction range (HF default)
  // longrope: per-pair divisors (d/2 each) from the model's config, short for n ≤ L,
  // long beyond; owned by the model (null: no model attached, plain θ).
  const double* longrope_short = nullptr;
  const double* longrope_long = nullptr;
  auto operator<=>(const RopeScaling&) const = default;  // typed keys: equal parameters, equal method
};

// Score-level remapping and masking parameters (docs/methods.md §2, sliding window).
struct RelposRemap {
  double window = 0.0; // w (tokens): rerope, leaky-rerope, self-extend w_n, sliding-window W
  double k = 1.0;      // leaky-rerope: slope 1/k beyond the window
  int group = 1;       // self-extend G
  int sinks = 0;       // sliding-window S: first S tokens always visible
  int float_offset = 0;  // self-extend: 1 = group offset w - w/G in float (LongLM's other code path)
  auto operator<=>(const RelposRemap&) const = default;  // typed keys: equal parameters, equal method
};

// ALiBi-family parameters (docs/methods.md §3).
struct AlibiScaling {
  double a = 1.0;     // alibi-linear / ntk-alibi scale
  double a0 = 1.0;    // dynamic-ntk-alibi rate
  int seed_exact = 0; // ntk-alibi: 1 = [alibi-interp]'s code (extra slopes unscaled)
  auto operator<=>(const AlibiScaling&) const = default;  // typed keys: equal parameters, equal method
};

// One method with its parameters: what a spec string such as "yarn:factor=4" becomes.
struct MethodParams {
  Method method = Method::Rope;
  RopeScaling rope;
  RelposRemap remap;
  AlibiScaling alibi;
  int logn = 0;                      // multiply query m by max(1, ln(m+1)/ln L) ([rerope])
  KeyCache cache = KeyCache::Rotated; // dynamic methods only
  auto operator<=>(const MethodParams&) const = default;  // typed keys: equal parameters, equal method
};

// The model geometry and the moment a table is evaluated at.
struct PositionContext {
  int rot_dim = 0;          // d: rotary dimension (head_dim × partial_rotary_factor)
  double base = 10000.0;    // b: rope_theta
  double train_len = 2048;  // L: original training context (tokens)
  double cur_len = 2048;    // n: current total sequence length (cached + new tokens)
};

// ---------------------------------------------------------------- families

LS_HD bool method_is_alibi(Method m) {
  return m == Method::Alibi || m == Method::AlibiLinear || m == Method::NtkAlibi ||
         m == Method::DynamicNtkAlibi;
}
LS_HD bool method_is_remap(Method m) {
  return m == Method::Rerope || m == Method::LeakyRerope || m == Method::SelfExtend;
}
LS_HD bool method_is_dynamic(Method m) {
  return m == Method::DynamicNtk || m == Method::DynamicLinear || m == Method::DynamicYarn ||
         m == Method::DynamicNtkAlibi || m == Method::LongRope;
}

// ---------------------------------------------------------------- RoPE family (§1)

// θ_i = b^(-2i/d), radians per token.
LS_HD double rope_theta(int i, int d, double base) { return pow(base, -2.0 * i / d); }

// λ = 2π/θ, tokens.
LS_HD double rope_wavelength(double inv_freq) { return 2.0 * kPi / inv_freq; }

// NTK-aware base change b' = b·α^(d/(d-2)) ([ext-notes] §三); α = 1 leaves b unchanged.
LS_HD double rope_ntk_base(double base, double alpha, int d) {
  return base * pow(alpha, (double)d / (d - 2.0));
}

// Dynamic NTK's α at length n: (α·n/L) - (α-1) for n > L, else 1 (HF "dynamic";
// the guard keeps the base unchanged up to L, docs/methods.md §7).
LS_HD double rope_dynamic_ntk_alpha(double alpha, double n, double L) {
  return n > L ? alpha * n / L - (alpha - 1.0) : 1.0;
}

// Scale of the dynamic methods: s = max(1, n/L).
LS_HD double rope_dynamic_scale(double n, double L) { return n > L ? n / L : 1.0; }

// YaRN correction dimension for a number of rotations r over L (HF
// _compute_yarn_parameters.find_correction_dim): d·ln(L/(2π·r)) / (2·ln b).
LS_HD double rope_yarn_correction_dim(double rotations, int d, double base, double L) {
  return d * log(L / (rotations * 2.0 * kPi)) / (2.0 * log(base));
}

// YaRN ramp (HF form): ramp_i = clamp((i - low)/(high - low), 0, 1).
// Extrapolation weight e_i = 1 - ramp_i; low/high from β_fast/β_slow.
LS_HD double rope_yarn_ramp(const RopeScaling& s, const PositionContext& g, int i) {
  double low = rope_yarn_correction_dim(s.beta_fast, g.rot_dim, g.base, g.train_len);
  double high = rope_yarn_correction_dim(s.beta_slow, g.rot_dim, g.base, g.train_len);
  if (s.truncate) {
    low = floor(low);
    high = ceil(high);
  }
  low = fmax(low, 0.0);
  high = fmin(high, (double)(g.rot_dim - 1));
  if (low == high) high += 0.001;
  double r = (i - low) / (high - low);
  return fmin(fmax(r, 0.0), 1.0);
}

// NTK-by-parts ramp γ_i in [yarn-notes]'s form: rotations r = L/λ_i;
// γ = 0 if r < α, 1 if r > β, linear between. γ = 1 keeps θ (extrapolate).
LS_HD double rope_by_parts_gamma(const RopeScaling& s, const PositionContext& g, int i) {
  double r = g.train_len / rope_wavelength(rope_theta(i, g.rot_dim, g.base));
  if (r < s.alpha) return 0.0;
  if (r > s.beta) return 1.0;
  return (r - s.alpha) / (s.beta - s.alpha);
}

// Blend of interpolated and extrapolated speed: (1-γ)·θ/s + γ·θ.
LS_HD double rope_blend(double theta, double s, double gamma) {
  return (1.0 - gamma) * theta / s + gamma * theta;
}

// Llama 3 wavelength bands (HF "llama3").
LS_HD double rope_llama3_inv_freq(const RopeScaling& s, const PositionContext& g, int i) {
  double theta = rope_theta(i, g.rot_dim, g.base);
  double lambda = rope_wavelength(theta);
  double low_wl = g.train_len / s.low_freq_factor;   // longer than this: interpolate
  double high_wl = g.train_len / s.high_freq_factor; // shorter than this: keep
  if (lambda < high_wl) return theta;
  if (lambda > low_wl) return theta / s.factor;
  double sigma = (g.train_len / lambda - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return rope_blend(theta, s.factor, sigma);
}

// YaRN's θ'_i for scale s (shared by yarn and dynamic-yarn).
LS_HD double rope_yarn_inv_freq(const RopeScaling& s, const PositionContext& g, int i, double scale) {
  double extrapolation = 1.0 - rope_yarn_ramp(s, g, i);
  return rope_blend(rope_theta(i, g.rot_dim, g.base), scale, extrapolation);
}

// θ'_i: the angular speed of pair i under method p at current length n (radians/token).
// Methods that do not rotate by a scaled table (remaps, sliding window) use plain θ_i.
LS_HD double rope_inv_freq(const MethodParams& p, const PositionContext& g, int i) {
  const RopeScaling& s = p.rope;
  const int d = g.rot_dim;
  switch (p.method) {
    case Method::Linear: return rope_theta(i, d, g.base) / s.factor;
    case Method::Ntk: return rope_theta(i, d, rope_ntk_base(g.base, s.alpha, d));
    case Method::DynamicNtk:
      return rope_theta(i, d, rope_ntk_base(g.base, rope_dynamic_ntk_alpha(s.alpha, g.cur_len, g.train_len), d));
    case Method::DynamicLinear: return rope_theta(i, d, g.base) / rope_dynamic_scale(g.cur_len, g.train_len);
    case Method::NtkByParts: return rope_blend(rope_theta(i, d, g.base), s.factor, rope_by_parts_gamma(s, g, i));
    case Method::Yarn: return rope_yarn_inv_freq(s, g, i, s.factor);
    case Method::DynamicYarn: return rope_yarn_inv_freq(s, g, i, rope_dynamic_scale(g.cur_len, g.train_len));
    case Method::Llama3: return rope_llama3_inv_freq(s, g, i);
    case Method::LongRope: {  // HF _compute_longrope_parameters: θ_i / ext_i
      const double* ext = g.cur_len > g.train_len ? s.longrope_long : s.longrope_short;
      return ext ? rope_theta(i, d, g.base) / ext[i] : rope_theta(i, d, g.base);
    }
    default: return rope_theta(i, d, g.base);
  }
}

// YaRN's default attention factor 0.1·mscale·ln(s) + 1 for s > 1 (HF get_mscale;
// mscale = 1 but for DeepSeek-style configs).
LS_HD double rope_yarn_mscale(double scale, double mscale = 1.0) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

// Factor multiplying cos and sin (logits scale by its square). An explicit
// attention_factor is honoured as given (docs/methods.md §7).
LS_HD double rope_attention_factor(const MethodParams& p, const PositionContext& g) {
  if (p.method == Method::Yarn)
    return p.rope.attention_factor > 0.0 ? p.rope.attention_factor : rope_yarn_mscale(p.rope.factor);
  if (p.method == Method::DynamicYarn)
    return p.rope.attention_factor > 0.0 ? p.rope.attention_factor
                                         : rope_yarn_mscale(rope_dynamic_scale(g.cur_len, g.train_len));
  if (p.method == Method::LongRope) {  // sqrt(1 + ln s / ln L), s = max_position_embeddings / L
    if (p.rope.attention_factor > 0.0) return p.rope.attention_factor;
    return p.rope.factor <= 1.0 ? 1.0 : sqrt(1.0 + log(p.rope.factor) / log(g.train_len));
  }
  return 1.0;
}

// log-n query scale at absolute position m: max(1, ln(m+1)/ln L) ([rerope], bojone/rerope).
LS_HD double logn_scale(double m, double L) {
  double v = log(m + 1.0) / log(L);
  return v > 1.0 ? v : 1.0;
}

// ---------------------------------------------------------------- remaps and masks (§2)

// A remap splits keys into a near band (m - j < w: ordinary positions m, j) and a
// far band, where the query is rotated to far_query_pos(m) and the key to
// far_key_pos(j); the relative position there is their difference. Both bands
// need only O(n·d) rotated copies, never two N×N score matrices.
LS_HD bool remap_is_near(const MethodParams& p, double distance) {
  return !method_is_remap(p.method) || distance < p.remap.window;
}

// Query position in the far band ([rerope]; LongLM for self-extend).
LS_HD double remap_far_query_pos(const MethodParams& p, double m) {
  const RelposRemap& r = p.remap;
  switch (p.method) {
    case Method::Rerope: return r.window;                          // (R^w q)·k
    case Method::LeakyRerope: return (m - r.window) / r.k + r.window; // (R^{(m-w)/k+w} q)
    case Method::SelfExtend:  // LongLM: integer offset w - ⌊w/G⌋ by default, w - w/G as the float variant
      return floor(m / r.group) + r.window - (r.float_offset ? r.window / r.group : floor(r.window / r.group));
    default: return m;
  }
}

// Key position in the far band.
LS_HD double remap_far_key_pos(const MethodParams& p, double j) {
  const RelposRemap& r = p.remap;
  switch (p.method) {
    case Method::Rerope: return 0.0;              // raw key
    case Method::LeakyRerope: return j / r.k;     // (R^{j/k} k)
    case Method::SelfExtend: return floor(j / r.group);
    default: return j;
  }
}

// Whether key j is visible to query m (causal, plus the sliding window with sinks).
LS_HD bool position_visible(const MethodParams& p, long long m, long long j) {
  if (j > m) return false;
  if (p.method == Method::SlidingWindow)
    return (double)(m - j) < p.remap.window || j < p.remap.sinks;
  return true;
}

// Position-space scale of the interpolation methods: r = (m - j)·scale.
// Position interpolation compresses positions ([ext-notes] §二, [rerope]'s matrix;
// [alibi-interp] for ALiBi); methods that rescale per pair or per head keep m - j.
LS_HD double relpos_interpolation_scale(const MethodParams& p, const PositionContext& g) {
  switch (p.method) {
    case Method::Linear: return 1.0 / p.rope.factor;
    case Method::DynamicLinear: return 1.0 / rope_dynamic_scale(g.cur_len, g.train_len);
    case Method::AlibiLinear: return 1.0 / p.alibi.a;
    default: return 1.0;
  }
}

// Effective relative position r(m, j) for a visible key j ≤ m (tokens).
LS_HD double relpos(const MethodParams& p, const PositionContext& g, long long m, long long j) {
  double dist = (double)(m - j);
  if (!remap_is_near(p, dist))
    return remap_far_query_pos(p, (double)m) - remap_far_key_pos(p, (double)j);
  return dist * relpos_interpolation_scale(p, g);
}

// ---------------------------------------------------------------- ALiBi family (§3)

// Largest power of two ≤ H.
LS_HD int alibi_closest_power_of_two(int H) {
  int p = 1;
  while (p * 2 <= H) p *= 2;
  return p;
}

// Plain ALiBi slope of head h (1-based) among H heads, with the BLOOM rule for
// non-power-of-two H: first P = 2^⌊log2 H⌋ slopes (2^(-8/P))^h, the rest
// (2^(-4/P))^(2k-1), k = 1 … H-P (BLOOM build_alibi_tensor).
LS_HD double alibi_base_slope(int h, int H) {
  int P = alibi_closest_power_of_two(H);
  if (h <= P) return pow(2.0, -8.0 * h / P);
  int k = h - P;
  return pow(2.0, -4.0 * (2 * k - 1) / P);
}

// Largest and smallest plain slope among H heads.
LS_HD double alibi_max_slope(int H) {
  double m = 0.0;
  for (int h = 1; h <= H; ++h) m = fmax(m, alibi_base_slope(h, H));
  return m;
}
LS_HD double alibi_min_slope(int H) {
  double m = 1.0;
  for (int h = 1; h <= H; ++h) m = fmin(m, alibi_base_slope(h, H));
  return m;
}

// NTK-ALiBi exponent e_h of head h: where its slope sits on the log-slope scale,
// 0 for the largest slope, 1 for the smallest (LongScope default), or [alibi-interp]'s
// (h-1)/(H-1) for the first P heads and 0 for the extra ones (seed_exact=1).
LS_HD double alibi_ntk_exponent(const AlibiScaling& s, int h, int H) {
  if (H <= 1) return 0.0;
  if (s.seed_exact) return h <= alibi_closest_power_of_two(H) ? (h - 1.0) / (H - 1.0) : 0.0;
  double hi = alibi_max_slope(H), lo = alibi_min_slope(H);
  return log(hi / alibi_base_slope(h, H)) / log(hi / lo);
}

// Dynamic NTK-ALiBi's a = max(a0·n/L, 1) ([alibi-interp]).
LS_HD double alibi_dynamic_a(double a0, double n, double L) {
  double a = a0 * n / L;
  return a > 1.0 ? a : 1.0;
}

// Slope m_h of head h (1-based) under method p; logits get -m_h·(m - j).
// Non-ALiBi methods have no slope (0).
LS_HD double alibi_slope(const MethodParams& p, const PositionContext& g, int h, int H) {
  double base = alibi_base_slope(h, H);
  switch (p.method) {
    case Method::Alibi: return base;
    case Method::AlibiLinear: return base / p.alibi.a;
    case Method::NtkAlibi: return base * pow(p.alibi.a, -alibi_ntk_exponent(p.alibi, h, H));
    case Method::DynamicNtkAlibi:
      return base * pow(alibi_dynamic_a(p.alibi.a0, g.cur_len, g.train_len), -alibi_ntk_exponent(p.alibi, h, H));
    default: return 0.0;
  }
}

}  // namespace ls
