// Config resolution (docs/methods.md §7 pitfalls) and tensor type decoding.
#include <gtest/gtest.h>

#include <tuple>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/model/dtype.h"
#include "core/model/safetensors.h"
#include "core/position/spec.h"

namespace ls {
namespace {

using nlohmann::json;

json llama_cfg() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 256}, {"intermediate_size", 688},
          {"num_hidden_layers", 2}, {"num_attention_heads", 8}, {"num_key_value_heads", 2}, {"vocab_size", 1000},
          {"max_position_embeddings", 4096}, {"rope_theta", 500000.0}};
}

TEST(Config, PlainLlama) {
  ModelConfig c;
  ASSERT_TRUE(resolve_hf_config(llama_cfg(), c).ok());
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.rot_dim, 32);
  EXPECT_EQ(c.rope_base, 500000.0);
  EXPECT_EQ(c.train_len, 4096);
  EXPECT_EQ(c.layout, PairLayout::HalfSplit);
  EXPECT_EQ(c.native_method.method, Method::Rope);
}

TEST(Config, ScalingVariants) {
  ModelConfig c;
  json j = llama_cfg();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(method_spec_string(c.native_method), "linear:factor=4");
  EXPECT_EQ(c.rope_base, 500000.0) << "rope_theta kept when a scaling dict is present";

  j = llama_cfg();
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(method_spec_string(c.native_method), "dynamic-ntk:alpha=2");
  EXPECT_EQ(c.train_len, 4096) << "HF dynamic measures n against max_position_embeddings";

  j = llama_cfg();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 1024},
                       {"attention_factor", 1.2}, {"beta_fast", 16}, {"truncate", false}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.method, Method::Yarn);
  EXPECT_EQ(c.train_len, 1024) << "the original length, not the extended one";
  EXPECT_EQ(c.native_method.rope.attention_factor, 1.2) << "explicit attention_factor honoured";
  EXPECT_EQ(c.native_method.rope.beta_fast, 16);
  EXPECT_EQ(c.native_method.rope.truncate, 0);

  // yarn without an original length: transformers' _compute_yarn_parameters measures
  // the correction range against max_position_embeddings itself.
  j = llama_cfg();
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.train_len, 4096);

  j = llama_cfg();  // rope_parameters with rope_theta inside, original length at top level
  j.erase("rope_theta");
  j["original_max_position_embeddings"] = 8192;
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"rope_theta", 250000.0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.method, Method::Llama3);
  EXPECT_EQ(c.rope_base, 250000.0);
  EXPECT_EQ(c.train_len, 8192);

  j = llama_cfg();
  j["partial_rotary_factor"] = 0.5;
  j["head_dim"] = 64;
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rot_dim, 32);

  j = llama_cfg();
  j["rope_scaling"] = {{"type", "mystery"}, {"factor", 2.0}};
  auto st = resolve_hf_config(j, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("not supported"), std::string::npos);
}

// The config.json defects of the model-families issue, each against what
// transformers' modeling_rope_utils.py computes.
TEST(Config, ScalingResolvedAsTransformersDoes) {
  ModelConfig c;
  // DeepSeek-style mscale / mscale_all_dim: get_mscale(s, mscale) / get_mscale(s, mscale_all_dim).
  json j = llama_cfg();
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 40.0}, {"original_max_position_embeddings", 4096},
                       {"mscale", 1.0}, {"mscale_all_dim", 0.5}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_NEAR(c.native_method.rope.attention_factor, (0.1 * std::log(40.0) + 1) / (0.05 * std::log(40.0) + 1), 1e-15);
  j["rope_scaling"]["mscale_all_dim"] = 1.0;  // equal: factor 1 (DeepSeek-V2's 0.707 / 0.707)
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.rope.attention_factor, 1.0);

  // transformers v5 rope_parameters: its rope_theta wins over a top-level one.
  j = llama_cfg();
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.rope_base, 1000000.0);

  // dynamic NTK: n is measured against max_position_embeddings even with an original length.
  j = llama_cfg();
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}, {"original_max_position_embeddings", 1024}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.train_len, 4096);

  // longrope with an explicit factor and no original length: the factor is used.
  j = llama_cfg();
  j["rope_scaling"] = {{"type", "longrope"}, {"factor", 8.0}, {"short_factor", std::vector<double>(16, 1.0)},
                       {"long_factor", std::vector<double>(16, 2.0)}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.rope.factor, 8.0);
  MethodParams p = c.native_method;
  attach_model_tables(p, c);
  EXPECT_NEAR(rope_attention_factor(p, PositionContext{32, 500000.0, 4096, 5000}),
              std::sqrt(1 + std::log(8.0) / std::log(4096.0)), 1e-15);
}

