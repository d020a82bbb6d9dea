// longscope-cli passkey / needle / longeval: JSON contract, errors, exit codes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

namespace ls::test {
namespace {

using nlohmann::json;
const std::string kDoc = std::string(LONGSCOPE_TEST_DIR) + "/data/tinystories_excerpt.txt";


TEST(CliRetrieval, PasskeyGridJson) {
  json j = ok_json("passkey --methods 'rope;rerope:window=128' --lengths 200,400 --depths 0,1 --trials 2 --nbce 2");
  EXPECT_EQ(j["task"], "passkey");
  EXPECT_EQ(j["methods"].size(), 3u);
  EXPECT_EQ(j["methods"][2], "nbce:k=2");
  ASSERT_EQ(j["cells"].size(), 3u * 2 * 2);
  for (const auto& c : j["cells"]) {
    EXPECT_EQ(c["trials"], 2);
    EXPECT_EQ(c["results"].size(), 2u);
    EXPECT_EQ(c["results"][0]["key"].get<std::string>().size(), 5u);
  }
  // The same keys for every method (same seed), other keys for another seed.
  EXPECT_EQ(j["cells"][0]["results"][1]["key"], j["cells"][4]["results"][1]["key"]);
  json k = ok_json("passkey --lengths 200 --depths 0 --trials 1 --seed 7");
  EXPECT_NE(k["cells"][0]["results"][0]["key"], j["cells"][0]["results"][0]["key"]);
  EXPECT_LT(k["cells"][0]["mean_logprob"].get<double>(), 0.0);
}

TEST(CliRetrieval, NeedleAndLongEval) {
  json n = ok_json("needle --text '" + kDoc + "' --lengths 300 --depths 0.5 --trials 1 --needle 'Lily liked {key}.' "
                   "--question 'Once upon a' --answer 'time'");
  EXPECT_EQ(n["task"], "needle");
  EXPECT_EQ(n["cells"][0]["found"], 1);  // the model's own story opening, answered
  json l = ok_json("longeval --task lines --lengths 400 --trials 2");
  EXPECT_EQ(l["task"], "lines");
  EXPECT_EQ(l["cells"][0]["results"][0]["key"], "2416");  // LongChat's first case
  json t = ok_json("longeval --task topics --trials 1 --methods rope");
  EXPECT_EQ(t["lengths"][0], 0);  // as given
  EXPECT_EQ(t["cells"][0]["results"][0]["key"], "The benefits of reading for pleasure");
  EXPECT_TRUE(t["cells"][0]["results"][0].contains("output"));
}

// The shipped RoPE twin (trained at L = 256 with retrieval text) tells the story:
// it finds the key inside L, loses it at 4L with plain RoPE, and ReRoPE + log-n
// brings it back.
TEST(CliRetrieval, RopeTwinFindsKeysInsideLAndLosesThemBeyond) {
  json j = ok_json(std::string("passkey --model '") + LONGSCOPE_RESOURCES_DIR +
                   "/models/twins/rope_twin.gguf' --methods 'rope;rerope:window=128,logn=1' --lengths 256,1024 "
                   "--depths 0,0.5,1 --trials 3");
  ASSERT_EQ(j["cells"].size(), 2u * 2 * 3);
  auto found = [&](int method, int length) {
    int f = 0;
    for (int d = 0; d < 3; ++d) f += j["cells"][(method * 2 + length) * 3 + d]["found"].get<int>();
    return f;  // of 9
  };
  EXPECT_GE(found(0, 0), 7) << "rope inside L";
  EXPECT_LE(found(0, 1), 2) << "rope at 4L";
  EXPECT_GE(found(1, 1), 7) << "rerope + log-n at 4L";
}

// The shipped ALiBi twin tells [alibi-interp]'s story: plain ALiBi finds the key inside L
// and loses the far ones at 4L; NTK-ALiBi brings them back.
TEST(CliRetrieval, AlibiTwinLosesFarKeysAndNtkAlibiBringsThemBack) {
  json j = ok_json(std::string("passkey --model '") + LONGSCOPE_RESOURCES_DIR +
                   "/models/twins/alibi_twin' --methods 'alibi;ntk-alibi:a=8' --lengths 256,1024 "
                   "--depths 0,0.25,0.5,0.75,1 --trials 2");
  ASSERT_EQ(j["cells"].size(), 2u * 2 * 5);
  auto found = [&](int method, int length, int d0, int d1) {
    int f = 0;
    for (int d = d0; d < d1; ++d) f += j["cells"][(method * 2 + length) * 5 + d]["found"].get<int>();
    return f;
  };
  EXPECT_GE(found(0, 0, 0, 5), 9) << "alibi inside L";
  EXPECT_LE(found(0, 1, 0, 3), 2) << "alibi at 4L, key in the first half";
  EXPECT_GE(found(1, 1, 0, 3), 4) << "ntk-alibi at 4L, key in the first half";
  EXPECT_GT(found(1, 1, 0, 5), found(0, 1, 0, 5) + 2) << "ntk-alibi over alibi at 4L";
}

// The held-out books, in the running-text form the twins were trained on, score inside
// L within 0.3 nats of each twin's final training loss on book rows (its metadata), and
// plain RoPE's book NLL rises beyond L while ReRoPE + log-n holds it.
TEST(CliRetrieval, TwinsHeldOutBookNllMatchesTheirTrainingLoss) {
  const std::string dir = std::string(LONGSCOPE_RESOURCES_DIR) + "/models/twins/";
  const std::string doc = std::string(LONGSCOPE_RESOURCES_DIR) + "/documents/heldout_books.txt";
  for (const auto& [model, meta, method] : {std::tuple{"rope_twin.gguf", "rope_metadata.json", "rope"},
                                            std::tuple{"alibi_twin", "alibi_metadata.json", "alibi"}}) {
    std::ifstream f(dir + meta);
    const double train = json::parse(f).at("final_book_loss").get<double>();
    json j = ok_json("sweep --model '" + dir + model + "' --text '" + doc + "' --methods " + method +
                     " --lengths 256 --windows 8");
    ASSERT_EQ(j["results"].size(), 1u) << model;
    const double held = j["results"][0]["mean_nll"].get<double>();
    EXPECT_LT(std::abs(held - train), 0.3) << model << ": held-out " << held << " vs training " << train;
  }
  json r = ok_json("sweep --model '" + dir + "rope_twin.gguf' --text '" + doc +
                   "' --methods 'rope;rerope:window=128,logn=1' --lengths 1024 --buckets 0,256,1024 --windows 4");
  ASSERT_EQ(r["results"].size(), 2u);
  const auto& rope = r["results"][0]["bucket_nll"];
  const auto& rerope = r["results"][1]["bucket_nll"];
  EXPECT_GT(rope[1].get<double>() - rope[0].get<double>(), 0.5) << "plain RoPE beyond L";
  EXPECT_LT(rerope[1].get<double>() - rerope[0].get<double>(), 0.1) << "ReRoPE + log-n beyond L";
}

// Both twins learned LongEval lines in their own format on short registers and lose
// them beyond L: found at L/2 (about 3 lines), none at 2L.
TEST(CliRetrieval, TwinsFindLinesInShortRegistersAndLoseThemBeyondL) {
  const std::string dir = std::string(LONGSCOPE_RESOURCES_DIR) + "/models/twins/";
  for (const auto& [model, method] : {std::pair{"rope_twin.gguf", "rope"}, std::pair{"alibi_twin", "alibi"}}) {
    json j = ok_json("longeval --task lines --model '" + dir + model + "' --methods " + method +
                     " --lengths 128,512 --trials 20");
    ASSERT_EQ(j["cells"].size(), 2u) << model;
    EXPECT_GE(j["cells"][0]["found"].get<int>(), 4) << model << " at L/2";
    EXPECT_LE(j["cells"][1]["found"].get<int>(), 1) << model << " at 2L";
    EXPECT_GT(j["cells"][0]["mean_logprob"].get<double>(), j["cells"][1]["mean_logprob"].get<double>() + 3.0) << model;
  }
}

TEST(CliRetrieval, BadInputIsOneClearError) {
  auto expect_error = [](const std::string& args, const std::string& text) {
    CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_NE(r.err.find(text), std::string::npos) << args << "\n" << r.err;
  };
  expect_error("passkey --lengths 20", "cannot hold the intro");
  expect_error("passkey --depths 0.5,2", "--depths");
  expect_error("passkey --trials 0", "trials");
  expect_error("needle --lengths 300", "--text");
  expect_error("needle --text '" + kDoc + "' --lengths 100000", "the document has");
  expect_error("needle --text '" + kDoc + "' --needle 'a fixed sentence'", "--answer");
  expect_error("longeval --task poems", "lines or topics");
  expect_error("longeval --cases /nonexistent.jsonl", "cannot open");
  expect_error("passkey --methods 'alibi'", "ALiBi");
}

}  // namespace
}  // namespace ls::test
