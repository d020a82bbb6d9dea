// Hostile files and inputs (issue: no crash, bounded memory, no silent NaN).
// Every minimised input under tests/data/bad/ once crashed LongScope or loaded and
// ran silently wrong; each must now give one clear error. Regenerate them with
// tests/data/bad/make_bad_inputs.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"
#include "core/engine/engine.h"
#include "core/model/safetensors.h"
#include "core/position/spec.h"
#include "core/util/memory.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

const std::string kBad = LONGSCOPE_TEST_DIR "/data/bad/";

TEST(HostileFiles, MinimisedInputsGiveOneClearError) {
  // Heap overflow before: BLOOM key_length larger than dim / heads.
  expect_load_error(kBad + "bloom_key_length.gguf", "heads × head dimension = width");
  // bad_variant_access before: keys present with the wrong type.
  expect_load_error(kBad + "wrong_type_key.gguf", "head_count_kv is not an integer");
  expect_load_error(kBad + "wrong_type_scaling.gguf", "rope.scaling.type is not a string");
  // 2^40-element array in an 896-byte file: refused before any allocation.
  expect_load_error(kBad + "huge_array.gguf", "runs past the end of the file");
  // "layer count -2147483648" before: the 64-bit value is range-checked before the cast.
  expect_load_error(kBad + "huge_layer_count.gguf", "block_count = 8589934592 is outside");
  // Undefined negation of INT32_MIN before.
  expect_load_error(kBad + "int_min_vocab.bin", "vocabulary size 2147483648");
  // JSON type_error exceptions before.
  expect_load_error(kBad + "config_wrong_type", "model_type is not a string");
  expect_load_error(kBad + "config_arch_not_string", "architectures[0] is not a string");
  expect_load_error(kBad + "config_huge_number", "num_hidden_layers = 1e+30");
  // Loaded and ran silently wrong before (64 / 6 heads truncated to 10 columns).
  expect_load_error(kBad + "bloom_indivisible", "heads × head dimension = width");
  // Found by fuzz_gguf: control characters in a metadata key made a two-line message.
  expect_load_error(kBad + "fuzz_control_char_key.gguf", "");
}

// NaN in any weight a BLOOM model has (biases, embedding LayerNorm) is found at
// load; only the LLaMA matrices were scanned before.
TEST(HostileFiles, NanInEveryBloomWeightKindIsFound) {
  const std::string dir = temp_dir("bloom_nan");
  auto spec = random_model_shape("tiny-bloom").value();
  for (const char* name : {"blk.1.attn_qkv.bias", "token_embd_norm.weight", "token_embd_norm.bias",
                           "blk.0.ffn_down.bias", "output_norm.bias", "blk.0.attn_output.bias"}) {
    RandomModel rm = make_random_model(spec);
    ASSERT_TRUE(rm.t.count(name)) << name;
    rm.t[name][1] = std::nanf("");
    const std::string path = dir + "/nan.gguf";
    ASSERT_TRUE(write_gguf_model(rm, path).ok());
    expect_load_error(path, "NaN");
  }
}

TEST(HostileFiles, OversizedHeadersAreRefusedBeforeParsing) {
  const std::string dir = temp_dir("big_header");
  // A header length just past the limit, in a (sparse) file long enough to hold it.
  const std::string st = dir + "/model.safetensors";
  {
    std::ofstream f(st, std::ios::binary);
    const uint64_t len = kMaxJsonHeaderBytes + 8;
    f.write(reinterpret_cast<const char*>(&len), 8);
    f << "{";
  }
  std::filesystem::resize_file(st, kMaxJsonHeaderBytes + 64);
  std::map<std::string, TensorSource> tensors;
  std::vector<std::shared_ptr<MappedFile>> keep;
  auto s = read_safetensors(st, tensors, keep);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("larger than the 16 MiB limit"), std::string::npos) << s.error();
  // A config.json past its limit is not read at all.
  {
    std::ofstream f(dir + "/config.json");
    f << "{\"pad\": \"";
  }
  std::filesystem::resize_file(dir + "/config.json", kMaxConfigJsonBytes + 1);
  expect_load_error(dir, "limit");
}

