#include "cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ls::cli {

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<double> Args::get_double(const std::string& name, double fallback, double lo, double hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v) || v < lo || v > hi) {
    std::ostringstream os;
    os << "--" << name << ": expected a number in [" << lo << ", " << hi << "], got \"" << s << "\"";
    return make_error(os.str());
  }
  return v;
}

Result<long long> Args::get_int(const std::string& name, long long fallback, long long lo, long long hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || v < lo || v > hi)
    return make_error("--" + name + ": expected a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                      "], got \"" + s + "\"");
  return v;
}

Result<Args> parse_args(const Command& cmd, int argc, char** argv) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    std::string tok = argv[i];
    if (tok == "--help" || tok == "-h") {
      a.values_["help"] = "1";
      return a;
    }
    if (tok.size() == 2 && tok[0] == '-' && tok[1] != '-') tok = "-" + tok;  // -n → --n
    if (tok.rfind("--", 0) != 0)
      return make_error(cmd.name + ": unexpected argument \"" + tok + "\" (options start with --; see --help)");
    std::string name = tok.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& o : cmd.options)
      if (o.name == name) spec = &o;
    if (!spec) {
      std::string names;
      for (const auto& o : cmd.options) names += (names.empty() ? "--" : ", --") + o.name;
      return make_error(cmd.name + ": unknown option --" + name + " (accepted: " + names + ", --help)");
    }
    if (spec->value.empty()) {
      if (inline_value) return make_error(cmd.name + ": --" + name + " takes no value");
      value = "1";
    } else if (!inline_value) {
      if (i + 1 >= argc) return make_error(cmd.name + ": --" + name + " needs a value (" + spec->value + ")");
      value = argv[++i];
    }
    if (a.values_.count(name)) return make_error(cmd.name + ": --" + name + " given twice");
    a.values_[name] = value;
  }
  for (const auto& o : cmd.options)
    if (o.required && !a.has(o.name))
      return make_error(cmd.name + ": missing required option --" + o.name + " " + o.value + " (" + o.help + ")");
  return a;
}

std::string command_help(const Command& cmd) {
  std::ostringstream os;
  os << "usage: longscope-cli " << cmd.name;
  for (const auto& o : cmd.options) {
    os << (o.required ? " " : " [") << (o.name.size() == 1 ? "-" : "--") << o.name;
    if (!o.value.empty()) os << " " << o.value;
    if (!o.required) os << "]";
  }
  os << "\n\n" << cmd.summary << "\n\noptions:\n";
  for (const auto& o : cmd.options) {
    std::string left = (o.name.size() == 1 ? "  -" : "  --") + o.name + (o.value.empty() ? "" : " " + o.value);
    os << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << o.help << "\n";
  }
  os << "  --help                    show this help\n";
  return os.str();
}

}  // namespace ls::cli