json read_config(const std::string& name) {
  std::ifstream f(std::string(LONGSCOPE_TEST_DIR "/data/configs/") + name);
  return json::parse(f);
}

// Mistral v0.1 (tests/data/configs/mistral-7b-v0.1.json, shrunk to one layer): its
// 4096-token window is the native method; Qwen2's window is off (use_sliding_window false).
TEST(Config, NativeSlidingWindow) {
  ModelConfig c;
  json j = read_config("mistral-7b-v0.1.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(method_spec_string(c.native_method), "sliding-window:window=4096,sinks=0");
  EXPECT_EQ(c.native_source, "config.json sliding_window");
  j["sliding_window"] = nullptr;  // v0.3
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.method, Method::Rope);
  j["sliding_window"] = 4096;
  j["use_sliding_window"] = false;
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.method, Method::Rope);
  j.erase("use_sliding_window");
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  auto st = resolve_hf_config(j, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("sliding_window"), std::string::npos) << st.error();
}

// Qwen2.5-7B-Instruct (tests/data/configs/qwen2.5-7b-instruct.json, shrunk to one
// layer): LLaMA with q/k/v biases, base 1e6, its window off; the model card's YaRN
// for long inputs (factor 4 over 32768) is the native method when added.
TEST(Config, Qwen25) {
  ModelConfig c;
  json j = read_config("qwen2.5-7b-instruct.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "qwen2");
  EXPECT_TRUE(c.block.qkv_bias);
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.layout, PairLayout::HalfSplit);
  EXPECT_EQ(c.rope_base, 1e6);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.train_len, 32768);
  EXPECT_EQ(c.native_method.method, Method::Rope);  // use_sliding_window false
  EXPECT_EQ(c.bos_id, 151643);
  j["rope_scaling"] = {{"factor", 4.0}, {"original_max_position_embeddings", 32768}, {"type", "yarn"}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(method_spec_string(c.native_method).rfind("yarn:factor=4", 0), 0u) << method_spec_string(c.native_method);
  EXPECT_EQ(c.train_len, 32768);
  // Architectures LongScope does not run are refused by name (MLA: DeepSeek-V3).
  j["model_type"] = "deepseek_v3";
  j["architectures"] = {"DeepseekV3ForCausalLM"};
  auto mla = resolve_hf_config(j, c);
  ASSERT_FALSE(mla.ok());
  EXPECT_NE(mla.error().find("DeepseekV3ForCausalLM"), std::string::npos) << mla.error();
}

// Qwen3-8B (tests/data/configs/qwen3-8b.json, one layer): per-head q/k norms, head_dim
// 128 with hidden 4096 / 32 heads = 128 (the 0.6B's 128 ≠ 1024 / 16 is the random
// shape's), no biases, base 1e6, L = max_position_embeddings = 40960 without scaling;
// the model card's YaRN (factor 4 over 32768) makes L 32768.
TEST(Config, Qwen3) {
  ModelConfig c;
  json j = read_config("qwen3-8b.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "qwen3");
  EXPECT_TRUE(c.block.qk_norm);
  EXPECT_FALSE(c.block.qkv_bias);
  EXPECT_EQ(c.layout, PairLayout::HalfSplit);
  EXPECT_EQ(c.rope_base, 1e6);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.train_len, 40960);
  EXPECT_EQ(c.native_method.method, Method::Rope);
  j["head_dim"] = 64;  // head_dim is read, not derived
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rot_dim, 64);
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(method_spec_string(c.native_method).rfind("yarn:factor=4", 0), 0u) << method_spec_string(c.native_method);
  EXPECT_EQ(c.train_len, 32768);
}

