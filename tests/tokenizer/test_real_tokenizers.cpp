// Real tokenizers give the models' own ids: Llama 3 / 3.2, Qwen2.5, Qwen3, gpt-oss,
// gpt-4o (o200k), Gemma 2 / 3, Mistral NeMo (tekken) and Llama 2, as tokenizer.json
// and as the GGUF vocabulary llama.cpp's converter writes from them, on a corpus of
// 80 short strings (prose, whitespace runs, CRLF, digits, code, CJK, Arabic, Hindi,
// emoji ZWJ sequences, NFC/NFD, controls, special-token text, long words) and seven
// documents over 64 KiB, against the ids Hugging Face tokenizers 0.23.2 gave
// (tests/data/tokenizers/README.md). SentencePiece vocabularies also against the
// sentencepiece library itself on the same text.
#include <gtest/gtest.h>

#include <sentencepiece_processor.h>

#include <filesystem>

#include "core/model/gguf.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/tokenizer/real_tokenizers.h"

namespace ls::test {
namespace {

struct Real {
  const char* name;
  const char* gguf_pre;  // "" for a SentencePiece vocabulary
  int model_vocab;       // the model's vocabulary (config.json vocab_size): padding rows included
  int gguf_bos;          // what llama.cpp puts before a text from the GGUF (-1: nothing)
};
// Llama 3.0's first tokenizer.json adds no BOS, but its GGUF does (llama.cpp's
// default for llama-bpe when tokenizer_config.json does not say).
const Real kReal[] = {
    {"llama3", "llama-bpe", 128256, 128000}, {"llama3.2", "llama-bpe", 128256, 128000}, {"qwen2.5", "qwen2", 152064, -1},
    {"qwen3", "qwen2", 151936, -1},          {"gpt-oss", "gpt-4o", 201088, -1},         {"gpt-4o", "gpt-4o", 200019, -1},
    {"gemma2", "", 256000, 2},               {"gemma3", "", 262208, 2},                 {"mistral-nemo", "tekken", 131072, 1},
    {"llama2", "", 32000, 1},
};

// Every corpus case through `tok`; the cases that differ from the golden ids.
std::vector<std::string> differences(const Tokenizer& tok, const Golden& g, const std::vector<CorpusCase>& cases) {
  std::vector<std::string> bad;
  for (const auto& c : cases) {
    auto ids = tok.encode(c.text);
    if (!ids) {
      bad.push_back(c.name + ": " + ids.error());
      continue;
    }
    if (std::string d = g.check(c.name, ids.value()); !d.empty()) bad.push_back(c.name + ": " + d);
  }
  return bad;
}

class RealTokenizer : public ::testing::TestWithParam<Real> {};

TEST_P(RealTokenizer, TokenizerJsonGivesHuggingFaceIds) {
  const Real r = GetParam();
  auto tok = Tokenizer::from_file(kTokDir + r.name + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.error();
  const Golden g(r.name);
  const auto cases = corpus();
  ASSERT_EQ(cases.size(), 87u);
  const auto bad = differences(*tok.value(), g, cases);
  EXPECT_TRUE(bad.empty()) << bad.size() << " of " << cases.size() << " cases differ; first: " << bad.front();
  // What the post-processor (and tokenizer_config.json) puts around a text.
  EXPECT_EQ(tok.value()->prefix(), g.prefix());
  EXPECT_EQ(tok.value()->suffix(), g.suffix());
  for (int id : tok.value()->prefix()) EXPECT_LT(id, tok.value()->vocab_size());
}

TEST_P(RealTokenizer, GgufVocabularyGivesTheSameIds) {
  const Real r = GetParam();
  const EmbeddedVocab v = gguf_vocab_like_llamacpp(kTokDir + r.name, r.gguf_pre, r.model_vocab);
  // Written and read back as a vocabulary-only GGUF.
  GgufWriter w;
  w.meta.push_back({"general.architecture", {std::string("llama")}});
  w.meta.push_back({"tokenizer.ggml.model", {v.kind}});
  if (!v.pre.empty()) w.meta.push_back({"tokenizer.ggml.pre", {v.pre}});
  w.meta.push_back({"tokenizer.ggml.tokens", {v.tokens}});
  w.meta.push_back({"tokenizer.ggml.scores", {std::vector<double>(v.scores.begin(), v.scores.end())}});
  w.meta.push_back({"tokenizer.ggml.token_type", {std::vector<int64_t>(v.types.begin(), v.types.end())}});
  if (!v.merges.empty()) w.meta.push_back({"tokenizer.ggml.merges", {v.merges}});
  if (v.bos_id >= 0) w.meta.push_back({"tokenizer.ggml.bos_token_id", {(uint64_t)v.bos_id}});
  if (v.eos_id >= 0) w.meta.push_back({"tokenizer.ggml.eos_token_id", {(uint64_t)v.eos_id}});
  if (v.kind == "llama") {
    w.meta.push_back({"tokenizer.ggml.unknown_token_id", {(uint64_t)v.unk_id}});
    w.meta.push_back({"tokenizer.ggml.add_space_prefix", {v.add_space_prefix}});
  }
  if (v.add_bos >= 0) w.meta.push_back({"tokenizer.ggml.add_bos_token", {v.add_bos == 1}});
  if (v.add_eos >= 0) w.meta.push_back({"tokenizer.ggml.add_eos_token", {v.add_eos == 1}});
  const std::string dir = ::testing::TempDir() + "/real_gguf_" + r.name;
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(w.write(dir + "/vocab.gguf").ok());
  auto tok = Tokenizer::from_file(dir + "/vocab.gguf");
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok.value()->vocab_size(), r.model_vocab);
  const Golden g(r.name);
  const auto cases = corpus();
  const auto bad = differences(*tok.value(), g, cases);
  EXPECT_TRUE(bad.empty()) << bad.size() << " of " << cases.size() << " cases differ; first: " << bad.front();
  EXPECT_EQ(tok.value()->prefix(), r.gguf_bos < 0 ? std::vector<int>{} : std::vector<int>{r.gguf_bos});
}

INSTANTIATE_TEST_SUITE_P(Models, RealTokenizer, ::testing::ValuesIn(kReal), [](const ::testing::TestParamInfo<Real>& p) {
  std::string n = p.param.name;
  for (char& c : n)
    if (!std::isalnum((unsigned char)c)) c = '_';
  return n;
});

// LongScope's BPE on a SentencePiece model against the sentencepiece library, on
// every corpus case: Llama 2's and Gemma 3's vocabularies (scores from their merge
// order) and Phi-3's GGUF vocabulary (LLaMA's real scores).
TEST(SentencePieceModel, EqualsTheSentencePieceLibraryOnTheCorpus) {
  std::vector<std::pair<std::string, EmbeddedVocab>> vocabs = {
      {"llama2", gguf_vocab_like_llamacpp(kTokDir + "llama2", "", 32000)},
      {"gemma3", gguf_vocab_like_llamacpp(kTokDir + "gemma3", "", 262144)},
  };
  auto phi3 = load_gguf_vocab(std::string(LONGSCOPE_TEST_DIR) + "/data/vocab/ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(phi3.ok()) << phi3.error();
  vocabs.push_back({"phi-3", *phi3.value()});
  const auto cases = corpus();
  for (const auto& [name, v] : vocabs) {
    const std::string path = ::testing::TempDir() + "/spm_" + name + ".model";
    const std::string proto = spm_model_proto(v, v.add_space_prefix);
    std::ofstream(path, std::ios::binary) << proto;
    sentencepiece::SentencePieceProcessor lib;
    ASSERT_TRUE(lib.LoadFromSerializedProto(proto).ok()) << name;
    auto ours = Tokenizer::from_file(path);
    ASSERT_TRUE(ours.ok()) << ours.error();
    int same = 0;
    for (const auto& c : cases) {
      std::vector<int> want;
      ASSERT_TRUE(lib.Encode(c.text, &want).ok());
      auto got = ours.value()->encode(c.text);
      ASSERT_TRUE(got.ok()) << got.error();
      EXPECT_EQ(got.value(), want) << name << ": " << c.name;
      same += got.value() == want;
    }
    EXPECT_EQ(same, (int)cases.size()) << name;
  }
}

}  // namespace
}  // namespace ls::test
