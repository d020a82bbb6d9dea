// Byte-level BPE against token ids Hugging Face tokenizers produced: llama.cpp's
// GPT-2 vocabulary test (tests/data/vocab: the vocab-only GGUF and its .inp/.out
// cases — Unicode, digits, whitespace runs, emoji, code). The same vocabulary as a
// tokenizer.json gives the same ids; Llama 3's and Qwen2's pre-tokenizers split
// digits as their regexes say; hostile text gets one clear error or bounded work.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/tokenizer/bpe.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"

namespace ls {
namespace {

const std::string kVocab = std::string(LONGSCOPE_TEST_DIR) + "/data/vocab/ggml-vocab-gpt-2.gguf";

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int> ids;
};

// llama.cpp's test-tokenizer-0 format: inputs separated by "\n__ggml_vocab_test__\n",
// one line of ids per input.
std::vector<Case> cases(const std::string& vocab = kVocab) {
  const std::string raw = slurp(vocab + ".inp"), sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> out;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    out.push_back({raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos), {}});
    if (next == std::string::npos) break;
    pos = next + sep.size();
  }
  std::istringstream o(slurp(vocab + ".out"));
  std::string line;
  for (size_t i = 0; std::getline(o, line); ++i) {
    std::istringstream ls(line);
    int id;
    while (ls >> id) out.at(i).ids.push_back(id);
  }
  return out;
}

void expect_all_cases(const Tokenizer& tok, const std::string& vocab = kVocab) {
  auto cs = cases(vocab);
  ASSERT_EQ(cs.size(), 46u);
  for (const auto& c : cs) {
    auto ids = tok.encode(c.text);
    ASSERT_TRUE(ids.ok()) << ids.error();
    EXPECT_EQ(ids.value(), c.ids) << "text: \"" << c.text << "\"";
    EXPECT_EQ(tok.decode(ids.value()), c.text);
  }
}

TEST(BpeTokenizer, Gpt2GgufVocabularyMatchesHuggingFaceIds) {
  auto tok = Tokenizer::from_file(kVocab);
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok.value()->kind(), "byte-level BPE (gpt-2)");
  EXPECT_EQ(tok.value()->vocab_size(), 50257);
  EXPECT_EQ(tok.value()->bos_id(), 50256);
  expect_all_cases(*tok.value());
  // An added (special) token in the text is matched whole.
  auto ids = tok.value()->encode("Hello<|endoftext|>world");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids.value(), (std::vector<int>{15496, 50256, 6894}));
  EXPECT_EQ(tok.value()->piece(15496), "Hello");
  EXPECT_EQ(tok.value()->piece(995), " world");
}

// MPT's vocabulary (EleutherAI's GPT-NeoX-20B BPE, 50,432 pieces; llama.cpp pre "mpt",
// GPT-2's regex) against the ids Hugging Face tokenizers gave for the same 46 texts.
TEST(BpeTokenizer, MptGgufVocabularyMatchesHuggingFaceIds) {
  const std::string vocab = std::string(LONGSCOPE_TEST_DIR) + "/data/vocab/ggml-vocab-mpt.gguf";
  auto tok = Tokenizer::from_file(vocab);
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok.value()->kind(), "byte-level BPE (mpt)");
  EXPECT_EQ(tok.value()->vocab_size(), 50432);
  expect_all_cases(*tok.value(), vocab);
}

// Phi-3's SentencePiece vocabulary (LLaMA's 32,000 pieces plus Phi-3's added tokens),
// rebuilt from the GGUF as a SentencePiece model, against the ids Hugging Face
// tokenizers gave for the same 46 texts.
TEST(SentencePieceFromGguf, Phi3VocabularyMatchesHuggingFaceIds) {
  const std::string vocab = std::string(LONGSCOPE_TEST_DIR) + "/data/vocab/ggml-vocab-phi-3.gguf";
  auto tok = Tokenizer::from_file(vocab);
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok.value()->kind(), "sentencepiece");
  auto cs = cases(vocab);
  ASSERT_EQ(cs.size(), 46u);
  int matched = 0;
  for (const auto& c : cs) {
    auto ids = tok.value()->encode(c.text);
    ASSERT_TRUE(ids.ok()) << ids.error();
    EXPECT_EQ(ids.value(), c.ids) << "text: \"" << c.text << "\"";
    matched += ids.value() == c.ids;
  }
  EXPECT_EQ(matched, 46);
}

