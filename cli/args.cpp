#include "cli/args.h"

#include <CLI/CLI.hpp>

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

// Parsing is CLI11's (a Debian-packaged parser made for the job); the options, their
// help and the typed, range-checked reading of values stay declared here.
Result<Args> parse_args(const Command& cmd, int argc, char** argv) {
  Args a;
  CLI::App app{cmd.summary, "longscope-cli " + cmd.name};
  app.set_help_flag("-h,--help");
  app.allow_windows_style_options(false);
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
  std::map<std::string, CLI::Option*> declared;
  // A one-letter option answers to -n and --n.
  auto names_of = [](const OptionSpec& o) { return o.name.size() == 1 ? "-" + o.name + ",--" + o.name : "--" + o.name; };
  for (const auto& o : cmd.options) {
    const std::string names = names_of(o);
    if (o.value.empty()) {
      declared[o.name] = app.add_flag(names, flags[o.name], o.help)->multi_option_policy(CLI::MultiOptionPolicy::Throw);
    } else {
      auto* opt = declared[o.name] = app.add_option(names, values[o.name], o.help)->type_name(o.value);
      opt->multi_option_policy(CLI::MultiOptionPolicy::Throw)->allow_extra_args(false);
      if (o.required) opt->required();
    }
  }
  // CLI11 takes the arguments last first (its parse(argc, argv) would also skip the
  // first one as a program name).
  std::vector<std::string> rest;
  for (int i = argc - 1; i >= 0; --i) rest.emplace_back(argv[i]);
  try {
    app.parse(rest);
  } catch (const CLI::CallForHelp&) {
    a.values_["help"] = "1";
    return a;
  } catch (const CLI::RequiredError&) {
    for (const auto& o : cmd.options)
      if (o.required && !declared[o.name]->count())
        return make_error(cmd.name + ": missing required option --" + o.name + " " + o.value + " (" + o.help + ")");
    return make_error(cmd.name + ": a required option is missing (see --help)");
  } catch (const CLI::ExtrasError&) {
    // The first argument that is neither a declared option nor its value.
    std::string names;
    for (const auto& o : cmd.options) names += (names.empty() ? "--" : ", --") + o.name;
    for (int i = 0; i < argc; ++i) {
      std::string t = argv[i];
      const bool dashed = t.size() > 1 && t[0] == '-';
      if (dashed) t = t.substr(0, t.find('='));
      const OptionSpec* known = nullptr;
      for (const auto& o : cmd.options)
        if (t == "--" + o.name || (o.name.size() == 1 && t == "-" + o.name)) known = &o;
      if (known) {
        i += !known->value.empty() && std::string(argv[i]).find('=') == std::string::npos;  // its value
        continue;
      }
      if (dashed) return make_error(cmd.name + ": unknown option " + clip(t, 60) + " (accepted: " + names + ", --help)");
      return make_error(cmd.name + ": unexpected argument \"" + clip(t, 60) + "\" (options start with --; see --help)");
    }
    return make_error(cmd.name + ": unexpected arguments (see --help)");
  } catch (const CLI::ParseError& e) {
    for (const auto& o : cmd.options)
      if (declared[o.name]->count() > 1) return make_error(cmd.name + ": --" + o.name + " given twice");
    return make_error(cmd.name + ": " + clip(e.what(), 160) + " (see --help)");
  }
  for (const auto& o : cmd.options) {
    if (!declared[o.name]->count()) continue;
    a.values_[o.name] = o.value.empty() ? "1" : values[o.name];
  }
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
