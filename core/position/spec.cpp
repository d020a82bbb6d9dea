#include "core/position/spec.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

namespace ls {
namespace {

// ---------------------------------------------------------------- parameter kinds

// How one key is read, checked and stored.
struct KeyRule {
  std::string accepted;  // human description of accepted values
  ParamKind kind = ParamKind::Real;
  double lo = 0, hi = 0;
  std::vector<std::string> choices;
  std::string special;
  // Sets the value in p; returns an error message or "" on success.
  std::function<std::string(std::string_view, MethodParams&)> set;
  std::function<std::string(MethodParams)> get;  // by value: POD, cheap  // canonical text of the current value
};

std::string fmt_num(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

// Strict number parse: whole string, finite.
bool parse_double(std::string_view text, double& out) {
  std::string s(text);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno == 0 && std::isfinite(out);
}

using RefFn = double& (*)(MethodParams&);
using IntRefFn = int& (*)(MethodParams&);

// A real parameter in [lo, hi]. Every formula of core/position stays finite over
// that closed range (tests/position/test_spec.cpp checks each method at both ends).
KeyRule real_key(RefFn ref, double lo, double hi) {
  KeyRule r;
  r.kind = ParamKind::Real, r.lo = lo, r.hi = hi;
  r.accepted = "a number in [" + fmt_num(lo) + ", " + fmt_num(hi) + "]";
  r.set = [ref, lo, hi, acc = r.accepted](std::string_view v, MethodParams& p) -> std::string {
    double x;
    if (!parse_double(v, x) || !(x >= lo) || !(x <= hi)) return acc;
    ref(p) = x;
    return "";
  };
  r.get = [ref](MethodParams p) { return fmt_num(ref(p)); };
  return r;
}

KeyRule int_key(IntRefFn ref, long lo, long hi) {
  KeyRule r;
  r.kind = ParamKind::Integer, r.lo = (double)lo, r.hi = (double)hi;
  r.accepted = "a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  r.set = [ref, lo, hi, acc = r.accepted](std::string_view v, MethodParams& p) -> std::string {
    double x;
    if (!parse_double(v, x) || x != std::floor(x) || x < lo || x > hi) return acc;
    ref(p) = (int)x;
    return "";
  };
  r.get = [ref](MethodParams p) { return std::to_string(ref(p)); };
  return r;
}

KeyRule bool_key(IntRefFn ref) {
  KeyRule r;
  r.kind = ParamKind::Flag, r.lo = 0, r.hi = 1;
  r.accepted = "0, 1, true or false";
  r.set = [ref, acc = r.accepted](std::string_view v, MethodParams& p) -> std::string {
    if (v == "1" || v == "true") ref(p) = 1;
    else if (v == "0" || v == "false") ref(p) = 0;
    else return acc;
    return "";
  };
  r.get = [ref](MethodParams p) { return std::to_string(ref(p)); };
  return r;
}

// The rules for every key any method accepts.
const std::map<std::string, KeyRule>& key_rules() {
  static const std::map<std::string, KeyRule> rules = [] {
    constexpr double kSmall = 1e-3;  // below this, ntk's α^(d/(d-2)) and alibi's m/a over- or underflow
    constexpr double kBig = 1e6;
    constexpr long kMaxTokens = 1L << 30;
    std::map<std::string, KeyRule> m;
    m["factor"] = real_key([](MethodParams& p) -> double& { return p.rope.factor; }, kSmall, kBig);
    m["alpha"] = real_key([](MethodParams& p) -> double& { return p.rope.alpha; }, kSmall, kBig);
    m["beta"] = real_key([](MethodParams& p) -> double& { return p.rope.beta; }, kSmall, kBig);
    m["beta_fast"] = real_key([](MethodParams& p) -> double& { return p.rope.beta_fast; }, kSmall, kBig);
    m["beta_slow"] = real_key([](MethodParams& p) -> double& { return p.rope.beta_slow; }, kSmall, kBig);
    m["low_freq_factor"] = real_key([](MethodParams& p) -> double& { return p.rope.low_freq_factor; }, kSmall, kBig);
    m["high_freq_factor"] = real_key([](MethodParams& p) -> double& { return p.rope.high_freq_factor; }, kSmall, kBig);
    m["k"] = real_key([](MethodParams& p) -> double& { return p.remap.k; }, kSmall, kBig);
    m["a"] = real_key([](MethodParams& p) -> double& { return p.alibi.a; }, kSmall, kBig);
    m["a0"] = real_key([](MethodParams& p) -> double& { return p.alibi.a0; }, kSmall, kBig);
    m["group"] = int_key([](MethodParams& p) -> int& { return p.remap.group; }, 1, 1L << 20);
    m["sinks"] = int_key([](MethodParams& p) -> int& { return p.remap.sinks; }, 0, kMaxTokens);
    m["logn"] = bool_key([](MethodParams& p) -> int& { return p.logn; });
    m["seed_exact"] = bool_key([](MethodParams& p) -> int& { return p.alibi.seed_exact; });
    m["truncate"] = bool_key([](MethodParams& p) -> int& { return p.rope.truncate; });
    m["float_offset"] = bool_key([](MethodParams& p) -> int& { return p.remap.float_offset; });

    // window: a whole number of tokens stored as double.
    KeyRule w;
    w.kind = ParamKind::Integer, w.lo = 1, w.hi = (double)kMaxTokens;
    w.accepted = "a whole number of tokens in [1, " + std::to_string(kMaxTokens) + "]";
    w.set = [acc = w.accepted](std::string_view v, MethodParams& p) -> std::string {
      double x;
      if (!parse_double(v, x) || x != std::floor(x) || x < 1 || x > (double)kMaxTokens) return acc;
      p.remap.window = x;
      return "";
    };
    w.get = [](const MethodParams& p) { return fmt_num(p.remap.window); };
    m["window"] = w;

    KeyRule af;
    af.kind = ParamKind::Real, af.lo = 0, af.hi = 100, af.special = "auto";
    af.accepted = "auto or a number in (0, 100]";
    af.set = [acc = af.accepted](std::string_view v, MethodParams& p) -> std::string {
      if (v == "auto") { p.rope.attention_factor = 0; return ""; }
      double x;
      if (!parse_double(v, x) || !(x > 0) || x > 100) return acc;
      p.rope.attention_factor = x;
      return "";
    };
    af.get = [](const MethodParams& p) {
      return p.rope.attention_factor > 0 ? fmt_num(p.rope.attention_factor) : std::string("auto");
    };
    m["attention_factor"] = af;

    KeyRule cache;
    cache.kind = ParamKind::Choice, cache.choices = {"rotated", "raw"};
    cache.accepted = "rotated or raw";
    cache.set = [acc = cache.accepted](std::string_view v, MethodParams& p) -> std::string {
      if (v == "rotated") p.cache = KeyCache::Rotated;
      else if (v == "raw") p.cache = KeyCache::Raw;
      else return acc;
      return "";
    };
    cache.get = [](const MethodParams& p) { return std::string(p.cache == KeyCache::Raw ? "raw" : "rotated"); };
    m["cache"] = cache;
    return m;
  }();
  return rules;
}

// ---------------------------------------------------------------- the registry

ParamInfo P(const std::string& key, const std::string& def, const std::string& meaning) {
  const KeyRule& r = key_rules().at(key);
  return ParamInfo{key, def, r.accepted, meaning, r.kind, r.lo, r.hi, r.choices, r.special};
}

std::vector<MethodInfo> build_registry() {
  const ParamInfo logn = P("logn", "0", "multiply query m by max(1, ln(m+1)/ln L) ([rerope])");
  const ParamInfo cache = P("cache", "rotated", "rotated: keys keep the table of their step (HF); raw: keys cached before RoPE, re-rotated each step ([ext-notes] §五)");
  const ParamInfo yarn_bf = P("beta_fast", "32", "rotations above which a pair is kept (extrapolated)");
  const ParamInfo yarn_bs = P("beta_slow", "1", "rotations below which a pair is interpolated");
  const ParamInfo yarn_af = P("attention_factor", "auto", "multiplies cos and sin; auto = 0.1·ln(s) + 1");
  const ParamInfo yarn_tr = P("truncate", "1", "floor/ceil the correction range (HF default)");
  std::vector<MethodInfo> r;
  r.push_back({Method::Rope, "rope", "rope", "θ_i = b^(-2i/d)", "RoFormer (Su et al. 2021)", {logn}});
  r.push_back({Method::Linear, "linear", "rope", "θ'_i = θ_i / s", "[ext-notes] §二; Chen et al. 2023; HF rope_type linear",
               {P("factor", "", "scale s = target length / L"), logn}});
  r.push_back({Method::Ntk, "ntk", "rope", "b' = b·α^(d/(d-2))", "[ext-notes] §三",
               {P("alpha", "", "NTK α ([ext-notes] uses 8)"), logn}});
  r.push_back({Method::DynamicNtk, "dynamic-ntk", "rope", "n > L: b' = b·((α·n/L) - (α-1))^(d/(d-2))",
               "[ext-notes] §四; HF rope_type dynamic", {P("alpha", "1", "NTK α"), cache, logn}});
  r.push_back({Method::DynamicLinear, "dynamic-linear", "rope", "θ'_i = θ_i / max(1, n/L)", "[ext-notes] §四", {cache, logn}});
  r.push_back({Method::NtkByParts, "ntk-by-parts", "rope",
               "r = L/λ_i; γ = 0 (r<α), 1 (r>β), (r-α)/(β-α); θ' = (1-γ)θ/s + γθ", "[yarn-notes]",
               {P("factor", "", "scale s"), P("alpha", "1", "rotation bound α"), P("beta", "32", "rotation bound β"), logn}});
  r.push_back({Method::Yarn, "yarn", "rope", "HF ramp over [floor(corr(β_fast)), ceil(corr(β_slow))]; factor 0.1·ln s + 1",
               "[yarn-notes]; YaRN (Peng et al. 2023); HF rope_type yarn",
               {P("factor", "", "scale s"), yarn_bf, yarn_bs, yarn_af, yarn_tr, logn}});
  r.push_back({Method::DynamicYarn, "dynamic-yarn", "rope", "yarn with s = max(1, n/L)", "YaRN (Peng et al. 2023)",
               {yarn_bf, yarn_bs, yarn_af, yarn_tr, cache, logn}});
  r.push_back({Method::Llama3, "llama3", "rope", "λ < L/hff: θ; λ > L/lff: θ/s; between: (1-σ)θ/s + σθ",
               "HF rope_type llama3",
               {P("factor", "8", "scale s"), P("low_freq_factor", "1", "low_ff"), P("high_freq_factor", "4", "high_ff"), logn}});
  r.push_back({Method::LongRope, "longrope", "rope",
               "θ'_i = θ_i / ext_i (short_factor for n ≤ L, long_factor beyond); factor sqrt(1 + ln s / ln L)",
               "LongRoPE (Ding et al. 2024); HF rope_type longrope; the factor lists come from the model's config",
               {P("factor", "1", "s = max_position_embeddings / L (sets the attention factor)"), yarn_af, cache, logn}});
  r.push_back({Method::Rerope, "rerope", "remap", "r(m,j) = min(m-j, w)", "[rerope] (bojone/rerope)",
               {P("window", "", "w, tokens ([rerope]: L/4 … L/2)"), logn}});
  r.push_back({Method::LeakyRerope, "leaky-rerope", "remap", "r = m-j (m-j < w), else w + (m-j-w)/k", "[rerope]",
               {P("window", "", "w, tokens"), P("k", "", "slope 1/k beyond w"), logn}});
  r.push_back({Method::SelfExtend, "self-extend", "remap",
               "r = m-j (m-j < w), else ⌊m/G⌋ - ⌊j/G⌋ + w - ⌊w/G⌋", "Jin et al. 2024 (LongLM)",
               {P("window", "", "neighbour window w_n, tokens"), P("group", "", "group size G"),
                P("float_offset", "0", "1: group offset w - w/G in float (LongLM's other code path)"), logn}});
  r.push_back({Method::SlidingWindow, "sliding-window", "mask", "key j visible if m-j < W or j < S; r = m-j",
               "Beltagy et al. 2020; attention sinks (Xiao et al. 2023)",
               {P("window", "", "W, tokens"), P("sinks", "4", "S first tokens always visible"), logn}});
  r.push_back({Method::Alibi, "alibi", "alibi", "m_h = 2^(-8h/H), BLOOM rule for non-power-of-two H",
               "Press et al. 2022; BLOOM build_alibi_tensor", {logn}});
  r.push_back({Method::AlibiLinear, "alibi-linear", "alibi", "m_h / a", "[alibi-interp]", {P("a", "", "interpolation factor"), logn}});
  r.push_back({Method::NtkAlibi, "ntk-alibi", "alibi",
               "m'_h = m_h·a^(-e_h), e_h = ln(m_max/m_h)/ln(m_max/m_min) (= (h-1)/(H-1) for power-of-two H)", "[alibi-interp]",
               {P("a", "", "NTK scale"), P("seed_exact", "0", "1: [alibi-interp]'s code (extra slopes unscaled)"), logn}});
  r.push_back({Method::DynamicNtkAlibi, "dynamic-ntk-alibi", "alibi", "ntk-alibi with a = max(a0·n/L, 1)", "[alibi-interp]",
               {P("a0", "1", "rate a0 ([alibi-interp]: 1 … 2)"), P("seed_exact", "0", "1: [alibi-interp]'s code"), logn}});
  // Plain-language explanations (shown as tooltips in the app and by `methods`).
  const std::map<Method, std::string> explain = {
      {Method::Rope, "Rotary position embedding as trained: each pair of dimensions turns by an angle that grows with "
                     "the distance between tokens. Beyond the training length L the model meets angles it never saw, "
                     "and its loss rises. Su et al., \"RoFormer\" (2021)."},
      {Method::Linear, "Position interpolation: divides every position by s, so n tokens look like n/s ≤ L. Keeps angles "
                       "in the trained range but crowds nearby tokens together; works best with a little fine-tuning. "
                       "Chen et al., \"Extending Context Window of Large Language Models via Positional Interpolation\" (2023)."},
      {Method::Ntk, "NTK-aware scaling: raises the rotary base so slow (long-wavelength) pairs are interpolated while fast "
                    "pairs, which encode word order, stay almost unchanged. Often works with no fine-tuning. From the "
                    "LocalLLaMA post \"NTK-Aware Scaled RoPE\" (bloc97, 2023) and Su Jianlin's \"Transformer upgrade road\" posts."},
      {Method::DynamicNtk, "Dynamic NTK: like NTK-aware, but the base grows only once the text is longer than L, so short "
                           "inputs run exactly as trained. Hugging Face's rope_type \"dynamic\" (emozilla, 2023)."},
      {Method::DynamicLinear, "Dynamic linear: position interpolation with s = n/L, applied only beyond L."},
      {Method::NtkByParts, "NTK-by-parts: interpolates only the pairs whose wavelength exceeds L, keeps the fast pairs, and "
                           "blends in between. bloc97's \"NTK-by-parts\" (2023), the core of YaRN."},
      {Method::Yarn, "YaRN: NTK-by-parts plus an attention temperature (cos and sin scaled by 0.1·ln s + 1) that keeps "
                     "attention as sharp as in training. Peng et al., \"YaRN: Efficient Context Window Extension of Large "
                     "Language Models\" (2023)."},
      {Method::DynamicYarn, "Dynamic YaRN: YaRN with s = n/L, so inputs shorter than L run as trained. Peng et al. (2023)."},
      {Method::Llama3, "Llama 3.1's scaling: keeps high-frequency pairs, divides low-frequency ones by s, blends in "
                       "between. Meta, Llama 3.1 (2024); Hugging Face rope_type \"llama3\"."},
      {Method::LongRope, "LongRoPE: a searched rescale factor per pair (short and long lists from the model's config), plus "
                         "an attention factor. Ding et al., \"LongRoPE: Extending LLM Context Window Beyond 2 Million "
                         "Tokens\" (2024)."},
      {Method::Rerope, "ReRoPE: relative positions beyond a window w are clamped to w, so the model never sees a distance "
                       "larger than it was trained on; with log-n it holds its loss far beyond L. Costs a second "
                       "attention pass. Su Jianlin, \"Transformer upgrade road 12: ReRoPE for infinite extrapolation?\" (2023)."},
      {Method::LeakyRerope, "Leaky ReRoPE: inside the window w distances are exact; beyond it they grow k times slower "
                            "instead of stopping. Same post as ReRoPE (Su Jianlin, 2023)."},
      {Method::SelfExtend, "Self-Extend: neighbours within w keep exact distances; farther tokens are grouped G at a time, so "
                           "distances shrink by about G. Jin et al., \"LLM Maybe LongLM: Self-Extend LLM Context Window "
                           "Without Tuning\" (2024)."},
      {Method::SlidingWindow, "Sliding window with attention sinks: each token sees only the last W tokens plus the first S, "
                              "so no distance exceeds W. Keeps loss flat but forgets what lies outside the window. Xiao "
                              "et al., \"Efficient Streaming Language Models with Attention Sinks\" (2023)."},
      {Method::Alibi, "ALiBi: no rotation; each head subtracts slope × distance from its attention scores, so far tokens "
                      "fade. Its field of view is limited by the slopes. Press et al., \"Train Short, Test Long\" (2022)."},
      {Method::AlibiLinear, "ALiBi interpolation: divides every slope by a, widening each head's field of view a times. "
                            "From the Chinese post on ALiBi interpolation and NTK-ALiBi (2023)."},
      {Method::NtkAlibi, "NTK-ALiBi: scales gentle slopes more than steep ones, so local heads keep their focus while "
                         "long-range heads see farther. From the same post on NTK-ALiBi (2023)."},
      {Method::DynamicNtkAlibi, "Dynamic NTK-ALiBi: NTK-ALiBi whose strength grows with the input length beyond L."},
  };
  for (auto& m : r) m.explain = explain.at(m.method);
  return r;
}

std::string accepted_keys(const MethodInfo& info) {
  std::string s;
  for (const auto& p : info.params) s += (s.empty() ? "" : ", ") + p.key;
  return s;
}

}  // namespace

const std::vector<MethodInfo>& method_registry() {
  static const std::vector<MethodInfo> r = build_registry();
  return r;
}

const MethodInfo& method_info(Method m) { return method_registry().at((size_t)m); }

const MethodInfo* find_method(std::string_view name) {
  for (const auto& m : method_registry())
    if (m.name == name) return &m;
  return nullptr;
}

std::string method_names() {
  std::string s;
  for (const auto& m : method_registry()) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

Result<MethodParams> parse_method_spec(std::string_view spec) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  spec = trim(spec);
  const std::string quoted = "method spec \"" + clip(spec, 120) + "\": ";
  size_t colon = spec.find(':');
  std::string_view name = trim(spec.substr(0, colon));
  if (name.empty()) return make_error(quoted + "no method name; accepted methods: " + method_names());
  const MethodInfo* info = find_method(name);
  if (!info)
    return make_error(quoted + "unknown method \"" + clip(name, 60) + "\"; accepted methods: " + method_names());

  MethodParams p;
  p.method = info->method;
  const auto& rules = key_rules();
  for (const auto& prm : info->params)
    if (!prm.default_value.empty()) rules.at(prm.key).set(prm.default_value, p);

  std::map<std::string, bool> given;
  if (colon != std::string_view::npos) {
    std::string_view rest = spec.substr(colon + 1);
    if (trim(rest).empty())
      return make_error(quoted + "nothing after ':'; expected key=value pairs (accepted keys: " + accepted_keys(*info) + ")");
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      size_t eq = item.find('=');
      std::string key(trim(item.substr(0, eq)));
      if (item.empty() || eq == std::string_view::npos)
        return make_error(quoted + "expected key=value, got \"" + clip(item, 60) + "\" (accepted keys for " +
                          info->name + ": " + accepted_keys(*info) + ")");
      const ParamInfo* prm = nullptr;
      for (const auto& x : info->params)
        if (x.key == key) prm = &x;
      if (!prm)
        return make_error(quoted + "method " + info->name + " has no parameter \"" + clip(key, 60) +
                          "\"; accepted keys: " + accepted_keys(*info));
      if (given.count(key)) return make_error(quoted + "parameter \"" + clip(key, 60) + "\" given twice");
      std::string_view value = trim(item.substr(eq + 1));
      if (value.empty()) return make_error(quoted + "missing value for " + key + "; accepted: " + prm->accepted);
      std::string bad = rules.at(key).set(value, p);
      if (!bad.empty())
        return make_error(quoted + "invalid " + key + "=" + clip(value, 60) + "; accepted: " + bad);
      given[key] = true;
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  for (const auto& prm : info->params)
    if (prm.default_value.empty() && !given.count(prm.key))
      return make_error(quoted + "missing required value " + prm.key + " (" + prm.meaning + "; accepted: " +
                        prm.accepted + "), e.g. " + info->name + ":" + prm.key + "=...");
  // Cross-parameter constraints.
  if (p.method == Method::NtkByParts && !(p.rope.beta > p.rope.alpha))
    return make_error(quoted + "beta must be greater than alpha (got alpha=" + fmt_num(p.rope.alpha) +
                      ", beta=" + fmt_num(p.rope.beta) + ")");
  if (p.method == Method::Llama3 && !(p.rope.high_freq_factor > p.rope.low_freq_factor))
    return make_error(quoted + "high_freq_factor must be greater than low_freq_factor");
  if ((p.method == Method::Yarn || p.method == Method::DynamicYarn) && !(p.rope.beta_fast > p.rope.beta_slow))
    return make_error(quoted + "beta_fast must be greater than beta_slow");
  return p;
}

Result<std::vector<MethodParams>> parse_method_list(std::string_view specs) {
  std::vector<MethodParams> out;
  const size_t n = (size_t)std::count(specs.begin(), specs.end(), ';') + 1;
  if (n > kMaxMethods)
    return make_error(std::to_string(n) + " methods given; compare at most " + std::to_string(kMaxMethods) + " at once");
  while (true) {
    size_t semi = specs.find(';');
    auto r = parse_method_spec(specs.substr(0, semi));
    if (!r) return make_error(r.error());
    out.push_back(r.value());
    if (semi == std::string_view::npos) break;
    specs = specs.substr(semi + 1);
  }
  return out;
}

std::string method_spec_string(const MethodParams& p) {
  const MethodInfo& info = method_info(p.method);
  MethodParams defaults;
  defaults.method = p.method;
  const auto& rules = key_rules();
  for (const auto& prm : info.params)
    if (!prm.default_value.empty()) rules.at(prm.key).set(prm.default_value, defaults);
  std::string s = info.name;
  bool first = true;
  for (const auto& prm : info.params) {
    std::string v = rules.at(prm.key).get(p);
    if (!prm.default_value.empty() && v == rules.at(prm.key).get(defaults)) continue;
    s += (first ? ":" : ",") + prm.key + "=" + v;
    first = false;
  }
  return s;
}

}  // namespace ls
