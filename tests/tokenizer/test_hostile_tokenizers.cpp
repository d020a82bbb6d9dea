// Hostile tokenizer files (tests/tokenizer/hostile_tokenizers.h, tests/data/bad):
// tens of thousands of special tokens, a long merge chain, a backtracking regex,
// JSON nested thousands of levels deep. Each gives the ids a plain reading of the
// file gives (checked against a naive implementation written here), or one clear
// error; their speed is measured by bench/bench_tokenize (--write-hostile).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/engine/test_support.h"
#include "tests/tokenizer/hostile_tokenizers.h"

namespace ls::test {
namespace {

const std::string kBad = LONGSCOPE_TEST_DIR "/data/bad/";

std::shared_ptr<const Tokenizer> write_and_load(const std::string& name, const std::string& json) {
  const std::string path = temp_dir("hostile_tok") + "/" + name;
  std::ofstream(path, std::ios::binary) << json;
  auto t = Tokenizer::from_file(path);
  EXPECT_TRUE(t.ok()) << name << ": " << (t.ok() ? "" : t.error());
  return t.ok() ? t.value() : nullptr;
}

// 65,280 special tokens: a text that mixes prose, whole special tokens and near
// misses ("<|s12345|", "<|s6528" …) gives, part by part, the special ids and the
// plain byte-level ids of the text between them.
TEST(HostileTokenizers, SixtyFiveThousandSpecialTokensMatchWhole) {
  const int n = 65280;
  auto many = write_and_load("specials.json", many_specials_tokenizer(n).dump());
  auto plain = write_and_load("plain.json", byte_level_tokenizer().dump());
  ASSERT_TRUE(many && plain);
  EXPECT_EQ(many->vocab_size(), 256 + n);
  std::mt19937 rng(7);
  std::string text;
  std::vector<int> expect;
  std::string between;
  auto flush = [&] {
    auto ids = plain->encode(between);
    ASSERT_TRUE(ids.ok());
    expect.insert(expect.end(), ids->begin(), ids->end());
    between.clear();
  };
  const char* words[] = {"the ", "cat ", "<|s", "<|s1234|", "<|s99999|>", "|> ", "<", "sat. ", "\n"};
  for (int i = 0; i < 4000; ++i) {
    if (rng() % 3 == 0) {
      const int k = (int)(rng() % n);
      flush();
      text += special_token_text(k);
      expect.push_back(256 + k);
    } else {
      const std::string w = words[rng() % 9];
      text += w, between += w;
    }
  }
  flush();
  auto ids = many->encode(text);
  ASSERT_TRUE(ids.ok()) << ids.error();
  EXPECT_EQ(ids.value(), expect);
  // Decoding leaves special tokens out.
  EXPECT_EQ(many->decode({256, 105, 256 + n - 1}), "i");
}

// Plain BPE as its definition reads (Sennrich et al. 2016; Hugging Face tokenizers'
// Word::merge_all): merge the pair of lowest rank, leftmost first, until none is left.
std::vector<std::string> naive_bpe(const std::string& word, const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> s;
  for (char c : word) s.emplace_back(1, c);
  for (;;) {
    int best = -1, rank = INT32_MAX;
    for (size_t i = 0; i + 1 < s.size(); ++i)
      if (auto it = ranks.find({s[i], s[i + 1]}); it != ranks.end() && it->second < rank) rank = it->second, best = (int)i;
    if (best < 0) return s;
    s[(size_t)best] += s[(size_t)best + 1];
    s.erase(s.begin() + best + 1);
  }
}

// A 510-rank merge chain (a a → aa, aa a → aaa, …): words of 1 to 600 a's split
// as the naive definition splits them, and a text of such words encodes as the
// words one by one.
TEST(HostileTokenizers, LongMergeChainMergesAsTheDefinitionSays) {
  const int n = 510;
  auto tok = write_and_load("chain.json", merge_chain_tokenizer(n).dump());
  ASSERT_TRUE(tok);
  std::map<std::pair<std::string, std::string>, int> ranks;
  for (int k = 1; k <= n; ++k) ranks[{std::string((size_t)k, 'a'), "a"}] = k - 1;
  auto id_of = [&](const std::string& run) { return run.size() == 1 ? (int)'a' : 256 + (int)run.size() - 2; };
  std::string text;
  for (int len = 1; len <= 600; ++len) {
    const std::string word((size_t)len, 'a');
    std::vector<int> expect;
    for (const auto& p : naive_bpe(word, ranks)) expect.push_back(id_of(p));
    auto ids = tok->encode(word);
    ASSERT_TRUE(ids.ok());
    ASSERT_EQ(ids.value(), expect) << len << " a's";
    if (len > 1) text += ' ';
    text += word;
  }
  // " aaa…": the space's symbol Ġ has no merge with "a", so each word after the first
  // is Ġ and then the word's own ids.
  auto ids = tok->encode(text);
  ASSERT_TRUE(ids.ok());
  std::vector<int> expect;
  for (int len = 1; len <= 600; ++len) {
    if (len > 1) expect.push_back(tok->encode(" ").value().at(0));
    for (const auto& p : naive_bpe(std::string((size_t)len, 'a'), ranks)) expect.push_back(id_of(p));
  }
  EXPECT_EQ(ids.value(), expect);
}

// A Split regex that backtracks exponentially: short texts tokenize as it says, a
// long run of a's ends in one clear error instead of minutes of matching.
TEST(HostileTokenizers, BacktrackingRegexEndsInAClearError) {
  auto tok = Tokenizer::from_file(kBad + "backtracking_tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.error();
  auto ok = tok.value()->encode("aab cab");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(tok.value()->decode(ok.value()), "aab cab");
  int errors = 0;
  for (size_t len : {size_t{512}, size_t{100000}, size_t{1} << 20}) {
    std::string text(len, 'a');
    text += " x";
    auto r = tok.value()->encode(text);
    if (r.ok()) {
      EXPECT_EQ(tok.value()->decode(r.value()), text);  // PCRE2 ruled the match out at once
      continue;
    }
    ++errors;
    EXPECT_NE(r.error().find("(a|aa){1,40}b"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("backtracks too much"), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find('\n'), std::string::npos);
  }
  EXPECT_GE(errors, 1);  // the megabyte of a's, at least
}

// 5000 levels of nesting, inside model or the pre-tokenizer, in a tokenizer.json
// or a config.json: an error naming the limit (a stack overflow before).
TEST(HostileTokenizers, DeepNestingIsAnError) {
  for (const char* f : {"deep_model_tokenizer.json", "deep_pre_tokenizer.json"}) {
    auto t = Tokenizer::from_file(kBad + f);
    ASSERT_FALSE(t.ok()) << f;
    EXPECT_NE(t.error().find("nests more than 64 levels deep"), std::string::npos) << t.error();
  }
  for (bool in_pre : {false, true}) {
    const std::string path = temp_dir("deep_tok") + "/tokenizer.json";
    std::ofstream(path) << deeply_nested_tokenizer(5000, in_pre);
    auto t = Tokenizer::from_file(path);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().find("nests more than 64 levels deep"), std::string::npos) << t.error();
  }
  auto m = load_model(kBad + "deep_config");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("nests more than 64 levels deep"), std::string::npos) << m.error();
  // 64 levels are fine where a value may be anything (a config's unknown key).
  const std::string dir = temp_dir("nest64");
  std::ofstream(dir + "/config.json") << R"({"architectures":["LlamaForCausalLM"],"x":)" << std::string(62, '[')
                                      << std::string(62, ']') << "}";
  auto m64 = load_model(dir);
  ASSERT_FALSE(m64.ok());
  EXPECT_EQ(m64.error().find("nests"), std::string::npos) << m64.error();
}

// A tokenizer with no BOS-like token puts nothing before a text (it printed -1).
TEST(HostileTokenizers, NoBosMeansNothingBefore) {
  auto tok = Tokenizer::from_file(kBad + "no_bos_tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok.value()->bos_id(), -1);
  EXPECT_TRUE(tok.value()->prefix().empty());
  auto ids = encode_document(*tok.value(), "hi\n<|endoftext|>\nyo");
  ASSERT_TRUE(ids.ok()) << ids.error();
  for (int id : ids.value()) EXPECT_TRUE(id >= 0 && id < tok.value()->vocab_size()) << id;
}

}  // namespace
}  // namespace ls::test
