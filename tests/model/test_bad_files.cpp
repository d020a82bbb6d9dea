// Bad model files: one clear error each, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/model/gguf.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

void write_all(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

TEST(BadFiles, Llama2c) {
  const std::string dir = temp_dir("badbin");
  const std::string good = read_all(bundled_bin());
  write_all(dir + "/trunc.bin", good.substr(0, good.size() / 2));
  expect_load_error(dir + "/trunc.bin", "truncated");
  write_all(dir + "/tiny.bin", good.substr(0, 10));
  expect_load_error(dir + "/tiny.bin", "truncated");
  std::string absurd = good;
  int32_t huge = 1 << 30;
  std::memcpy(&absurd[0], &huge, 4);  // dim
  write_all(dir + "/absurd.bin", absurd);
  expect_load_error(dir + "/absurd.bin", "dim");
  std::string neg = good;
  int32_t minus = -5;
  std::memcpy(&neg[8], &minus, 4);  // n_layers
  write_all(dir + "/neg.bin", neg);
  expect_load_error(dir + "/neg.bin", "layer count");
  write_all(dir + "/extra.bin", good + std::string(100, '\0'));
  expect_load_error(dir + "/extra.bin", "unexpected bytes");
  std::string nan = good;
  float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nan[28 + 4 * 100], &q, 4);  // inside the token embedding
  write_all(dir + "/nan.bin", nan);
  expect_load_error(dir + "/nan.bin", "NaN");
}

TEST(BadFiles, Gguf) {
  const std::string dir = temp_dir("badgguf");
  const std::string good = read_all(bundled_gguf());
  std::string magic = good;
  magic[0] = 'X';
  write_all(dir + "/magic.gguf", magic);
  expect_load_error(dir + "/magic.gguf", "not a GGUF file");
  write_all(dir + "/trunc.gguf", good.substr(0, good.size() - 5000));
  expect_load_error(dir + "/trunc.gguf", "runs past the end");
  write_all(dir + "/header.gguf", good.substr(0, 2000));  // cut inside the metadata
  expect_load_error(dir + "/header.gguf", "runs past the end");
  std::string ver = good;
  uint32_t v9 = 9;
  std::memcpy(&ver[4], &v9, 4);
  write_all(dir + "/version.gguf", ver);
  expect_load_error(dir + "/version.gguf", "version 9");
  std::string counts = good;
  uint64_t lots = 1ull << 40;
  std::memcpy(&counts[8], &lots, 8);
  write_all(dir + "/counts.gguf", counts);
  expect_load_error(dir + "/counts.gguf", "more than a");
  // An unsupported tensor type, and an absurd architecture value, written by the GGUF writer.
  GgufWriter w;
  w.meta.push_back({"general.architecture", {std::string("llama")}});
  w.tensors.push_back({"token_embd.weight", {4, 8}, DType::F32, std::vector<float>(32, 0.1f)});
  ASSERT_TRUE(w.write(dir + "/small.gguf").ok());
  std::string small = read_all(dir + "/small.gguf");
  auto pos = small.find("token_embd.weight") + std::string("token_embd.weight").size() + 4 + 16;
  uint32_t iq2 = 16;  // ggml IQ2_XXS, a type LongScope does not read
  std::memcpy(&small[pos], &iq2, 4);
  write_all(dir + "/type.gguf", small);
  expect_load_error(dir + "/type.gguf", "not supported");
  expect_load_error(dir + "/small.gguf", "llama.embedding_length");
  GgufWriter arch;
  arch.meta.push_back({"general.architecture", {std::string("mamba")}});
  ASSERT_TRUE(arch.write(dir + "/arch.gguf").ok());
  expect_load_error(dir + "/arch.gguf", "not supported");
}

TEST(BadFiles, SafetensorsAndConfig) {
  const std::string dir = temp_dir("badst");
  RandomModelSpec spec;
  ASSERT_TRUE(write_hf_model(make_random_model(spec), dir + "/ok").ok());
  EXPECT_TRUE(load_model(dir + "/ok").ok());
  std::filesystem::copy(dir + "/ok", dir + "/trunc", std::filesystem::copy_options::recursive);
  std::string st = read_all(dir + "/ok/model.safetensors");
  write_all(dir + "/trunc/model.safetensors", st.substr(0, st.size() - 1000));
  expect_load_error(dir + "/trunc", "run past the end");
  std::filesystem::copy(dir + "/ok", dir + "/badcfg", std::filesystem::copy_options::recursive);
  write_all(dir + "/badcfg/config.json", "{ not json");
  expect_load_error(dir + "/badcfg", "not valid JSON");
  std::filesystem::copy(dir + "/ok", dir + "/shape", std::filesystem::copy_options::recursive);
  std::string cfg = read_all(dir + "/ok/config.json");
  cfg.replace(cfg.find("\"intermediate_size\": 172"), 24, "\"intermediate_size\": 100");
  write_all(dir + "/shape/config.json", cfg);
  expect_load_error(dir + "/shape", "the config implies");
  std::filesystem::create_directories(dir + "/empty");
  expect_load_error(dir + "/empty", "config.json not found");
  expect_load_error(dir + "/nonexistent.gguf", "does not exist");
  write_all(dir + "/notes.txt", "hello");
  expect_load_error(dir + "/notes.txt", "unknown model format");
}

