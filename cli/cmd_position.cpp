// longscope-cli methods | rope-table | relpos | alibi-slopes: the position math, headless.
#include <cmath>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "core/position/spec.h"
#include "core/position/tables.h"

namespace ls::cli {
namespace {

using nlohmann::json;

// Doubles that are whole numbers print as integers in JSON (relative positions).
json number(double v) {
  if (std::fabs(v) < 9e15 && v == std::floor(v)) return (long long)v;
  return v;
}

int run_methods(const Args& a) {
  json out = json::array();
  for (const auto& m : method_registry()) {
    json params = json::array();
    for (const auto& p : m.params)
      params.push_back({{"key", p.key},
                        {"default", p.default_value.empty() ? json(nullptr) : json(p.default_value)},
                        {"required", p.default_value.empty()},
                        {"accepted", p.accepted},
                        {"meaning", p.meaning}});
    out.push_back({{"name", m.name}, {"family", m.family}, {"formula", m.formula}, {"source", m.source}, {"explain", m.explain},
                   {"params", params}});
  }
  if (a.has("json")) {
    print_json({{"methods", out}});
    return kExitOk;
  }
  for (const auto& m : method_registry()) {
    std::cout << m.name << "  [" << m.family << "]  " << m.formula << "\n    source: " << m.source << "\n";
    for (const auto& p : m.params)
      std::cout << "    " << p.key << " = " << (p.default_value.empty() ? "(required)" : p.default_value) << "  — "
                << p.meaning << "; " << p.accepted << "\n";
  }
  return kExitOk;
}

// Reads --method and the geometry shared by the position commands.
struct PositionInputs {
  MethodParams method;
  PositionContext ctx;
};

Result<PositionInputs> read_inputs(const Args& a, long long default_len) {
  PositionInputs in;
  auto m = parse_method_spec(a.get("method"));
  if (!m) return make_error(m.error());
  in.method = m.value();
  auto d = a.get_int("head-dim", 64, 4, 65536);
  if (!d) return make_error(d.error());
  auto b = a.get_double("base", 10000.0, 1.0000001, 1e12);
  if (!b) return make_error(b.error());
  auto L = a.get_int("train-len", default_len, 1, 1LL << 31);
  if (!L) return make_error(L.error());
  auto n = a.get_int("seq-len", L.value(), 1, 1LL << 31);
  if (!n) return make_error(n.error());
  in.ctx = PositionContext{(int)d.value(), b.value(), (double)L.value(), (double)n.value()};
  if (auto st = validate_context(in.ctx); !st) return make_error(st.error());
  return in;
}

int run_rope_table(const Args& a) {
  auto in = read_inputs(a, 2048);
  if (!in) return usage_error("rope-table", in.error());
  if (method_is_alibi(in->method.method))
    return usage_error("rope-table", method_info(in->method.method).name +
                                         " is an ALiBi method with no rotary table; use alibi-slopes");
  if (in->method.method == Method::LongRope)
    return usage_error("rope-table", "longrope takes its per-pair factors from a model's config; see `info --model M` "
                                     "and run it through ppl/attention with that model");
  RopeTable t = rope_table(in->method, in->ctx);
  if (a.has("json")) {
    print_json({{"method", method_spec_string(in->method)},
                {"head_dim", in->ctx.rot_dim},
                {"base", in->ctx.base},
                {"train_len", (long long)in->ctx.train_len},
                {"seq_len", (long long)in->ctx.cur_len},
                {"inv_freq", t.inv_freq},
                {"attention_factor", t.attention_factor},
                {"logit_multiplier", t.logit_multiplier},
                {"wavelength", t.wavelength}});
    return kExitOk;
  }
  std::cout << "method " << method_spec_string(in->method) << ", d=" << in->ctx.rot_dim << ", base=" << in->ctx.base
            << ", L=" << in->ctx.train_len << ", n=" << in->ctx.cur_len << "\nattention_factor " << t.attention_factor
            << " (logit multiplier " << t.logit_multiplier << ")\n   i          inv_freq      wavelength   turns over n\n";
  for (size_t i = 0; i < t.inv_freq.size(); ++i)
    std::cout << std::setw(4) << i << std::setw(18) << std::setprecision(8) << t.inv_freq[i] << std::setw(16)
              << t.wavelength[i] << std::setw(15) << in->ctx.cur_len / t.wavelength[i] << "\n";
  return kExitOk;
}

constexpr long long kMaxRelposLen = 4096;

int run_relpos(const Args& a) {
  auto n = a.get_int("len", 0, 1, kMaxRelposLen);
  if (!n) return usage_error("relpos", n.error() + " (the matrix is N×N)");
  auto m = parse_method_spec(a.get("method"));
  if (!m) return usage_error("relpos", m.error());
  auto L = a.get_int("train-len", n.value(), 1, 1LL << 31);
  if (!L) return usage_error("relpos", L.error());
  PositionContext g{64, 10000.0, (double)L.value(), (double)n.value()};
  auto mat = relpos_matrix(m.value(), g, (int)n.value());
  json rows = json::array();
  for (const auto& row : mat) {
    json r = json::array();
    for (const auto& v : row) r.push_back(v ? number(*v) : json(nullptr));
    rows.push_back(std::move(r));
  }
  if (a.has("json")) {
    print_json({{"method", method_spec_string(m.value())}, {"len", n.value()}, {"train_len", L.value()},
                {"relpos", rows}});
    return kExitOk;
  }
  for (const auto& row : mat) {
    for (const auto& v : row) {
      if (v) std::cout << std::setw(8) << std::setprecision(5) << *v;
      else std::cout << std::setw(8) << ".";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

int run_alibi_slopes(const Args& a) {
  auto h = a.get_int("heads", 0, 1, 4096);
  if (!h) return usage_error("alibi-slopes", h.error());
  auto in = read_inputs(a, 2048);
  if (!in) return usage_error("alibi-slopes", in.error());
  if (!method_is_alibi(in->method.method))
    return usage_error("alibi-slopes", method_info(in->method.method).name +
                                           " is not an ALiBi method; accepted: alibi, alibi-linear, ntk-alibi, "
                                           "dynamic-ntk-alibi");
  auto s = alibi_slopes(in->method, in->ctx, (int)h.value());
  if (a.has("json")) {
    print_json({{"method", method_spec_string(in->method)}, {"heads", h.value()},
                {"train_len", (long long)in->ctx.train_len}, {"seq_len", (long long)in->ctx.cur_len}, {"slopes", s}});
    return kExitOk;
  }
  std::cout << "head        slope   distance to bias -1 / -5 / -10\n";
  for (size_t i = 0; i < s.size(); ++i)
    std::cout << std::setw(4) << i + 1 << std::setw(13) << std::setprecision(6) << s[i] << "   " << 1 / s[i] << " / "
              << 5 / s[i] << " / " << 10 / s[i] << "\n";
  return kExitOk;
}

const OptionSpec kJson{"json", "", "print JSON to stdout"};
const OptionSpec kMethod{"method", "SPEC", "method spec, e.g. yarn:factor=4 (see `methods`)", true};

}  // namespace

std::vector<CommandEntry> position_commands() {
  return {
      {{"methods", "list every method, its parameters, defaults and the source of its formula", {kJson}},
       run_methods},
      {{"rope-table",
        "per-pair angular speed θ'_i, wavelength and attention factor of a method",
        {kMethod,
         {"head-dim", "D", "rotary dimension d (even)", true},
         {"base", "B", "RoPE base b (default 10000)"},
         {"train-len", "L", "training context length", true},
         {"seq-len", "N", "current total length n, used by dynamic methods (default L)"},
         kJson}},
       run_rope_table},
      {{"relpos",
        "N×N effective relative positions r(m, j) (null where j > m or masked)",
        {kMethod,
         {"len", "N", "matrix size, 1 … 4096", true},
         {"train-len", "L", "training length, used by dynamic methods (default N)"},
         kJson}},
       run_relpos},
      {{"alibi-slopes",
        "per-head ALiBi slopes m_h of an ALiBi-family method",
        {kMethod,
         {"heads", "H", "number of attention heads", true},
         {"train-len", "L", "training length (default 2048)"},
         {"seq-len", "N", "current length n, used by dynamic-ntk-alibi (default L)"},
         kJson}},
       run_alibi_slopes},
  };
}

}  // namespace ls::cli