TEST(HostileTokenizer, MalformedBytePieceIsShownNotThrown) {
  EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>", "<0xZZ>", "<0x4>", "<0x41>", "\xe2\x96\x81" "a", "b"};
  v.scores.assign(v.tokens.size(), 0.0f);
  v.types = {2, 3, 3, 1, 1, 1, 1, 1};  // byte-like pieces as ordinary pieces (no byte fallback table)
  auto t = Tokenizer::from_vocab(v);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t.value()->piece(3), "<0xZZ>");  // std::stoi threw here before
  EXPECT_EQ(t.value()->piece(5), "A");
  EXPECT_EQ(t.value()->piece(-1), "");
  EXPECT_EQ(t.value()->piece(1000), "");
}

// Found by fuzz_tokenizer_model: a piece starting with NUL is a zero-length key to
// SentencePiece's trie builder, which throws (darts-clone) instead of returning a
// status; the exception ended the process before.
TEST(HostileTokenizer, NulPieceGivesOneClearError) {
  auto t = Tokenizer::from_file(kBad + "nul_piece.model");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("not a usable SentencePiece model"), std::string::npos) << t.error();
  EXPECT_EQ(t.error().find('\n'), std::string::npos) << t.error();

  // The same piece as a user-defined symbol of a GGUF vocabulary (its matcher is a trie too).
  EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>", std::string("\0k", 2), "b"};
  v.scores.assign(v.tokens.size(), 0.0f);
  v.types = {2, 3, 3, 4, 1};
  auto e = Tokenizer::from_vocab(v);
  if (!e.ok()) {
    EXPECT_NE(e.error().find("embedded vocabulary"), std::string::npos) << e.error();
  }
}

// A document gives the ids of whole-text encoding, however long, with or without
// spaces: nothing is lost at any cut.
TEST(HostileTokenizer, PieceEncodingEqualsWholeEncoding) {
  auto tok = Tokenizer::from_file(bundled_tokenizer()).value();
  std::ifstream f(LONGSCOPE_RESOURCES_DIR "/documents/heldout_books.txt");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  text = text.substr(0, 3 * kEncodePieceBytes + 1234);  // several pieces
  while (!text.empty() && ((unsigned char)text.back() & 0xC0) == 0x80) text.pop_back();
  ASSERT_GT(text.size(), 2 * kEncodePieceBytes);
  std::vector<int> pieces;
  ASSERT_TRUE(encode_in_pieces(*tok, text, pieces).ok());
  EXPECT_EQ(pieces, tok->encode(text).value());

  std::string nospace(3 * kEncodePieceBytes + 17, 'x');
  std::vector<int> ids;
  ASSERT_TRUE(encode_in_pieces(*tok, nospace, ids).ok());
  EXPECT_GT(ids.size(), nospace.size() / 16);
  EXPECT_EQ(ids, tok->encode(nospace).value());
  EXPECT_EQ(tok->decode(ids), nospace);
}

// The memory budget: LONGSCOPE_MEMORY_LIMIT_MB lowers it, and every large request is
// refused with its figures before anything is allocated.
class MemoryBudget : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("LONGSCOPE_MEMORY_LIMIT_MB", "64", 1); }
  void TearDown() override { ::unsetenv("LONGSCOPE_MEMORY_LIMIT_MB"); }
};

TEST_F(MemoryBudget, LimitIsHonouredAndNamed) {
  EXPECT_LE(available_memory_bytes(), size_t{64} << 20);
  auto st = check_memory(size_t{1} << 30, "a test buffer", "ask for less");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("a test buffer needs 1.0 GiB"), std::string::npos) << st.error();
  EXPECT_NE(st.error().find("ask for less"), std::string::npos);
  EXPECT_TRUE(check_memory(size_t{1} << 20, "a small buffer").ok());
}

TEST_F(MemoryBudget, EngineAndNbceAreRefusedWithFigures) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  EngineOptions o;
  auto e = make_engine(m, o, 1 << 20);  // ~2 GiB of KV cache for the bundled model
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("1048576 tokens"), std::string::npos) << e.error();
  EXPECT_NE(e.error().find("MiB are available"), std::string::npos) << e.error();
  // 40 chunks of 2,000 tokens: each engine fits alone, all together do not.
  RunConfig run;
  run.model = m;
  std::vector<std::vector<int>> chunks(40, std::vector<int>(2000, 5));
  auto r = run_nbce(run, chunks, {1, 5, 6}, 4, NbceOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("NBCE with 41 engines"), std::string::npos) << r.error();
}