// SmolLM3-3B (tests/data/configs/smollm3-3b.json, eight layers): no_rope_layers
// 1,1,1,0,… — layers 3 and 7 carry no position; base 5e6; no BOS id (null).
TEST(Config, SmolLM3) {
  ModelConfig c;
  json j = read_config("smollm3-3b.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "smollm3");
  EXPECT_EQ(c.rope_base, 5e6);
  EXPECT_EQ(c.train_len, 65536);
  for (int l = 0; l < 8; ++l) EXPECT_EQ(layer_has_position(c, l), l != 3 && l != 7) << l;
  j.erase("no_rope_layers");  // the interval alone gives the same layers
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  for (int l = 0; l < 8; ++l) EXPECT_EQ(layer_has_position(c, l), l != 3 && l != 7) << l;
  j["no_rope_layer_interval"] = 2;
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  for (int l = 0; l < 8; ++l) EXPECT_EQ(layer_has_position(c, l), l % 2 == 0) << l;
}

// Mixtral-8x7B (tests/data/configs/mixtral-8x7b-v0.1.json, one layer): 8 experts of
// 14336, 2 per token renormalised; base 1e6, no window; L 32768.
TEST(Config, Mixtral) {
  ModelConfig c;
  json j = read_config("mixtral-8x7b-v0.1.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "mixtral");
  EXPECT_EQ(c.block.moe.n_experts, 8);
  EXPECT_EQ(c.block.moe.n_used, 2);
  EXPECT_TRUE(c.block.moe.renormalise);
  EXPECT_EQ(c.block.moe.shared_hidden, 0);
  EXPECT_EQ(c.hidden_dim, 14336);
  EXPECT_EQ(c.rope_base, 1e6);
  EXPECT_EQ(c.train_len, 32768);
  EXPECT_EQ(c.native_method.method, Method::Rope);
  j["num_experts_per_tok"] = 9;
  EXPECT_FALSE(resolve_hf_config(j, c).ok());
}

// Qwen3-30B-A3B (tests/data/configs/qwen3-30b-a3b.json, one layer): 128 experts of
// 768, 8 per token renormalised (norm_topk_prob), q/k norms, head_dim 128 ≠ 2048 / 32.
TEST(Config, Qwen3Moe) {
  ModelConfig c;
  json j = read_config("qwen3-30b-a3b.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "qwen3moe");
  EXPECT_EQ(c.block.moe.n_experts, 128);
  EXPECT_EQ(c.block.moe.n_used, 8);
  EXPECT_TRUE(c.block.moe.renormalise);
  EXPECT_TRUE(c.block.qk_norm);
  EXPECT_EQ(c.hidden_dim, 768);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.train_len, 40960);
  j["mlp_only_layers"] = {0};
  auto dense = resolve_hf_config(j, c);
  ASSERT_FALSE(dense.ok());
  EXPECT_NE(dense.error().find("mlp_only_layers"), std::string::npos) << dense.error();
}

// gpt-oss-20b (tests/data/configs/gpt-oss-20b.json, two layers): YaRN ×32 over 4096
// without the floor/ceil of the correction range (truncate false), base 150000,
// window 128 on even layers, 32 experts (4 per token) with the clamp at 7, head_dim 64.
TEST(Config, GptOss) {
  ModelConfig c;
  json j = read_config("gpt-oss-20b.json");
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "gpt-oss");
  EXPECT_EQ(c.train_len, 4096);
  EXPECT_EQ(c.rope_base, 150000.0);
  EXPECT_EQ(c.native_method.method, Method::Yarn);
  EXPECT_EQ(c.native_method.rope.factor, 32.0);
  EXPECT_EQ(c.native_method.rope.truncate, 0);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.block.local_window, 128);
  EXPECT_TRUE(layer_is_local(c, 0));
  EXPECT_FALSE(layer_is_local(c, 1));
  EXPECT_EQ(c.block.moe.n_experts, 32);
  EXPECT_EQ(c.block.moe.n_used, 4);
  EXPECT_EQ(c.block.moe.swiglu_limit, 7.0);
  EXPECT_EQ(c.hidden_dim, 2880);
  j["layer_types"] = {"full_attention", "sliding_attention"};  // the other way round: refused, not misread
  EXPECT_FALSE(resolve_hf_config(j, c).ok());
}

