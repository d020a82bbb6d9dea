// Method specs as users type them: NAME[:key=value,...], e.g. "yarn:factor=4",
// "rerope:window=256,logn=1", "dynamic-ntk:alpha=2,cache=raw".
// The registry below is the single list of methods, their parameters,
// defaults and the source of each formula (shown by `longscope-cli methods`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/position/position.h"
#include "core/util/status.h"

namespace ls {

// What a parameter's value is: it drives the parser, the canonical printer and the
// app's editors (a check box, a combo box, an integer or a real spin box).
enum class ParamKind { Real, Integer, Flag, Choice };

struct ParamInfo {
  std::string key;
  std::string default_value;  // empty: required
  std::string accepted;       // accepted values, as shown in errors
  std::string meaning;
  ParamKind kind = ParamKind::Real;
  double lo = 0, hi = 0;             // Real, Integer: the accepted range (closed; Real's lo open when `special` is set)
  std::vector<std::string> choices;  // Choice: the accepted words
  std::string special;               // Real: a word that stands for "computed" (attention_factor's "auto", stored as 0)
};

struct MethodInfo {
  Method method;
  std::string name;
  std::string family;  // "rope", "remap", "mask", "alibi"
  std::string formula;
  std::string source;
  std::vector<ParamInfo> params;
  // Plain words for people learning the topic: what the method changes, when it
  // helps, and the paper or post it comes from (by title or by its docs/sources.md label).
  std::string explain;
};

// Every method, in a stable order.
const std::vector<MethodInfo>& method_registry();
const MethodInfo& method_info(Method m);
const MethodInfo* find_method(std::string_view name);

// Parse one spec; errors are one line naming the problem and the accepted values.
Result<MethodParams> parse_method_spec(std::string_view spec);

// Parse "A;B;C" (empty items are an error; at most kMaxMethods methods).
inline constexpr size_t kMaxMethods = 64;
Result<std::vector<MethodParams>> parse_method_list(std::string_view specs);

// Canonical spec string: the name plus every parameter that differs from its default.
std::string method_spec_string(const MethodParams& p);

// Comma-separated list of all method names (for error messages and help).
std::string method_names();

}  // namespace ls
