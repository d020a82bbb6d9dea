// The CLI's JSON contract and exit codes for the position commands.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

namespace ls::test {
namespace {

using nlohmann::json;

json run_json(const std::string& args) {
  CliRun r = run_cli(args + " --json");
  EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  return json::parse(r.out);
}

TEST(CliPosition, Methods) {
  json j = run_json("methods");
  ASSERT_TRUE(j["methods"].is_array());
  EXPECT_EQ(j["methods"].size(), 18u);
  for (const auto& m : j["methods"]) {
    EXPECT_TRUE(m["name"].is_string());
    EXPECT_FALSE(m["source"].get<std::string>().empty());
    EXPECT_TRUE(m["params"].is_array());
  }
  EXPECT_EQ(j["methods"][6]["name"], "yarn");
}

TEST(CliPosition, RopeTableShape) {
  json j = run_json("rope-table --method yarn:factor=4 --head-dim 128 --base 500000 --train-len 8192");
  ASSERT_EQ(j["inv_freq"].size(), 64u);
  ASSERT_EQ(j["wavelength"].size(), 64u);
  EXPECT_NEAR(j["attention_factor"].get<double>(), 0.1 * std::log(4.0) + 1, 1e-12);
  EXPECT_NEAR(j["logit_multiplier"].get<double>(), std::pow(0.1 * std::log(4.0) + 1, 2), 1e-12);
  EXPECT_EQ(j["method"], "yarn:factor=4");
  EXPECT_DOUBLE_EQ(j["inv_freq"][0].get<double>(), 1.0);
  // dynamic method: seq-len matters
  json a = run_json("rope-table --method dynamic-ntk:alpha=2 --head-dim 8 --train-len 512 --seq-len 512");
  json b = run_json("rope-table --method dynamic-ntk:alpha=2 --head-dim 8 --train-len 512 --seq-len 2048");
  EXPECT_DOUBLE_EQ(a["inv_freq"][3].get<double>(), 0.001);
  EXPECT_LT(b["inv_freq"][3].get<double>(), 0.001);
}

TEST(CliPosition, RelposShape) {
  json j = run_json("relpos --method rerope:window=2 --len 4");
  ASSERT_EQ(j["relpos"].size(), 4u);
  EXPECT_EQ(j["relpos"][3], json::parse("[2,2,1,0]"));
  EXPECT_TRUE(j["relpos"][0][1].is_null());
  json s = run_json("relpos --method sliding-window:window=2,sinks=1 --len 5");
  EXPECT_EQ(s["relpos"][4], json::parse("[4,null,null,1,0]"));
  json d = run_json("relpos --method dynamic-linear --len 4 --train-len 2");
  EXPECT_DOUBLE_EQ(d["relpos"][3][0].get<double>(), 1.5);  // 3 / (4/2)
}

TEST(CliPosition, AlibiSlopes) {
  json j = run_json("alibi-slopes --method alibi --heads 12");
  ASSERT_EQ(j["slopes"].size(), 12u);
  EXPECT_DOUBLE_EQ(j["slopes"][8].get<double>(), std::pow(2.0, -0.5));
}

TEST(CliPosition, BadInputExitsTwoWithOneLine) {
  for (const char* args :
       {"rope-table --method yarn --head-dim 8 --train-len 512",
        "rope-table --method yarn:factor=-1 --head-dim 8 --train-len 512",
        "rope-table --method yarn:factor=4 --head-dim 7 --train-len 512",
        "rope-table --method yarn:factor=4 --head-dim 8 --train-len 0",
        "rope-table --method yarn:factor=4 --head-dim 8 --train-len 512 --base nan",
        "rope-table --method yarn:factor=4 --head-dim 8",
        "rope-table --method alibi --head-dim 8 --train-len 512",
        "rope-table --method bogus --head-dim 8 --train-len 512 --json",
        "rope-table --method rope --head-dim 8 --train-len 512 --frobnicate 3",
        "relpos --method rope --len 0", "relpos --method rope --len 100000", "relpos --method rerope:window=0 --len 4",
        "alibi-slopes --method rope --heads 8", "alibi-slopes --method alibi --heads 0", "nosuchcommand"}) {
    CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_TRUE(r.out.empty()) << args;
    ASSERT_FALSE(r.err.empty()) << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
}

TEST(CliPosition, HelpForEveryCommand) {
  for (const char* c : {"methods", "rope-table", "relpos", "alibi-slopes"}) {
    CliRun r = run_cli(std::string(c) + " --help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("usage: longscope-cli"), std::string::npos);
  }
}

}  // namespace
}  // namespace ls::test
