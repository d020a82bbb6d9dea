// GGUF native scaling as llama.cpp (b4747) resolves it: the rope_freqs tensor of
// Llama 3.x files, rope_factors_long/short with longrope, the scaling keys'
// defaults and precedence. Hand-made GGUFs carry the keys and tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/model/safetensors.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

using Meta = std::vector<std::pair<std::string, GgufValue>>;

RandomModel tiny_llama(double base, int context) {
  RandomModelSpec s = random_model_shape("bundled").value();  // head_dim 8: four rotary pairs
  s.rope_base = base;
  s.train_len = context;
  return make_random_model(s);
}

Result<std::shared_ptr<const Model>> load_with(const RandomModel& rm, const Meta& meta, const std::string& name) {
  const std::string path = temp_dir("gguf_scaling") + "/" + name + ".gguf";
  if (auto st = write_gguf_model(rm, path, DType::F32, nullptr, meta); !st) return make_error(st.error());
  return load_model(path);
}

// convert_hf_to_gguf.py's rope_freqs for HF's llama3 rope_scaling, computed here
// from the published formula (factor, low/high_freq_factor, original length).
std::vector<float> llama3_freq_factors(int d, double base, double factor, double low, double high, double orig) {
  std::vector<float> out;
  for (int i = 0; i < d / 2; ++i) {
    const double freq = std::pow(base, -2.0 * i / d), wavelen = 2 * M_PI / freq;
    if (wavelen < orig / high) out.push_back(1.0f);
    else if (wavelen > orig / low) out.push_back((float)factor);
    else {
      const double smooth = (orig / wavelen - low) / (high - low);
      out.push_back((float)(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

TEST(GgufScaling, Llama31RopeFreqsTensorGivesTheLlama3Frequencies) {
  RandomModel rm = tiny_llama(500000.0, 131072);
  const std::vector<float> ff = llama3_freq_factors(8, 500000.0, 8.0, 1.0, 4.0, 8192.0);
  ASSERT_EQ(ff[0], 1.0f);  // the four pairs cover all three bands
  ASSERT_EQ(ff[3], 8.0f);
  ASSERT_GT(ff[2], 1.0f);
  ASSERT_LT(ff[2], 8.0f);
  rm.t["rope_freqs.weight"] = ff;
  auto m = load_with(rm, {}, "llama31");
  ASSERT_TRUE(m.ok()) << m.error();
  const ModelConfig& c = m.value()->config;
  EXPECT_EQ(c.native_method.method, Method::LongRope);
  EXPECT_NE(c.native_source.find("rope_freqs"), std::string::npos) << c.native_source;
  MethodParams gguf = c.native_method;
  attach_model_tables(gguf, c);

  // The same model described by Llama-3.1-8B's config.json (rope_type llama3), at rot_dim 8.
  std::ifstream f(LONGSCOPE_TEST_DIR "/data/configs/llama-3.1-8b.json");
  ModelConfig hf;
  ASSERT_TRUE(resolve_hf_config(nlohmann::json::parse(f), hf).ok());
  ASSERT_EQ(hf.native_method.method, Method::Llama3);
  ASSERT_EQ(hf.train_len, 8192);
  for (double n : {100.0, 9000.0, 131072.0}) {
    const PositionContext at_gguf{8, c.rope_base, (double)c.train_len, n}, at_hf{8, hf.rope_base, 8192.0, n};
    for (int i = 0; i < 4; ++i) {
      const double theta = std::pow(500000.0, -2.0 * i / 8);
      EXPECT_DOUBLE_EQ(rope_inv_freq(gguf, at_gguf, i), theta / (double)ff[i]) << i;
      EXPECT_NEAR(rope_inv_freq(gguf, at_gguf, i), rope_inv_freq(hf.native_method, at_hf, i), 1e-7 * theta) << i;
    }
    EXPECT_EQ(rope_attention_factor(gguf, at_gguf), 1.0);
  }
  // Before: loaded as plain RoPE, θ off by up to the factor 8 on the low-frequency pairs.
  EXPECT_NE(method_spec_string(c.native_method), "rope");

  // rope_freqs together with another scaling cannot be represented: refused.
  auto both = load_with(rm, {{"llama.rope.scaling.type", {std::string("linear")}}, {"llama.rope.scaling.factor", {2.0}}},
                        "llama31_linear");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().find("rope_freqs"), std::string::npos) << both.error();
}

TEST(GgufScaling, LongRopeFactorTensors) {
  RandomModel rm = tiny_llama(10000.0, 131072);
  const Meta meta = {{"llama.rope.scaling.type", {std::string("longrope")}},
                     {"llama.rope.scaling.attn_factor", {1.19}},
                     {"llama.rope.scaling.original_context_length", {(uint64_t)4096}}};
  auto missing = load_with(rm, meta, "longrope_missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("rope_factors_long"), std::string::npos) << missing.error();
  rm.t["rope_factors_short.weight"] = {1.0f, 1.5f, 2.0f, 2.5f};
  rm.t["rope_factors_long.weight"] = {1.0f, 3.0f, 9.0f, 27.0f};
  auto m = load_with(rm, meta, "longrope");
  ASSERT_TRUE(m.ok()) << m.error();
  const ModelConfig& c = m.value()->config;
  EXPECT_EQ(c.train_len, 4096);
  MethodParams p = c.native_method;
  attach_model_tables(p, c);
  ASSERT_EQ(p.method, Method::LongRope);
  const PositionContext inside{8, 10000.0, 4096, 4000}, beyond{8, 10000.0, 4096, 5000};
  EXPECT_DOUBLE_EQ(rope_inv_freq(p, inside, 2), std::pow(10000.0, -0.5) / 2.0);
  EXPECT_DOUBLE_EQ(rope_inv_freq(p, beyond, 2), std::pow(10000.0, -0.5) / 9.0);
  EXPECT_NEAR(rope_attention_factor(p, beyond), 1.19, 1e-6);  // as given (llama.cpp's attn_factor)
}

TEST(GgufScaling, KeysDefaultAndPrecedenceAsLlamaCpp) {
  const RandomModel rm = tiny_llama(10000.0, 4096);
  // A factor with no type: llama.cpp's default type is linear.
  auto a = load_with(rm, {{"llama.rope.scaling.factor", {4.0}}}, "no_type");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(method_spec_string(a.value()->config.native_method), "linear:factor=4");
  // rope.scaling.factor wins over the older rope.scale_linear.
  auto b = load_with(rm, {{"llama.rope.scale_linear", {2.0}}, {"llama.rope.scaling.factor", {4.0}}}, "both");
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(b.value()->config.native_method.rope.factor, 4.0);
  auto b2 = load_with(rm, {{"llama.rope.scale_linear", {2.0}}}, "legacy");
  ASSERT_TRUE(b2.ok()) << b2.error();
  EXPECT_EQ(method_spec_string(b2.value()->config.native_method), "linear:factor=2");
  // type none: no scaling whatever the factor.
  auto c = load_with(rm, {{"llama.rope.scaling.type", {std::string("none")}}, {"llama.rope.scaling.factor", {4.0}}},
                     "none");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.value()->config.native_method.method, Method::Rope);
  // YaRN: attn_factor × yarn_attn_factor × (1 + 0.1·ln s), as ggml's rope applies it.
  auto d = load_with(rm,
                     {{"llama.rope.scaling.type", {std::string("yarn")}},
                      {"llama.rope.scaling.factor", {4.0}},
                      {"llama.rope.scaling.attn_factor", {0.8}},
                      {"llama.rope.scaling.yarn_attn_factor", {0.9}}},
                     "yarn");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_NEAR(d.value()->config.native_method.rope.attention_factor, 0.8 * 0.9 * (1 + 0.1 * std::log(4.0)), 1e-6);
  // Unknown types are refused, not run as plain RoPE.
  auto e = load_with(rm, {{"llama.rope.scaling.type", {std::string("mystery")}}}, "mystery");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("not supported"), std::string::npos) << e.error();
}

// Llama 3 / Qwen2 GGUFs carry a byte-level BPE vocabulary (tokenizer.ggml.model =
// gpt2), read by core/tokenizer/bpe (tests/model/test_bpe_tokenizer.cpp). One whose
// pre-tokenizer LongScope does not know ("default" here: no tokenizer.ggml.pre) is
// refused with that reason, never rebuilt as a SentencePiece model.
TEST(GgufScaling, ByteLevelBpeWithAnUnknownPreTokenizerIsRefusedClearly) {
  const RandomModel rm = tiny_llama(10000.0, 4096);
  EmbeddedVocab v;
  v.kind = "gpt2";
  for (int i = 0; i < rm.spec.vocab_size; ++i) v.tokens.push_back("t" + std::to_string(i));
  v.scores.assign(v.tokens.size(), 0.0f);
  v.types.assign(v.tokens.size(), 1);
  const std::string path = temp_dir("gguf_scaling") + "/bpe.gguf";
  ASSERT_TRUE(write_gguf_model(rm, path, DType::F32, &v).ok());
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.error();
  ASSERT_TRUE(m.value()->vocab);
  EXPECT_EQ(m.value()->vocab->kind, "gpt2");
  auto t = Tokenizer::for_model(*m.value());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("byte-level BPE pre-tokenizer \"default\""), std::string::npos) << t.error();
}

}  // namespace
}  // namespace ls::test

namespace ls::test {
namespace {

// llama.cpp's mpt GGUFs: max_alibi_bias 0 (learned positions), another maximum,
// clamp_kqv and a pos_embd tensor are each refused by name, never run as plain ALiBi.
TEST(GgufScaling, MptWhatLongScopeCannotRunIsRefused) {
  RandomModel rm = make_random_model(random_model_shape("tiny-mpt").value());
  ASSERT_TRUE(load_with(rm, {}, "mpt_ok").ok());
  for (auto [meta, says] : std::vector<std::pair<Meta, std::string>>{
           {{{"mpt.attention.max_alibi_bias", {0.0}}}, "max_alibi_bias"},
           {{{"mpt.attention.max_alibi_bias", {16.0}}}, "max_alibi_bias"},
           {{{"mpt.attention.clamp_kqv", {6.0}}}, "clamp_kqv"}}) {
    auto r = load_with(rm, meta, "mpt_bad");
    ASSERT_FALSE(r.ok()) << says;
    EXPECT_NE(r.error().find(says), std::string::npos) << r.error();
  }
  rm.t["pos_embd.weight"] = std::vector<float>(256 * 96, 0.0f);
  auto r = load_with(rm, {}, "mpt_pos");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("pos_embd"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace ls::test