// Quantised and 16-bit matrices are kept as stored (mapped, widened a block of rows
// at a time in the matmul): a model whose fp32 copy would pass the budget loads
// within it, Q8_0 and F16 alike; what must still be widened whole is checked first.
TEST_F(MemoryBudget, QuantisedMatricesAreNeverWidenedWhole) {
  const std::string dir = temp_dir("dequant");
  auto spec = random_model_shape("bundled").value();
  spec.vocab_size = 32000;
  spec.dim = 512;  // a 16M-element embedding: 64 MiB as fp32, past the 64 MiB budget's 90 %
  spec.n_heads = 8;
  spec.n_kv_heads = 8;
  spec.hidden_dim = 64;
  spec.n_layers = 1;
  ::unsetenv("LONGSCOPE_MEMORY_LIMIT_MB");
  const RandomModel model = make_random_model(spec);
  ASSERT_TRUE(write_gguf_model(model, dir + "/big.gguf", DType::Q8_0).ok());
  ASSERT_TRUE(write_gguf_model(model, dir + "/big16.gguf", DType::F16).ok());
  ::setenv("LONGSCOPE_MEMORY_LIMIT_MB", "64", 1);
  for (const char* f : {"/big.gguf", "/big16.gguf"}) {
    auto r = load_model(dir + f);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.value()->weights.tok_embd.dtype, std::string(f) == "/big.gguf" ? DType::Q8_0 : DType::F16);
  }
  // A fp32 copy that would not fit is still refused before it is made (the budget
  // check of WeightBuilder::get, which the quantised vectors of a file go through).
  Model m;
  std::vector<uint8_t> blocks(dtype_bytes(DType::Q8_0, size_t{1} << 24));
  std::map<std::string, TensorSource> t;
  t["v"] = TensorSource{DType::Q8_0, {uint64_t{1} << 24}, blocks.data(), blocks.size()};
  WeightBuilder b(m, t);
  auto r = b.get("v", {uint64_t{1} << 24});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("dequantising tensor v"), std::string::npos) << r.error();
}

// The KV cache grows as tokens arrive (a context of a million tokens costs what
// is used), and growing keeps every cached row: feeding in steps across the
// growth points equals one forward.
TEST(KvCache, GrowsOnDemandAndKeepsRows) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  auto toks = story_tokens(701);
  EngineOptions o;
  o.method = parse_method_spec("rerope:window=64").value();
  auto whole = make_engine(m, o, 700, DType::F64).take();
  ASSERT_TRUE(whole->forward(toks.data(), 700).ok());
  std::vector<double> a(700), b(700);
  ASSERT_TRUE(whole->nll(0, 700, toks.data() + 1, a.data()).ok());
  auto steps = make_engine(m, o, 1 << 20, DType::F64).take();  // 1M capacity: nothing that large is allocated
  int done = 0;
  for (int n : {100, 200, 1, 399}) {
    ASSERT_TRUE(steps->forward(toks.data() + done, n).ok());
    ASSERT_TRUE(steps->nll(0, n, toks.data() + done + 1, b.data() + done).ok());
    done += n;
  }
  ASSERT_EQ(done, 700);
  for (int i = 0; i < 700; ++i) EXPECT_NEAR(a[i], b[i], 1e-9) << "position " << i;
}

// A method the model cannot run is refused with the reason, never dropped in silence.
TEST(MethodForModel, LongRopeWithoutFactorsIsRefused) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  auto st = check_method_for_model(parse_method_spec("longrope").value(), m->config);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("factor lists"), std::string::npos) << st.error();
  EXPECT_FALSE(check_method_for_model(parse_method_spec("alibi").value(), m->config).ok());
}

// Activations that overflow give an error, never "ppl nan".
TEST(NonFinite, OverflowingActivationsAreAnError) {
  const std::string dir = temp_dir("overflow");
  RandomModel rm = make_random_model(random_model_shape("bundled").value());
  for (float& x : rm.t["blk.0.ffn_up.weight"]) x = 3e38f;  // finite weights, infinite products
  ASSERT_TRUE(write_gguf_model(rm, dir + "/big.gguf").ok());
  auto m = load_ok(dir + "/big.gguf");
  ASSERT_TRUE(m);
  RunConfig run;
  run.model = m;
  std::vector<int> toks(65);
  for (int i = 0; i < 65; ++i) toks[i] = (i * 37 + 3) % 512;
  auto r = run_ppl(run, toks, 64, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("non-finite"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace ls::test
