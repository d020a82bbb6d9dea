// The ggml block types of the GGUF files people download: dequantisation against
// the implementation that defines the formats, files whose matrices stay quantised,
// and bad blocks refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/backends/backends.h"
#include "core/model/describe.h"
#include "core/model/gguf.h"
#include "core/position/spec.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

const DType kBlockTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                             DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::MXFP4};

// Every type but MXFP4 (newer than the gguf-py of llama.cpp b4747) against gguf-py's
// dequantize of the same random blocks (tests/data/quants/golden.txt; the command that
// made it is in tests/model/make_quant_golden.py). Equal to the last bit: the same
// float operations in the same order.
TEST(QuantTypes, DequantisationEqualsGgufPy) {
  std::ifstream f(LONGSCOPE_TEST_DIR "/data/quants/golden.txt");
  ASSERT_TRUE(f) << "tests/data/quants/golden.txt";
  std::string line;
  int types = 0;
  while (std::getline(f, line)) {
    std::istringstream head(line);
    std::string word, name;
    uint32_t ggml = 0;
    size_t block = 0, block_bytes = 0, n_blocks = 0;
    head >> word >> name >> ggml >> block >> block_bytes >> n_blocks;
    ASSERT_EQ(word, "type");
    DType t;
    ASSERT_TRUE(dtype_of_ggml(ggml, t)) << name;
    EXPECT_EQ(dtype_name(t), name);
    EXPECT_EQ(dtype_block(t), block) << name;
    EXPECT_EQ(dtype_block_bytes(t), block_bytes) << name;
    std::string hex, values;
    ASSERT_TRUE(std::getline(f, hex) && std::getline(f, values));
    std::vector<uint8_t> bytes;
    for (size_t i = 6; i + 1 < hex.size(); i += 2) bytes.push_back((uint8_t)std::stoul(hex.substr(i, 2), nullptr, 16));
    ASSERT_EQ(bytes.size(), n_blocks * block_bytes) << name;
    std::istringstream vs(values.substr(7));
    std::vector<float> want;
    for (float v; vs >> v;) want.push_back(v);
    ASSERT_EQ(want.size(), n_blocks * block) << name;
    std::vector<float> got(want.size());
    dequantize(t, bytes.data(), got.size(), got.data());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << name << " element " << i;
    ++types;
  }
  EXPECT_EQ(types, 12);
}

// MXFP4 (gpt-oss; ggml-common.h block_mxfp4): an E8M0 exponent e and 32 E2M1 codes,
// element j in the low nibble of byte j, element j + 16 in the high one; the value is
// the code's E2M1 number times 2^(e - 127). Hand-computed blocks.
TEST(QuantTypes, Mxfp4HandComputedBlocks) {
  const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int e : {127, 128, 130, 120, 1, 254}) {
    uint8_t blk[17];
    blk[0] = (uint8_t)e;
    for (int j = 0; j < 16; ++j) blk[1 + j] = (uint8_t)(j | ((15 - j) << 4));
    float out[32];
    dequantize(DType::MXFP4, blk, 32, out);
    const double scale = std::ldexp(1.0, e - 127);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(out[j], (float)(e2m1[j] * scale)) << "e=" << e << " j=" << j;
      EXPECT_EQ(out[16 + j], (float)(e2m1[15 - j] * scale)) << "e=" << e << " j=" << j + 16;
    }
  }
  EXPECT_EQ(dtype_bytes(DType::MXFP4, 64), 34u);
}

// A LLaMA of width 256 (rows of whole 256-element super-blocks) in GGUF, its
// matrices as random blocks of `t` (write_gguf_blocks), or their values as F32, or
// with the first scale of tensor `nan_in` set to NaN.
std::string write_block_model(const std::string& dir, DType t, bool dequantised, const std::string& nan_in = "",
                              DType output_type = DType::F64, int file_type = -1) {
  RandomModelSpec s;
  s.dim = 256, s.hidden_dim = 512, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 256, s.train_len = 128;
  const std::string blocks = dir + "/" + dtype_name(t) + ".gguf";
  EXPECT_TRUE(write_gguf_blocks(make_random_model(s), blocks, t, output_type, file_type).ok());
  if (!dequantised && nan_in.empty()) return blocks;
  auto g = read_gguf(blocks);
  EXPECT_TRUE(g.ok());
  if (!nan_in.empty()) {  // the same bytes with one scale made NaN (MXFP4: its exponent 0xff, 2^127, times 12 overflows)
    std::string bytes(reinterpret_cast<const char*>(g->file->data()), g->file->size());
    const size_t at = (size_t)(g->tensors.at(nan_in).data - g->file->data());
    if (t == DType::MXFP4) {
      for (size_t b = 0; b < g->tensors.at(nan_in).bytes; b += 17) bytes[at + b] = (char)0xff;
    } else {
      bytes[at + block_scale_offsets(t)[0]] = 0x00;
      bytes[at + block_scale_offsets(t)[0] + 1] = 0x7e;
    }
    const std::string out = dir + "/" + dtype_name(t) + "_nan.gguf";
    std::ofstream(out, std::ios::binary) << bytes;
    return out;
  }
  GgufWriter w;  // the F32 twin: every block widened
  for (const auto& [k, v] : g->meta) w.meta.push_back({k, v});
  for (const auto& [name, src] : g->tensors) {
    size_t count = 1;
    for (uint64_t d : src.shape) count *= d;
    std::vector<float> f(count);
    dequantize(src.dtype, src.data, f.size(), f.data());
    w.tensors.push_back({name, src.shape, DType::F32, f});
  }
  const std::string out = dir + "/" + dtype_name(t) + "_f32.gguf";
  EXPECT_TRUE(w.write(out).ok());
  return out;
}