// Phi-3-shaped configs (not copied files): the 4k model's 2047-token window is its
// native method; the 128k model's window (262144) is longer than any context and
// masks nothing, so its LongRoPE is the native method.
TEST(Config, Phi3WindowAndLongRope) {
  ModelConfig c;
  json j = {{"architectures", {"Phi3ForCausalLM"}}, {"model_type", "phi3"}, {"hidden_size", 3072},
            {"intermediate_size", 8192}, {"num_hidden_layers", 1}, {"num_attention_heads", 32},
            {"num_key_value_heads", 32}, {"max_position_embeddings", 4096}, {"original_max_position_embeddings", 4096},
            {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"rope_scaling", nullptr}, {"sliding_window", 2047},
            {"vocab_size", 32064}, {"bos_token_id", 1}, {"eos_token_id", 32000}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "phi3");
  EXPECT_TRUE(c.fused_projections);
  EXPECT_EQ(c.head_dim, 96);
  EXPECT_EQ(method_spec_string(c.native_method), "sliding-window:window=2047,sinks=0");
  std::vector<double> sf(48, 1.0), lf(48, 4.0);
  j["max_position_embeddings"] = 131072;
  j["sliding_window"] = 262144;
  j["rope_scaling"] = {{"type", "longrope"}, {"short_factor", sf}, {"long_factor", lf}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.method, Method::LongRope);
  EXPECT_EQ(c.train_len, 4096);
  EXPECT_EQ(c.longrope_long.size(), 48u);
}

// A Gemma-2-9B-shaped config (its published fields, built here, one layer): head_dim
// 256, query_pre_attn_scalar, the 4096-token window of the local layers (not the
// model's native method), soft caps 50 / 30, L = 8192.
TEST(Config, Gemma2) {
  ModelConfig c;
  json j = {{"architectures", {"Gemma2ForCausalLM"}}, {"model_type", "gemma2"}, {"hidden_size", 3584},
            {"intermediate_size", 14336}, {"num_hidden_layers", 1}, {"num_attention_heads", 16},
            {"num_key_value_heads", 8}, {"head_dim", 256}, {"query_pre_attn_scalar", 256},
            {"sliding_window", 4096}, {"attn_logit_softcapping", 50.0}, {"final_logit_softcapping", 30.0},
            {"max_position_embeddings", 8192}, {"rope_theta", 10000.0}, {"rms_norm_eps", 1e-6},
            {"hidden_activation", "gelu_pytorch_tanh"}, {"vocab_size", 256000}, {"bos_token_id", 2},
            {"eos_token_id", 1}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "gemma2");
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.rot_dim, 256);
  EXPECT_EQ(c.layout, PairLayout::HalfSplit);
  EXPECT_EQ(c.train_len, 8192);
  EXPECT_EQ(c.block.local_window, 4096);
  EXPECT_EQ(c.native_method.method, Method::Rope);  // the window is per layer, not the model's method
  EXPECT_DOUBLE_EQ(c.block.attn_scale, 1.0 / 16.0);
  EXPECT_EQ(c.block.attn_softcap, 50.0);
  EXPECT_EQ(c.block.final_softcap, 30.0);
  j["query_pre_attn_scalar"] = 144;  // the 27B model's
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_DOUBLE_EQ(c.block.attn_scale, 1.0 / 12.0);
  j["hidden_activation"] = "relu";
  ASSERT_FALSE(resolve_hf_config(j, c).ok());
}

// A Gemma-3-4B-shaped multimodal config (its published text fields, built here, one
// layer kept): the text model under text_config, local layers at base 10000 with a
// 1024 window, one global layer in six at 1e6 with linear factor 8.
TEST(Config, Gemma3) {
  ModelConfig c;
  json j = {{"architectures", {"Gemma3ForConditionalGeneration"}}, {"model_type", "gemma3"},
            {"text_config", {{"model_type", "gemma3_text"}, {"hidden_size", 2560}, {"intermediate_size", 10240},
                             {"num_hidden_layers", 1}, {"num_attention_heads", 8}, {"num_key_value_heads", 4},
                             {"head_dim", 256}, {"query_pre_attn_scalar", 256}, {"sliding_window", 1024},
                             {"sliding_window_pattern", 6}, {"rope_theta", 1000000.0},
                             {"rope_local_base_freq", 10000.0}, {"rope_scaling", {{"factor", 8.0}, {"rope_type", "linear"}}},
                             {"max_position_embeddings", 131072}, {"rms_norm_eps", 1e-6},
                             {"hidden_activation", "gelu_pytorch_tanh"}, {"vocab_size", 262208}}}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.family, "gemma3");
  EXPECT_TRUE(c.block.qk_norm);
  EXPECT_EQ(c.vocab_size, 262208);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.block.local_window, 1024);
  EXPECT_EQ(c.block.local_period, 6);
  EXPECT_EQ(c.block.local_rope_base, 10000.0);
  EXPECT_EQ(c.rope_base, 1e6);
  EXPECT_EQ(c.native_method.method, Method::Linear);
  EXPECT_EQ(c.native_method.rope.factor, 8.0);
  EXPECT_EQ(c.block.attn_softcap, 0.0);
  // The layer kinds, with twelve layers: five local to one global.
  j["text_config"]["num_hidden_layers"] = 12;
  ModelConfig c12;
  ASSERT_TRUE(resolve_hf_config(j, c12).ok());
  for (int l = 0; l < 12; ++l) EXPECT_EQ(layer_is_local(c12, l), l != 5 && l != 11) << l;
}

