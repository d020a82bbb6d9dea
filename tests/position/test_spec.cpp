// Method-spec parsing: accepted forms, defaults, and one clear error per mistake.
#include <gtest/gtest.h>

#include <cmath>

#include "core/position/spec.h"
#include "core/position/tables.h"

namespace ls {
namespace {

TEST(Spec, ParsesParametersAndDefaults) {
  auto y = parse_method_spec("yarn:factor=4");
  ASSERT_TRUE(y.ok()) << y.error();
  EXPECT_EQ(y->method, Method::Yarn);
  EXPECT_EQ(y->rope.factor, 4);
  EXPECT_EQ(y->rope.beta_fast, 32);
  EXPECT_EQ(y->rope.beta_slow, 1);
  EXPECT_EQ(y->rope.truncate, 1);

  auto r = parse_method_spec("rerope:window=256,logn=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->remap.window, 256);
  EXPECT_EQ(r->logn, 1);

  auto d = parse_method_spec(" dynamic-ntk:alpha=2, cache=raw ");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->rope.alpha, 2);
  EXPECT_EQ(d->cache, KeyCache::Raw);
  EXPECT_EQ(parse_method_spec("dynamic-ntk")->cache, KeyCache::Rotated);

  auto a = parse_method_spec("ntk-alibi:a=2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->alibi.a, 2);
  EXPECT_EQ(a->alibi.seed_exact, 0);

  auto s = parse_method_spec("sliding-window:window=1024,sinks=4");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->remap.window, 1024);
  EXPECT_EQ(s->remap.sinks, 4);

  EXPECT_TRUE(parse_method_spec("yarn:factor=4,truncate=false")->rope.truncate == 0);
  EXPECT_EQ(parse_method_spec("yarn:factor=4,attention_factor=1.2")->rope.attention_factor, 1.2);
  EXPECT_EQ(parse_method_spec("llama3")->rope.factor, 8);
  EXPECT_EQ(parse_method_spec("self-extend:window=512,group=8")->remap.group, 8);
}

TEST(Spec, EveryMethodParsesWithItsRequiredValues) {
  for (const auto& m : method_registry()) {
    std::string s = m.name, sep = ":";
    for (const auto& p : m.params)
      if (p.default_value.empty()) {
        s += sep + p.key + "=2";
        sep = ",";
      }
    auto r = parse_method_spec(s);
    ASSERT_TRUE(r.ok()) << s << ": " << r.error();
    EXPECT_EQ(r->method, m.method);
    // canonical string round-trips
    auto again = parse_method_spec(method_spec_string(r.value()));
    ASSERT_TRUE(again.ok()) << method_spec_string(r.value());
    EXPECT_EQ(method_spec_string(again.value()), method_spec_string(r.value()));
  }
}

void expect_error(const char* spec, std::initializer_list<const char*> parts) {
  auto r = parse_method_spec(spec);
  ASSERT_FALSE(r.ok()) << spec << " was accepted";
  EXPECT_EQ(r.error().find('\n'), std::string::npos) << "one line";
  for (const char* p : parts) EXPECT_NE(r.error().find(p), std::string::npos) << spec << " -> " << r.error();
}

TEST(Spec, ClearErrors) {
  expect_error("yarnn:factor=4", {"unknown method \"yarnn\"", "rope, linear", "dynamic-ntk-alibi"});
  expect_error("", {"no method name", "accepted methods"});
  expect_error("yarn:fator=4", {"no parameter \"fator\"", "accepted keys: factor"});
  expect_error("yarn", {"missing required value factor"});
  expect_error("linear", {"missing required value factor"});
  expect_error("rerope", {"missing required value window"});
  expect_error("leaky-rerope:window=4", {"missing required value k"});
  expect_error("linear:factor=0", {"invalid factor=0", "[0.001, 1000000]"});
  expect_error("linear:factor=-2", {"invalid factor=-2"});
  expect_error("linear:factor=nan", {"invalid factor=nan"});
  expect_error("linear:factor=inf", {"invalid factor=inf"});
  // Found by fuzz_method_spec: a newline inside the spec broke the one-line rule.
  expect_error("alibi\nl)gn", {"\\n"});
  expect_error("linear:factor=4x", {"invalid factor=4x"});
  expect_error("rerope:window=0", {"invalid window=0", "whole number"});
  expect_error("rerope:window=2.5", {"invalid window=2.5"});
  expect_error("self-extend:window=4,group=0", {"invalid group=0"});
  expect_error("sliding-window:window=8,sinks=-1", {"invalid sinks=-1"});
  expect_error("dynamic-ntk:cache=fresh", {"invalid cache=fresh", "rotated or raw"});
  expect_error("rope:logn=2", {"invalid logn=2", "0, 1, true or false"});
  expect_error("ntk:alpha", {"expected key=value"});
  expect_error("ntk:alpha=", {"missing value for alpha"});
  expect_error("ntk:", {"nothing after ':'"});
  expect_error("ntk:alpha=2,alpha=3", {"given twice"});
  expect_error("ntk:alpha=2,", {"expected key=value"});
  expect_error("rope:cache=raw", {"no parameter \"cache\""});
  expect_error("ntk-by-parts:factor=4,alpha=40", {"beta must be greater than alpha"});
  expect_error("yarn:factor=4,beta_fast=1,beta_slow=2", {"beta_fast must be greater"});
  expect_error("llama3:low_freq_factor=8", {"high_freq_factor must be greater"});
  expect_error("ntk-alibi:a=1e9", {"invalid a=1e9"});
  // Values the formulas cannot take (they gave -nan before the lower bound existed).
  expect_error("ntk:alpha=1e-300", {"invalid alpha=1e-300", "[0.001, 1000000]"});
  expect_error("alibi-linear:a=1e-300", {"invalid a=1e-300"});
  expect_error("yarn:factor=nan", {"invalid factor=nan"});
  expect_error("linear:factor=inf", {"invalid factor=inf"});
  // Found by fuzz_method_spec: a newline inside the spec broke the one-line rule.
  expect_error("alibi\nl)gn", {"\\n"});
}

// Every real parameter of every method, at both ends of its accepted range (the
// others at their defaults): the tables each method produces stay finite, for the
// smallest rotary dimension a model may have and for a large one, inside and
// far beyond L.
TEST(Spec, EveryAcceptedValueGivesFiniteTables) {
  int checked = 0;
  for (const MethodInfo& info : method_registry()) {
    for (const ParamInfo& prm : info.params) {
      if (prm.accepted.rfind("a number in [", 0) != 0) continue;
      for (const char* v : {"0.001", "1000000"}) {
        std::string spec = info.name + ":" + prm.key + "=" + v;
        for (const ParamInfo& req : info.params)  // required values other than the one under test
          if (req.default_value.empty() && req.key != prm.key) spec += "," + req.key + "=4";
        auto p = parse_method_spec(spec);
        if (!p) {  // only the cross-parameter rules (e.g. beta_fast > beta_slow) may refuse
          EXPECT_NE(p.error().find("must be greater"), std::string::npos) << spec << ": " << p.error();
          continue;
        }
        for (int d : {4, 128})
          for (double n : {1.0, 512.0, 1e6}) {
            const PositionContext g{d, 10000.0, 512.0, n};
            if (method_is_alibi(p->method)) {
              for (double s : alibi_slopes(p.value(), g, 12)) EXPECT_TRUE(std::isfinite(s) && s >= 0) << spec;
            } else {
              const RopeTable t = rope_table(p.value(), g);
              for (double f : t.inv_freq) EXPECT_TRUE(std::isfinite(f)) << spec << " d=" << d << " n=" << n;
              EXPECT_TRUE(std::isfinite(t.attention_factor) && t.attention_factor > 0) << spec;
            }
          }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 20);
}

TEST(Spec, Lists) {
  auto l = parse_method_list("rope;yarn:factor=4;rerope:window=256");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[1].method, Method::Yarn);
  EXPECT_FALSE(parse_method_list("rope;;ntk:alpha=2").ok());
  EXPECT_FALSE(parse_method_list("rope;bogus").ok());
}

}  // namespace
}  // namespace ls

namespace ls {
namespace {

// Each parameter's declared kind and range (which the app's editors follow) is what
// the parser accepts: both ends of a range, each choice, 0 and 1 for a flag; a step
// outside is refused.
TEST(MethodSpec, ParameterKindsAreWhatTheParserAccepts) {
  // Whether the parser takes `value` for p: a refusal that quotes p's accepted values
  // is a range refusal; another (a cross-check with a default of another parameter,
  // as yarn's beta_fast > beta_slow) says nothing about p's range.
  auto in_range = [](const MethodInfo& info, const ParamInfo& p, const std::string& value) {
    std::string spec = info.name + ":" + p.key + "=" + value;
    for (const ParamInfo& q : info.params)  // the other required values
      if (q.key != p.key && q.default_value.empty()) spec += "," + q.key + "=" + (q.kind == ParamKind::Integer ? "16" : "2");
    auto r = parse_method_spec(spec);
    return r.ok() || r.error().find(p.accepted) == std::string::npos;
  };
  auto num = [](double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    return std::string(b);
  };
  int checked = 0;
  for (const MethodInfo& info : method_registry())
    for (const ParamInfo& p : info.params) {
      SCOPED_TRACE(info.name + ":" + p.key);
      switch (p.kind) {
        case ParamKind::Flag:
          EXPECT_TRUE(in_range(info, p, "0") && in_range(info, p, "1"));
          EXPECT_FALSE(in_range(info, p, "2"));
          break;
        case ParamKind::Choice:
          ASSERT_FALSE(p.choices.empty());
          for (const auto& c : p.choices) EXPECT_TRUE(in_range(info, p, c));
          EXPECT_FALSE(in_range(info, p, "none-of-them"));
          break;
        case ParamKind::Integer:
          EXPECT_TRUE(in_range(info, p, num(p.lo)) && in_range(info, p, num(p.hi)));
          EXPECT_FALSE(in_range(info, p, num(p.lo - 1)));
          EXPECT_FALSE(in_range(info, p, num(p.hi + 1)));
          EXPECT_FALSE(in_range(info, p, num(p.lo + 0.5)));
          break;
        case ParamKind::Real:
          if (p.special.empty()) EXPECT_TRUE(in_range(info, p, num(p.lo)));
          else EXPECT_TRUE(in_range(info, p, p.special) && !in_range(info, p, num(p.lo)));  // lo is open: it means `special`
          EXPECT_TRUE(in_range(info, p, num(p.hi)));
          EXPECT_FALSE(in_range(info, p, num(p.lo - std::max(1e-9, std::fabs(p.lo) / 2))));
          EXPECT_FALSE(in_range(info, p, num(p.hi * 2)));
          break;
      }
      ++checked;
    }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace ls