std::vector<float> last_logits(const std::shared_ptr<const Model>& m, const std::vector<int>& toks) {
  auto e = make_engine(m, EngineOptions{}, (int)toks.size());
  EXPECT_TRUE(e.ok());
  EXPECT_TRUE((*e)->forward(toks.data(), (int)toks.size()).ok());
  std::vector<float> out;
  EXPECT_TRUE((*e)->logits((int)toks.size() - 1, out).ok());
  return out;
}

// A file of each block type loads with its matrices kept as stored (no fp32 copy),
// and the forward on the stored blocks equals the forward on their dequantised
// values written as F32: the matmul widens the right rows.
TEST(QuantTypes, MatricesStayQuantisedAndRunAsTheirValues) {
  const std::string dir = temp_dir("quant_types");
  std::vector<int> toks;
  for (int i = 0; i < 40; ++i) toks.push_back((i * 37 + 5) % 256);
  for (DType t : kBlockTypes) {
    auto q = load_ok(write_block_model(dir, t, false));
    auto f = load_ok(write_block_model(dir, t, true));
    ASSERT_TRUE(q && f) << dtype_name(t);
    EXPECT_EQ(q->weights.layers[1].w_down.dtype, t);
    EXPECT_EQ(q->weights.tok_embd.dtype, t);
    size_t owned = 0;
    for (const auto& o : q->owned) owned += o.size();
    EXPECT_EQ(owned, 0u) << dtype_name(t) << ": no dequantised copies";
    const auto a = last_logits(q, toks), b = last_logits(f, toks);
    ASSERT_EQ(a.size(), b.size());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
      scale = std::max(scale, (double)std::fabs(b[i]));
      ASSERT_TRUE(std::isfinite(a[i])) << dtype_name(t);
    }
    EXPECT_GT(scale, 1e-3) << dtype_name(t) << ": logits carry signal";
    EXPECT_LE(worst, 1e-5 * std::max(1.0, scale)) << dtype_name(t);
  }
}

// The file's type mix on the model line and in info's JSON, with llama.cpp's name
// of its general.file_type (15: Q4_K_M).
TEST(QuantTypes, TheModelLineNamesTheTypeMix) {
  const std::string dir = temp_dir("quant_mix");
  auto m = load_ok(write_block_model(dir, DType::Q4_K, false, "", DType::Q6_K, 15));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->config.file_type, "Q4_K_M");
  EXPECT_NE(model_line(*m, "BPE", "cpu").find(" · weights Q4_K_M: 15 Q4_K, 1 Q6_K · "), std::string::npos)
      << model_line(*m, "BPE", "cpu");
  const auto j = model_description(*m);
  EXPECT_EQ(j["weight_types"]["Q4_K"], 15);
  EXPECT_EQ(j["weight_types"]["Q6_K"], 1);
  EXPECT_EQ(j["file_type"], "Q4_K_M");
}

// Bad blocks: a NaN or Inf scale, a file cut inside a block, a type LongScope does
// not read (named), rows that are not whole blocks. One line each, no crash.
TEST(QuantTypes, BadBlocksAreRefusedByName) {
  const std::string dir = temp_dir("quant_bad");
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::IQ4_XS, DType::MXFP4, DType::Q5_0}) {
    const std::string path = write_block_model(dir, t, false, "blk.1.ffn_down.weight");
    expect_load_error(path, "layer 1 ffn down contain NaN or Inf");
  }
  // Cut inside the last tensor's blocks.
  const std::string good = write_block_model(dir, DType::Q4_K, false);
  const std::string bytes = read_all(good);
  {
    std::ofstream cut(dir + "/cut.gguf", std::ios::binary);
    cut << bytes.substr(0, bytes.size() - 100);
  }
  expect_load_error(dir + "/cut.gguf", "runs past the end of the file");
  // A type LongScope does not read: the Q4_K tensor's type field patched to IQ2_XXS (16).
  {
    std::string patched = bytes;
    const std::string name = "blk.0.attn_q.weight";
    size_t at = patched.find(name);
    ASSERT_NE(at, std::string::npos);
    at += name.size() + 4 + 2 * 8;  // n_dims, then two u64 dimensions
    uint32_t type;
    std::memcpy(&type, patched.data() + at, 4);
    ASSERT_EQ(type, 12u) << "the tensor record holds Q4_K";
    type = 16;
    std::memcpy(patched.data() + at, &type, 4);
    std::ofstream f(dir + "/iq2.gguf", std::ios::binary);
    f << patched;
  }
  expect_load_error(dir + "/iq2.gguf", "ggml type 16 (IQ2_XXS), not supported");
  // Rows of 64 elements cannot hold 256-element super-blocks, even where the whole
  // tensor is a whole number of them.
  GgufWriter w;
  w.meta.push_back({"general.architecture", {std::string("llama")}});
  w.tensors.push_back({"token_embd.weight", {512, 64}, DType::Q4_K, {}, std::vector<uint8_t>(dtype_bytes(DType::Q4_K, 512 * 64))});
  ASSERT_TRUE(w.write(dir + "/rows.gguf").ok());
  expect_load_error(dir + "/rows.gguf", "rows of 64 elements, not a whole number of Q4_K blocks of 256");
}

}  // namespace
}  // namespace ls::test