// A Pythia-160m-shaped GPT-NeoX config (its published fields, built here, one
// layer): rotary_pct 0.25 of head_dim 64 → 16 rotary dims, rotary_emb_base,
// half-split pairs, the parallel residual, erf GELU; transformers' newer names
// (rope_theta, partial_rotary_factor) win when present.
TEST(Config, GptNeoX) {
  ModelConfig c;
  json j = {{"architectures", {"GPTNeoXForCausalLM"}}, {"model_type", "gpt_neox"}, {"hidden_size", 768},
            {"intermediate_size", 3072}, {"num_hidden_layers", 1}, {"num_attention_heads", 12},
            {"rotary_pct", 0.25}, {"rotary_emb_base", 10000}, {"max_position_embeddings", 2048},
            {"layer_norm_eps", 1e-5}, {"hidden_act", "gelu"}, {"use_parallel_residual", true},
            {"tie_word_embeddings", false}, {"vocab_size", 50304}, {"bos_token_id", 0}, {"eos_token_id", 0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.arch, Arch::NeoX);
  EXPECT_EQ(c.family, "gptneox");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rot_dim, 16);
  EXPECT_EQ(c.layout, PairLayout::HalfSplit);
  EXPECT_EQ(c.rope_base, 10000.0);
  EXPECT_EQ(c.train_len, 2048);
  EXPECT_TRUE(c.block.residual != Residual::Sequential);
  EXPECT_TRUE(c.block.ffn == FeedForward::Gelu);
  EXPECT_EQ(c.native_method.method, Method::Rope);
  j["use_parallel_residual"] = false;
  j["rope_theta"] = 500000.0;
  j["partial_rotary_factor"] = 0.5;
  j["hidden_act"] = "gelu_new";
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_FALSE(c.block.residual != Residual::Sequential);
  EXPECT_FALSE(c.block.ffn == FeedForward::Gelu);
  EXPECT_EQ(c.rope_base, 500000.0);
  EXPECT_EQ(c.rot_dim, 32);
  EXPECT_EQ(method_spec_string(c.native_method).rfind("linear:factor=2", 0), 0u) << method_spec_string(c.native_method);
  j["hidden_act"] = "relu";
  auto st = resolve_hf_config(j, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("relu"), std::string::npos) << st.error();
}