TEST(Tokenizer, RoundTripAndGoldenIds) {
  auto file = Tokenizer::from_file(bundled_tokenizer());
  ASSERT_TRUE(file.ok()) << file.error();
  auto m = load_ok(bundled_gguf());
  auto embedded = Tokenizer::for_model(*m);
  ASSERT_TRUE(embedded.ok()) << embedded.error();
  EXPECT_EQ(embedded.value()->source(), "embedded vocabulary");
  const std::string text = "Once upon a time, there was a little girl named Lily. She loved ün café ✓!";
  auto a = file.value()->encode(text), b = embedded.value()->encode(text);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.value(), b.value()) << "the GGUF vocabulary must tokenise like tok512.model";
  EXPECT_EQ(file.value()->decode(a.value()), text);
  // Golden ids from llama2.c's tokenizer for "Once upon a time" (tok512): ▁Once ▁upon ▁a ▁time
  auto once = file.value()->encode("Once upon a time").value();
  EXPECT_EQ(once, (std::vector<int>{403, 407, 261, 378}));
  EXPECT_EQ(file.value()->bos_id(), 1);
  EXPECT_EQ(file.value()->piece(403), " Once");
  EXPECT_EQ(file.value()->piece(13), "\n") << "byte piece <0x0A> displays as a newline";
  EXPECT_EQ(file.value()->piece(3), "<0x00>") << "non-printable bytes stay visible";
}

TEST(Tokenizer, WrongTokenizerAndBadDocuments) {
  const std::string dir = temp_dir("tok");
  RandomModelSpec spec;
  // A vocabulary larger than the tokenizer's holds padding rows (Qwen's 151,936 for
  // 151,669 tokens): accepted. A smaller one cannot hold the tokenizer's ids.
  spec.vocab_size = 600;
  ASSERT_TRUE(write_llama2c(make_random_model(spec), dir + "/padded.bin").ok());
  auto padded = Tokenizer::for_model(*load_ok(dir + "/padded.bin"), bundled_tokenizer());
  ASSERT_TRUE(padded.ok()) << padded.error();
  spec.vocab_size = 400;
  ASSERT_TRUE(write_llama2c(make_random_model(spec), dir + "/m.bin").ok());
  auto m = load_ok(dir + "/m.bin");
  auto wrong = Tokenizer::for_model(*m, bundled_tokenizer());
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().find("wrong tokenizer"), std::string::npos) << wrong.error();
  auto none = Tokenizer::for_model(*m);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("--tokenizer"), std::string::npos);
  write_all(dir + "/notsp.model", "garbage");
  EXPECT_FALSE(Tokenizer::from_file(dir + "/notsp.model").ok());
  write_all(dir + "/empty.txt", "  \n\n");
  EXPECT_NE(read_text_file(dir + "/empty.txt").error().find("empty"), std::string::npos);
  write_all(dir + "/latin1.txt", "caf\xe9 au lait");
  EXPECT_NE(read_text_file(dir + "/latin1.txt").error().find("UTF-8"), std::string::npos);
  write_all(dir + "/big.txt", std::string(2000, 'a'));
  EXPECT_NE(read_text_file(dir + "/big.txt", 1000).error().find("limit"), std::string::npos);
}

TEST(Tokenizer, DocumentsPutBosBeforeEveryStory) {
  auto tok = Tokenizer::from_file(bundled_tokenizer()).value();
  auto ids = encode_document(*tok, "One story.\n<|endoftext|>\nAnother story.\n").value();
  int bos = 0;
  for (int id : ids) bos += id == 1;
  EXPECT_EQ(bos, 2);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok->decode(ids), "One story. Another story.");  // each story starts with SentencePiece's dummy space
}

}  // namespace
}  // namespace ls::test
