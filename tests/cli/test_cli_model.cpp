// The model commands of longscope-cli: JSON contract and exit codes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <vector>

#include "tests/cli/cli_runner.h"
#include "tests/sanitizers.h"

namespace ls::test {
namespace {

using nlohmann::json;
const std::string kDoc = std::string(LONGSCOPE_TEST_DIR) + "/data/tinystories_excerpt.txt";


TEST(CliModel, InfoShowsResolvedValues) {
  json j = ok_json("info");
  EXPECT_EQ(j["train_len"], 512);
  EXPECT_EQ(j["declared_context"], 2048);
  EXPECT_EQ(j["pair_layout"], "interleaved");
  EXPECT_EQ(j["head_dim"], 8);
  EXPECT_EQ(j["weights_dtype"], "F32");
  EXPECT_EQ(j["family"], "llama");
  EXPECT_EQ(j["tokenizer"], "sentencepiece");
  EXPECT_EQ(j["tokenizer_source"], "embedded vocabulary");
  EXPECT_NE(j["blas"].get<std::string>().find("OpenBLAS"), std::string::npos);
  EXPECT_FALSE(j["cpu_attention_isa"].get<std::string>().empty());
  json b = ok_json("info --train-len 300");
  EXPECT_EQ(b["train_len"], 300);
  EXPECT_EQ(b["train_len_source"], "user setting");
}

// Gemma-3 and a LongRoPE checkpoint: info names the layer kinds, both bases, the
// window, the norms and a summary of the per-pair factor lists.
TEST(CliModel, InfoShowsLayerKindsAndFactorLists) {
  const std::string dir = "/tmp/longscope_cli_info_" + std::to_string(::getpid());
  ok_json("make-random --shape tiny-gemma3 --format gguf --out " + dir + "_g3.gguf");
  json g = ok_json("info --model " + dir + "_g3.gguf --tokenizer '" + std::string(LONGSCOPE_RESOURCES_DIR) +
                   "/models/tok512.model'");
  EXPECT_EQ(g["family"], "gemma3");
  EXPECT_EQ(g["local_window"], 24);
  EXPECT_EQ(g["local_pattern"], 6);
  EXPECT_EQ(g["local_rope_base"], 10000.0);
  EXPECT_EQ(g["rope_base"], 1e6);
  EXPECT_EQ(g["qk_norm"], true);
  EXPECT_EQ(g["feed_forward"], "geglu");
  EXPECT_EQ(g["native_method"].get<std::string>().rfind("linear:factor=4", 0), 0u) << g["native_method"];
  ok_json("make-random --shape tiny-phi3 --out " + dir + "_phi3");
  std::ifstream in(dir + "_phi3/config.json");
  json cfg = json::parse(in);
  std::vector<double> sf(8, 1.0), lf = {1, 1.5, 2, 3, 4, 6, 8, 12};
  cfg["original_max_position_embeddings"] = 64;
  cfg["rope_scaling"] = {{"type", "longrope"}, {"short_factor", sf}, {"long_factor", lf}};
  std::ofstream(dir + "_phi3/config.json") << cfg.dump();
  json p = ok_json("info --model " + dir + "_phi3 --tokenizer '" + std::string(LONGSCOPE_RESOURCES_DIR) +
                   "/models/tok512.model'");
  EXPECT_EQ(p["native_factors"]["long"]["count"], 8);
  EXPECT_EQ(p["native_factors"]["long"]["max"], 12.0);
  EXPECT_EQ(p["native_factors"]["short"]["min"], 1.0);
}

TEST(CliModel, PplJson) {
  json j = ok_json("ppl --text '" + kDoc + "' --method rope --ctx 256 --windows 2");
  EXPECT_EQ(j["n_tokens"], 512);
  ASSERT_EQ(j["nll"].size(), 512u);
  double mean = 0;
  for (auto& x : j["nll"]) mean += x.get<double>();
  EXPECT_NEAR(j["mean_nll"].get<double>(), mean / 512, 1e-9);
  EXPECT_NEAR(j["ppl"].get<double>(), std::exp(j["mean_nll"].get<double>()), 1e-9);
  EXPECT_GT(j["tokens_per_second"].get<double>(), 0);
  EXPECT_EQ(j["backend"], "cpu");  // the default; --backend auto names what it resolved to
  EXPECT_GT(j["mean_nll"].get<double>(), 0.8);  // a trained model on real text: ~1.3 nats
  EXPECT_LT(j["mean_nll"].get<double>(), 2.0);
  // --tokens: the same ids give the same NLL
  std::ofstream f("/tmp/longscope_cli_tokens.json");
  f << "[1, 403, 407, 261, 378, 11, 335, 391, 261, 397]";
  f.close();
  json t = ok_json("ppl --tokens /tmp/longscope_cli_tokens.json --ctx 4 --windows 2");
  EXPECT_EQ(t["n_tokens"], 8);
}

TEST(CliModel, HalfKvCacheGivesNearlyTheSameLoss) {
  const std::string args = "ppl --text '" + kDoc + "' --method rerope:window=64 --ctx 400 --windows 1";
  const double same = ok_json(args)["mean_nll"].get<double>();
  const double f16 = ok_json(args + " --kv f16")["mean_nll"].get<double>();
  const double bf16 = ok_json(args + " --kv bf16")["mean_nll"].get<double>();
  EXPECT_NEAR(f16, same, 2e-3);
  EXPECT_NEAR(bf16, same, 2e-2);
  EXPECT_NE(f16, same);  // the cache really was rounded
  CliRun bad = run_cli("ppl --kv f8 --text '" + kDoc + "'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--kv"), std::string::npos) << bad.err;
}

TEST(CliModel, SweepAttentionGenerate) {
  json s = ok_json("sweep --text '" + kDoc + "' --methods 'rope;rerope:window=64' --lengths 128,256 --windows 1");
  ASSERT_EQ(s["results"].size(), 4u);
  EXPECT_EQ(s["buckets"], json::parse("[0,512]"));
  json a = ok_json("attention --text '" + kDoc + "' --ctx 64 --layer 1 --head 3");
  ASSERT_EQ(a["attention"].size(), 64u);
  double row = 0;
  for (auto& x : a["attention"][63]) row += x.get<double>();
  EXPECT_NEAR(row, 1.0, 1e-4);
  EXPECT_EQ(a["attention"][0][1], 0.0);
  json p = ok_json("attention --text '" + kDoc + "' --ctx 200 --layer 0 --head 0 --pool 20 --pool-mode mean");
  EXPECT_EQ(p["attention"].size(), 20u);
  json g = ok_json("generate --prompt 'Once upon a time' -n 20");
  EXPECT_EQ(g["ids"].size(), 20u);
  EXPECT_FALSE(g["text"].get<std::string>().empty());
  json nb = ok_json("nbce --context '" + kDoc + "' --question 'Who is Roxy?' --chunks 3 -n 8");
  EXPECT_EQ(nb["ids"].size(), nb["chosen_chunk"].size());
}

TEST(CliModel, MakeRandomWritesALoadableModel) {
  const std::string dir = "/tmp/longscope_cli_make_random";
  json m = ok_json("make-random --shape tiny-bloom --out " + dir + " --dtype F32 --seed 7");
  EXPECT_GT(m["params"].get<long long>(), 100000);
  json i = ok_json("info --model " + dir);
  EXPECT_EQ(i["architecture"], "bloom");
  EXPECT_EQ(i["native_method"], "alibi");
  EXPECT_EQ(i["format"], "safetensors");
  json a = ok_json("alibi-slopes --method ntk-alibi:a=2 --heads 8");
  EXPECT_EQ(a["slopes"].size(), 8u);
  CliRun bad = run_cli("make-random --shape gpt-17 --out " + dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(run_cli("make-random --format onnx --out " + dir).code, 2);
  // a GGUF with the bundled vocabulary embedded: tokenizes and runs with no tokenizer beside it
  const std::string gguf = dir + "/random.gguf";
  json g = ok_json("make-random --format gguf --bundled-vocab --dtype F16 --out " + gguf);
  json gi = ok_json("info --model " + gguf);
  EXPECT_EQ(gi["format"], "gguf");
  json gp = ok_json("ppl --model " + gguf + " --text '" + kDoc + "' --ctx 64 --windows 1");
  EXPECT_GT(gp["mean_nll"].get<double>(), 4.0);  // random weights over 512 pieces: near ln 512 = 6.2
}

TEST(CliModel, BadInputIsExitTwo) {
  for (const std::string& args : std::vector<std::string>
       {"ppl --model /nonexistent.gguf --text '" + kDoc + "'", "ppl --text /nonexistent.txt",
        "ppl --text '" + kDoc + "' --ctx 100000", "ppl --text '" + kDoc + "' --method alibi",
        "ppl --text '" + kDoc + "' --method yarn", "ppl --text '" + kDoc + "' --tokens x",
        "ppl --text '" + kDoc + "' --backend tpu", "attention --text '" + kDoc + "' --layer 9",
        "sweep --text '" + kDoc + "' --methods 'rope;;' --lengths 64", "sweep --text '" + kDoc + "' --methods rope --lengths 0",
        "generate -n -3", "info --model " + std::string(LONGSCOPE_TEST_DIR) + "/data/README.md"}) {
    CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.err.find("error:"), std::string::npos) << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << args << ": " << r.err;
  }
}

// The minimised bad inputs of tests/data/bad and hostile flags: exit 2, one line.
TEST(CliModel, HostileInputsAreExitTwoWithOneLine) {
  const std::string bad = std::string(LONGSCOPE_TEST_DIR) + "/data/bad/";
  std::vector<std::string> cases;
  for (const char* f : {"bloom_key_length.gguf", "wrong_type_key.gguf", "wrong_type_scaling.gguf", "huge_array.gguf",
                        "huge_layer_count.gguf", "int_min_vocab.bin", "config_wrong_type", "config_arch_not_string",
                        "config_huge_number", "bloom_indivisible"})
    cases.push_back("info --model " + bad + f);
  for (const char* m : {"ntk:alpha=1e-300", "alibi-linear:a=1e-300", "yarn:factor=nan"})
    cases.push_back("relpos --method '" + std::string(m) + "' --train-len 64 --seq-len 128");
  cases.push_back("ppl --threads 1000 --text '" + kDoc + "'");
  for (const auto& args : cases) {
    CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("error:"), std::string::npos) << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << args << ": " << r.err;
  }
  EXPECT_NE(run_cli("ppl --threads 1000 --text '" + kDoc + "'").err.find("cores"), std::string::npos);
}

// Memory stays bounded under a hard address-space limit (ASan reserves terabytes
// of address space, so these run in the plain build only).
TEST(CliModel, MemoryStaysBoundedUnderAddressSpaceLimit) {
#ifdef LS_ASAN
  GTEST_SKIP() << "address-space limits do not apply under AddressSanitizer";
#else
  // A million-token request: the KV cache grows with what is used (it took 2.1 GiB up front before).
  CliRun g = run_cli("generate -n 1048576 --prompt 'Once upon a time' --ids", "ulimit -v 900000; ");
  EXPECT_EQ(g.code, 0) << g.err;
  EXPECT_FALSE(g.out.empty());
  // 8 MiB of text with no whitespace: tokenised in bounded pieces, printed as a stream.
  const std::string doc = "/tmp/longscope_cli_nospace_" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream f(doc);
    f << std::string(8u << 20, 'x');
  }
  CliRun t = run_cli("tokenize --json --text " + doc + " > /dev/null", "ulimit -v 900000; ");
  EXPECT_EQ(t.code, 0) << t.err;
  std::remove(doc.c_str());
#endif
}

}  // namespace
}  // namespace ls::test
