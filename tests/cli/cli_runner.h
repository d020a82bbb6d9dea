// Runs longscope-cli as a subprocess and captures stdout, stderr and the exit code.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ls::test {

struct CliRun {
  int code = -1;
  std::string out, err;
};

// `shell_prefix` runs before the CLI in the same shell (e.g. "ulimit -v 800000; ").
inline CliRun run_cli(const std::string& args, const std::string& shell_prefix = "") {
  char tmpl[] = "/tmp/longscope_cli_err_XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd >= 0) close(fd);
  std::string cmd = shell_prefix + "'" + LONGSCOPE_CLI_PATH + "' " + args + " 2>" + tmpl;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream ef(tmpl);
  std::stringstream ss;
  ss << ef.rdbuf();
  r.err = ss.str();
  std::remove(tmpl);
  return r;
}

// Runs `args --json`, expects exit 0, and parses stdout.
inline nlohmann::json ok_json(const std::string& args) {
  CliRun r = run_cli(args + " --json");
  EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

}  // namespace ls::test