// The same vocabulary written as a tokenizer.json, in both pre-tokenizer forms.
TEST(BpeTokenizer, TokenizerJsonGivesTheSameIds) {
  auto v = load_gguf_vocab(kVocab);
  ASSERT_TRUE(v.ok()) << v.error();
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i + 1 < v.value()->tokens.size(); ++i) vocab[v.value()->tokens[i]] = i;
  nlohmann::json merges = nlohmann::json::array();
  for (size_t i = 0; i < v.value()->merges.size(); ++i) {
    const std::string& m = v.value()->merges[i];
    if (i % 2) merges.push_back(m);  // both spellings: "a b" and [a, b]
    else merges.push_back({m.substr(0, m.find(' ', 1)), m.substr(m.find(' ', 1) + 1)});
  }
  nlohmann::json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
                      {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
                      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}};
  const std::string dir = testing::TempDir();
  std::ofstream(dir + "/tokenizer.json") << j.dump();
  auto a = Tokenizer::from_file(dir + "/tokenizer.json");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a.value()->vocab_size(), 50257);
  expect_all_cases(*a.value());
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", gguf_pre("gpt-2").value().regexes[0]}}}, {"behavior", "Isolated"}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  std::ofstream(dir + "/tokenizer2.json") << j.dump();
  auto b = Tokenizer::from_file(dir + "/tokenizer2.json");
  ASSERT_TRUE(b.ok()) << b.error();
  expect_all_cases(*b.value());
  for (const char* broken : {R"({"model": {"type": 5}})", R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})",
                             R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [1]}})",
                             R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": ["x"]}})",
                             R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel", "use_regex": "yes"}, "added_tokens": [{"id": -1}]})",
                             "[1, 2]", "{not json"}) {
    std::ofstream(dir + "/broken.json") << broken;
    auto r = Tokenizer::from_file(dir + "/broken.json");  // one clear error, never an exception
    EXPECT_FALSE(r.ok()) << broken;
  }
  j["model"]["type"] = "Unigram";
  std::ofstream(dir + "/tokenizer3.json") << j.dump();
  auto c = Tokenizer::from_file(dir + "/tokenizer3.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("not BPE"), std::string::npos) << c.error();
}

// Digits: GPT-2 keeps a run together, Llama 3 cuts it in threes, Qwen2 in ones.
TEST(BpeTokenizer, PreTokenizersSplitDigitsAsTheirRegexesSay) {
  EmbeddedVocab v;
  v.kind = "gpt2";
  for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_symbol((unsigned char)b));
  v.tokens.push_back("12");
  v.tokens.push_back("123");
  v.tokens.push_back("1234");
  v.merges = {"1 2", "12 3", "123 4"};
  v.types.assign(v.tokens.size(), 1);
  v.scores.assign(v.tokens.size(), 0.0f);
  auto ids_of = [&](const std::string& pre, const std::string& text) {
    v.pre = pre;
    auto tok = Tokenizer::from_vocab(v);
    EXPECT_TRUE(tok.ok()) << tok.error();
    return tok.value()->encode(text).value();
  };
  EXPECT_EQ(ids_of("gpt-2", "1234"), (std::vector<int>{258}));             // one piece: "1234"
  EXPECT_EQ(ids_of("llama-bpe", "1234"), (std::vector<int>{257, '4'}));    // "123" "4"
  EXPECT_EQ(ids_of("dbrx", "1234"), (std::vector<int>{257, '4'}));         // Llama 3's regex, merges: "123" "4"
  EXPECT_EQ(ids_of("qwen2", "1234"), (std::vector<int>{'1', '2', '3', '4'}));  // one digit each
  EXPECT_FALSE(gguf_pre("no-such-pre").ok());
}

TEST(BpeTokenizer, HostileTextAndVocabularies) {
  auto tok = Tokenizer::from_file(kVocab);
  ASSERT_TRUE(tok.ok());
  auto bad = tok.value()->encode(std::string("abc\xff\xfe"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("UTF-8"), std::string::npos);
  // 200,000 digits in one pre-token: merged whole (O(k log k); a quadratic merge
  // would run past the test's time limit), and decodes back.
  const std::string digits(200000, '7');
  auto ids = tok.value()->encode(digits);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(tok.value()->decode(ids.value()), digits);
  // A gpt2 vocabulary with an unknown pre-tokenizer, or without merges: refused by name.
  auto v = load_gguf_vocab(kVocab);
  ASSERT_TRUE(v.ok());
  EmbeddedVocab e = *v.value();
  e.pre = "no-such-pre";
  auto r = Tokenizer::from_vocab(e);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("\"no-such-pre\""), std::string::npos) << r.error();
  e.pre = "gpt-2";
  e.merges.clear();
  ASSERT_FALSE(Tokenizer::from_vocab(e).ok());
  e.merges = {"nospace"};
  ASSERT_FALSE(Tokenizer::from_vocab(e).ok());
}

}  // namespace
}  // namespace ls