// A StableLM-2-1.6B-shaped config (its published fields, built here, one layer):
// partial_rotary_factor 0.25 of head_dim 64 → 16 rotary dims, q/k/v biases, SwiGLU,
// LayerNorm; the remote-code StableLMEpoch spelling (rope_pct, norm_eps) reads the
// same; 12B's per-head q/k LayerNorms and any activation but silu are refused.
TEST(Config, StableLm) {
  ModelConfig c;
  json j = {{"architectures", {"StableLmForCausalLM"}}, {"model_type", "stablelm"}, {"hidden_size", 2048},
            {"intermediate_size", 5632}, {"num_hidden_layers", 1}, {"num_attention_heads", 32},
            {"num_key_value_heads", 32}, {"partial_rotary_factor", 0.25}, {"rope_theta", 10000},
            {"layer_norm_eps", 1e-5}, {"use_qkv_bias", true}, {"use_parallel_residual", false},
            {"qk_layernorm", false}, {"hidden_act", "silu"}, {"max_position_embeddings", 4096},
            {"tie_word_embeddings", false}, {"vocab_size", 100352}, {"bos_token_id", 100257}, {"eos_token_id", 100257}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.arch, Arch::NeoX);
  EXPECT_EQ(c.family, "stablelm");
  EXPECT_TRUE(c.block.ffn == FeedForward::SwiGlu && c.block.qkv_bias && ffn_gated(c));
  EXPECT_FALSE(c.block.residual != Residual::Sequential);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rot_dim, 16);
  EXPECT_EQ(c.layout, PairLayout::HalfSplit);
  EXPECT_EQ(c.train_len, 4096);
  EXPECT_EQ(c.bos_id, 100257);
  json epoch = {{"architectures", {"StableLMEpochForCausalLM"}}, {"model_type", "stablelm_epoch"},
                {"hidden_size", 2560}, {"intermediate_size", 6912}, {"num_hidden_layers", 1},
                {"num_attention_heads", 32}, {"num_key_value_heads", 32}, {"rope_pct", 0.25}, {"rope_theta", 10000},
                {"norm_eps", 1e-6}, {"max_position_embeddings", 4096}, {"vocab_size", 50304}};
  ASSERT_TRUE(resolve_hf_config(epoch, c).ok());
  EXPECT_EQ(c.rot_dim, 20);
  EXPECT_EQ(c.norm_eps, 1e-6);
  EXPECT_FALSE(c.block.qkv_bias);
  j["qk_layernorm"] = true;
  j["use_parallel_residual"] = true;
  auto st = resolve_hf_config(j, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("qk_layernorm"), std::string::npos) << st.error();
  j["qk_layernorm"] = false;
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_TRUE(c.block.residual == Residual::ParallelOneNorm);
  j["hidden_act"] = "gelu";
  ASSERT_FALSE(resolve_hf_config(j, c).ok());
}

// A Phi-2-shaped config (its published fields, built here, one layer): head_dim 80,
// partial_rotary_factor 0.4 → 32 rotary dims, gelu_new, one norm per parallel block;
// the remote-code "phi-msft" layout is refused by name.
TEST(Config, Phi2) {
  ModelConfig c;
  json j = {{"architectures", {"PhiForCausalLM"}}, {"model_type", "phi"}, {"hidden_size", 2560},
            {"intermediate_size", 10240}, {"num_hidden_layers", 1}, {"num_attention_heads", 32},
            {"num_key_value_heads", 32}, {"partial_rotary_factor", 0.4}, {"rope_theta", 10000.0},
            {"layer_norm_eps", 1e-5}, {"hidden_act", "gelu_new"}, {"qk_layernorm", false},
            {"max_position_embeddings", 2048}, {"tie_word_embeddings", false}, {"vocab_size", 51200},
            {"bos_token_id", 50256}, {"eos_token_id", 50256}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.arch, Arch::NeoX);
  EXPECT_EQ(c.family, "phi2");
  EXPECT_TRUE(c.block.residual == Residual::ParallelOneNorm && c.block.qkv_bias);
  EXPECT_FALSE(c.block.ffn == FeedForward::Gelu || ffn_gated(c));
  EXPECT_EQ(c.head_dim, 80);
  EXPECT_EQ(c.rot_dim, 32);
  EXPECT_EQ(c.train_len, 2048);
  EXPECT_EQ(c.native_method.method, Method::Rope);
  json msft = {{"architectures", {"PhiForCausalLM"}}, {"model_type", "phi-msft"}, {"n_embd", 2560}};
  auto st = resolve_hf_config(msft, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("remote-code"), std::string::npos) << st.error();
}

