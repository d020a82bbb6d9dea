// longscope-cli: the analyses of LongScope headless, JSON on stdout with --json.
#include <cstdio>
#include <exception>
#include <new>
#include <iostream>
#include <string>

#include "cli/commands.h"

namespace ls::cli {

int usage_error(const std::string& cmd, const std::string& message) {
  std::cerr << "longscope-cli " << cmd << ": error: " << message << "\n";
  return kExitUsage;
}

// Text from a tokenizer may hold partial UTF-8 sequences: replaced, never thrown on.
void print_json(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace ls::cli

namespace {

void print_overview(const std::vector<ls::cli::CommandEntry>& cmds) {
  std::cout << "usage: longscope-cli COMMAND [options]   (COMMAND --help for details)\n\ncommands:\n";
  for (const auto& c : cmds) {
    std::string left = "  " + c.cmd.name;
    std::cout << left << std::string(left.size() < 16 ? 16 - left.size() : 1, ' ') << c.cmd.summary << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ls::cli;
  std::vector<CommandEntry> cmds = position_commands();
  for (auto& c : model_commands()) cmds.push_back(std::move(c));
  for (auto& c : retrieval_commands()) cmds.push_back(std::move(c));
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_overview(cmds);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string name = argv[1];
  for (const auto& c : cmds) {
    if (c.cmd.name != name) continue;
    auto args = parse_args(c.cmd, argc - 2, argv + 2);
    if (!args) return usage_error(name, args.error());
    if (args->has("help")) {
      std::cout << command_help(c.cmd);
      return kExitOk;
    }
    // Last line of defence: errors are values in core/, but a library may still throw.
    try {
      return c.run(*args);
    } catch (const std::bad_alloc&) {
      return usage_error(name, "out of memory (the request needs more memory than this machine has)");
    } catch (const std::exception& e) {
      return usage_error(name, std::string("internal error: ") + e.what());
    } catch (...) {
      return usage_error(name, "internal error (unknown exception)");
    }
  }
  std::string names;
  for (const auto& c : cmds) names += (names.empty() ? "" : ", ") + c.cmd.name;
  std::cerr << "longscope-cli: error: unknown command \"" << name << "\" (accepted: " << names << ")\n";
  return kExitUsage;
}
