// A small declarative argument parser for longscope-cli subcommands:
// each subcommand declares its options; --help is generated from them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace ls::cli {

struct OptionSpec {
  std::string name;      // without leading dashes, e.g. "head-dim"
  std::string value;     // placeholder for the value ("" = a flag)
  std::string help;
  bool required = false;
};

struct Command {
  std::string name;
  std::string summary;
  std::vector<OptionSpec> options;
};

class Args {
 public:
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Typed getters: error names the option and the accepted range.
  Result<long long> get_int(const std::string& name, long long fallback, long long lo, long long hi) const;
  Result<double> get_double(const std::string& name, double fallback, double lo, double hi) const;
  std::map<std::string, std::string> values_;
};

// Parses argv (after the subcommand name). "--help" yields an Args with "help".
Result<Args> parse_args(const Command& cmd, int argc, char** argv);
std::string command_help(const Command& cmd);

}  // namespace ls::cli
