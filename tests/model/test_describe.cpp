// The model described once (core/model/describe.h): the app's model line and
// `info`'s JSON come from the same values.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/model/describe.h"
#include "core/model/random_model.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

TEST(DescribeModel, LineOfTheBundledModel) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  EXPECT_EQ(model_line(*m, "sentencepiece", "cpu"),
            "llama · llama · gguf · tokenizer sentencepiece · 5 layers · 8 heads (4 KV) · head_dim 8 · L = 512 "
            "(LongScope known-model setting (karpathy/tinyllamas stories260K was trained at context 512; its GGUF "
            "llama.context_length (2048) is an artefact of llama.cpp's llama2.c converter)) · base 10000 · "
            "interleaved · native rope · weights 37 F32 · backend cpu");
  const auto j = model_description(*m);
  EXPECT_EQ(j["n_layers"], 5);
  EXPECT_EQ(j["train_len"], 512);
  EXPECT_EQ(j["pair_layout"], "interleaved");
  EXPECT_EQ(j["native_method"], "rope");
}

// Family traits on the line: local layers with their base, the score cap.
TEST(DescribeModel, LineNamesTheFamilysTraits) {
  const std::string dir = temp_dir("describe_gemma2");
  auto spec = random_model_shape("tiny-gemma2").value();
  ASSERT_TRUE(write_hf_model(make_random_model(spec), dir).ok());
  auto m = load_ok(dir);
  ASSERT_TRUE(m);
  const std::string line = model_line(*m, "BPE", "cpu");
  const ModelConfig& c = m->config;
  ASSERT_GT(c.block.local_window, 0);
  EXPECT_NE(line.find("(local layers: window " + std::to_string(c.block.local_window)), std::string::npos) << line;
  ASSERT_GT(c.block.attn_softcap, 0);
  char cap[32];
  std::snprintf(cap, sizeof cap, "(score cap %g)", c.block.attn_softcap);
  EXPECT_NE(line.find(cap), std::string::npos) << line;
  EXPECT_NE(line.find("half-split"), std::string::npos) << line;
  EXPECT_EQ(model_description(*m)["attn_softcap"], c.block.attn_softcap);
}

}  // namespace
}  // namespace ls::test
