// The subcommands of longscope-cli, grouped by the part of core they drive.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"

namespace ls::cli {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;    // bad usage or invalid input

struct CommandEntry {
  Command cmd;
  std::function<int(const Args&)> run;
};

std::vector<CommandEntry> position_commands();
std::vector<CommandEntry> model_commands();
std::vector<CommandEntry> retrieval_commands();

// Prints "longscope-cli <cmd>: error: ..." on stderr and returns kExitUsage.
int usage_error(const std::string& cmd, const std::string& message);
// Writes JSON (one document, newline-terminated) to stdout.
void print_json(const nlohmann::json& j);

}  // namespace ls::cli