// An MPT-7B-shaped config (its published fields, built here, one layer): ALiBi
// with alibi_bias_max 8, expansion_ratio 4, max_seq_len as L; what LongScope
// cannot run is refused by name.
TEST(Config, Mpt) {
  ModelConfig c;
  json j = {{"architectures", {"MPTForCausalLM"}}, {"model_type", "mpt"}, {"d_model", 4096}, {"n_heads", 32},
            {"n_layers", 1}, {"expansion_ratio", 4}, {"max_seq_len", 2048}, {"vocab_size", 50432},
            {"no_bias", true}, {"learned_pos_emb", true},
            {"attn_config", {{"alibi", true}, {"alibi_bias_max", 8}, {"clip_qkv", nullptr}, {"qk_ln", false},
                             {"softmax_scale", nullptr}, {"attn_type", "multihead_attention"}}}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.arch, Arch::Mpt);
  EXPECT_EQ(c.hidden_dim, 16384);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rot_dim, 0);
  EXPECT_EQ(c.train_len, 2048);
  EXPECT_TRUE(c.block.ffn == FeedForward::Gelu);
  EXPECT_EQ(c.native_method.method, Method::Alibi);
  for (auto [key, value, says] : std::vector<std::tuple<std::string, json, std::string>>{
           {"alibi_bias_max", 16, "alibi_bias_max"}, {"clip_qkv", 6.0, "clip_qkv"}, {"alibi", false, "without ALiBi"},
           {"qk_ln", true, "qk_ln"}, {"kv_n_heads", 8, "kv_n_heads"}}) {
    json bad = j;
    bad["attn_config"][key] = value;
    auto st = resolve_hf_config(bad, c);
    ASSERT_FALSE(st.ok()) << key;
    EXPECT_NE(st.error().find(says), std::string::npos) << st.error();
  }
  // Mixture-of-experts and MLA models are named as outside the engine.
  json moe = {{"architectures", {"DeepseekV2ForCausalLM"}}, {"model_type", "deepseek_v2"}};
  auto st = resolve_hf_config(moe, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("mixture-of-experts"), std::string::npos) << st.error();
}

TEST(Config, LongRopeFactorLists) {
  ModelConfig c;
  json j = llama_cfg();  // head_dim 32 → 16 factors per list
  j["original_max_position_embeddings"] = 1024;
  std::vector<double> sf(16, 1.0), lf(16);
  for (int i = 0; i < 16; ++i) lf[i] = 1.0 + i;
  j["rope_scaling"] = {{"type", "longrope"}, {"short_factor", sf}, {"long_factor", lf}};
  ASSERT_TRUE(resolve_hf_config(j, c).ok());
  EXPECT_EQ(c.native_method.method, Method::LongRope);
  EXPECT_EQ(c.train_len, 1024);
  EXPECT_EQ(c.native_method.rope.factor, 4.0);  // 4096 / 1024
  MethodParams p = c.native_method;
  attach_model_tables(p, c);
  PositionContext inside{32, 500000.0, 1024, 1000}, beyond{32, 500000.0, 1024, 3000};
  for (int i = 0; i < 16; ++i) {
    EXPECT_DOUBLE_EQ(rope_inv_freq(p, inside, i), rope_theta(i, 32, 500000.0));
    EXPECT_DOUBLE_EQ(rope_inv_freq(p, beyond, i), rope_theta(i, 32, 500000.0) / (1.0 + i));
  }
  EXPECT_NEAR(rope_attention_factor(p, beyond), std::sqrt(1 + std::log(4.0) / std::log(1024.0)), 1e-15);
  j["rope_scaling"]["long_factor"] = std::vector<double>(5, 1.0);
  auto st = resolve_hf_config(j, c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("needs 16"), std::string::npos) << st.error();
}

TEST(Dtype, HalfAndBf16RoundTrip) {
  for (float x : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f}) {
    EXPECT_EQ(half_to_float(float_to_half(x)), x) << x;
  }
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(float_to_bf16(1.00390625f), 0x3f80) << "round to nearest even";
}

TEST(Dtype, Q8_0AndQ4_0Blocks) {
  // Q8_0: scale 0.5 (fp16 0x3800), q = -64 … 63 → x = 0.5·q
  uint8_t q8[34];
  uint16_t d = float_to_half(0.5f);
  std::memcpy(q8, &d, 2);
  for (int i = 0; i < 32; ++i) q8[2 + i] = (uint8_t)(int8_t)(i * 4 - 64);
  float out[32];
  dequantize(DType::Q8_0, q8, 32, out);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], 0.5f * (i * 4 - 64));
  // Q4_0: scale 2, byte i holds element i (low nibble) and i+16 (high); x = d·(nibble-8)
  uint8_t q4[18];
  d = float_to_half(2.0f);
  std::memcpy(q4, &d, 2);
  for (int i = 0; i < 16; ++i) q4[2 + i] = (uint8_t)((i & 0xf) | ((15 - i) << 4));
  dequantize(DType::Q4_0, q4, 32, out);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(out[i], 2.0f * (i - 8));
    EXPECT_EQ(out[16 + i], 2.0f * (15 - i - 8));
  }
  EXPECT_EQ(dtype_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(dtype_bytes(DType::Q4_0, 64), 36u);
}

}  // namespace
}  // namespace ls
