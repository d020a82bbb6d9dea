// The 2025–26 dense families, each on a seeded random model in both formats against
// the independent double-precision reference forward (reference_forward.h): Qwen3
// (per-head q/k RMSNorm before the rotation, head_dim apart from dim / heads, its
// YaRN) and SmolLM3 (every fourth layer without position, whatever the method).
#include <gtest/gtest.h>

#include "core/analysis/analysis.h"
#include "core/cpu/cpu_backend.h"
#include "core/model/describe.h"
#include "tests/engine/reference_forward.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

std::vector<int> probe_tokens() {
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  return toks;
}

// Both files of `shape`, written from one seeded random model (GGUF, transformers).
// Callers name the pair's members (clang 14's lambdas cannot capture structured bindings).
std::pair<std::shared_ptr<const Model>, std::shared_ptr<const Model>> both_formats(const std::string& shape) {
  const std::string dir = temp_dir(shape);
  const RandomModel rm = make_random_model(random_model_shape(shape).value());
  EXPECT_TRUE(write_gguf_model(rm, dir + "/m.gguf").ok());
  EXPECT_TRUE(write_hf_model(rm, dir + "/hf").ok());
  return {load_ok(dir + "/m.gguf"), load_ok(dir + "/hf")};
}

// The last row's logits after two forward calls (60 + 30 tokens: the cache carries
// keys of both), against the reference forward of all 90 tokens.
double engine_vs_reference(const std::shared_ptr<const Model>& m, const MethodParams& method) {
  const std::vector<int> toks = probe_tokens();
  EngineOptions o;
  o.method = method;
  auto e = make_engine(m, o, 90);
  EXPECT_TRUE(e.ok());
  if (!e.ok()) return INFINITY;
  EXPECT_TRUE((*e)->forward(toks.data(), 60).ok());
  EXPECT_TRUE((*e)->forward(toks.data() + 60, 30).ok());
  std::vector<float> got;
  EXPECT_TRUE((*e)->logits(29, got).ok());
  auto ref = reference_logits(*m, toks, method);
  return max_diff(got, std::vector<float>(ref.back().begin(), ref.back().end()));
}

TEST(Families2025, Qwen3GgufAndSafetensorsEqualTheReferenceForward) {
  auto both = both_formats("tiny-qwen3");
  auto g = both.first, h = both.second;
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.family, "qwen3");
    EXPECT_TRUE(c.block.qk_norm);
    EXPECT_FALSE(c.block.qkv_bias);
    EXPECT_EQ(c.head_dim, 32);  // not 64 / 4
    EXPECT_EQ(c.rot_dim, 32);
    EXPECT_EQ(c.layout, PairLayout::HalfSplit);
    EXPECT_EQ(c.train_len, 256);
    EXPECT_EQ(c.native_method.method, Method::Yarn);
    EXPECT_EQ(c.native_method.rope.factor, 4.0);
    ASSERT_NE(m->weights.layers[1].q_norm, nullptr);
    ASSERT_NE(m->weights.layers[1].k_norm, nullptr);
  }
  EXPECT_LE(max_diff(last_logits(g, probe_tokens()), last_logits(h, probe_tokens())), 1e-4);
  for (const char* spec : {"rope", "native", "ntk:alpha=4", "rerope:window=16,logn=1"}) {
    const MethodParams m = std::string(spec) == "native" ? h->config.native_method : parse_method_spec(spec).value();
    EXPECT_LE(engine_vs_reference(h, m), 2e-3) << spec;
    EXPECT_LE(engine_vs_reference(g, m), 2e-3) << spec;
  }
  // The norms matter: q norms of 3 instead of the random ones move the logits.
  RandomModel v = make_random_model(random_model_shape("tiny-qwen3").value());
  for (auto& [name, t] : v.t)
    if (name.find("attn_q_norm") != std::string::npos) std::fill(t.begin(), t.end(), 3.0f);
  const std::string dir = temp_dir("tiny-qwen3");
  ASSERT_TRUE(write_hf_model(v, dir + "/qnorm3").ok());
  EXPECT_GT(max_diff(last_logits(load_ok(dir + "/qnorm3"), probe_tokens()), last_logits(h, probe_tokens())), 1e-3);
}

TEST(Families2025, SmolLM3LayersWithoutPositionEqualTheReferenceForward) {
  auto both = both_formats("tiny-smollm3");
  auto g = both.first, h = both.second;
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.family, "smollm3");
    for (int l = 0; l < 4; ++l) EXPECT_EQ(layer_has_position(c, l), l != 3) << l;
    EXPECT_EQ(layers_without_position(c), std::vector<int>{3});
    EXPECT_NE(model_line(*m, "bpe", "cpu").find("position in 3 of 4 layers (none in 3)"), std::string::npos)
        << model_line(*m, "bpe", "cpu");
    EXPECT_EQ(model_description(*m)["layer_kinds"][3], "no-position");
  }
  EXPECT_EQ(g->config.layout, PairLayout::Interleaved);  // llama.cpp permutes SmolLM3's q/k like LLaMA's
  EXPECT_EQ(h->config.layout, PairLayout::HalfSplit);
  EXPECT_LE(max_diff(last_logits(g, probe_tokens()), last_logits(h, probe_tokens())), 1e-4);
  for (const char* spec : {"rope", "yarn:factor=4", "rerope:window=16,logn=1", "dynamic-ntk:alpha=2,cache=raw",
                           "self-extend:window=16,group=4"}) {
    EXPECT_LE(engine_vs_reference(h, parse_method_spec(spec).value()), 2e-3) << spec;
    EXPECT_LE(engine_vs_reference(g, parse_method_spec(spec).value()), 2e-3) << spec;
  }
  // A layer with position sees the method (ALayerWithoutPositionIgnoresTheMethod
  // checks that a layer without does not).
  auto map = [&](const char* spec, int layer) {
    RunConfig run;
    run.model = h;
    run.engine.method = parse_method_spec(spec).value();
    auto r = run_attention(run, probe_tokens(), 90, layer, 1, 0, PoolMode::Max);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->probs : std::vector<float>{};
  };
  EXPECT_GT(max_diff(map("rope", 0), map("rerope:window=8", 0)), 1e-3);
  RandomModel one = make_random_model(random_model_shape("tiny-smollm3").value());
  // The same weights written as plain LLaMA (position in every layer): other logits.
  one.spec.smollm3 = false;
  const std::string dir = temp_dir("tiny-smollm3");
  ASSERT_TRUE(write_hf_model(one, dir + "/llama").ok());
  EXPECT_GT(max_diff(last_logits(load_ok(dir + "/llama"), probe_tokens()), last_logits(h, probe_tokens())), 1e-3);
}

// A NoPE layer's probabilities do not depend on the method: the method changes only
// the layers with position before it, so a one-layer-deep check uses a model whose
// only layer has none.
TEST(Families2025, ALayerWithoutPositionIgnoresTheMethod) {
  RandomModelSpec s = random_model_shape("tiny-smollm3").value();
  s.n_layers = 1;
  s.nope_interval = 1;  // the only layer has no position
  const std::string dir = temp_dir("nope1");
  ASSERT_TRUE(write_hf_model(make_random_model(s), dir + "/hf").ok());
  auto m = load_ok(dir + "/hf");
  ASSERT_TRUE(m);
  ASSERT_FALSE(layer_has_position(m->config, 0));
  const auto rope = last_logits(m, probe_tokens());
  for (const char* spec : {"yarn:factor=8", "rerope:window=8,logn=1", "sliding-window:window=8", "dynamic-ntk:alpha=4"}) {
    EngineOptions o;
    o.method = parse_method_spec(spec).value();
    auto e = make_engine(m, o, 90);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->forward(probe_tokens().data(), 90).ok());
    std::vector<float> got;
    ASSERT_TRUE((*e)->logits(89, got).ok());
    EXPECT_LE(max_diff(got, rope), 1e-5) << spec;
  }
}

// Mixture of experts: Mixtral (GGUF llama with experts, interleaved pairs), Qwen2-MoE
// (biases, a shared expert, weights not renormalised), Qwen3-MoE (q/k norms,
// renormalised) and OLMoE (q/k norms over the whole projections), each in both formats against the reference forward's router and
// experts.
TEST(Families2025, MixturesOfExpertsEqualTheReferenceForward) {
  struct Want {
    const char* shape;
    const char* family;
    int experts, used, shared;
    bool renormalise;
  };
  for (const Want& w : {Want{"tiny-mixtral", "mixtral", 4, 2, 0, true}, Want{"tiny-qwen2moe", "qwen2moe", 4, 2, 48, false},
                        Want{"tiny-qwen3moe", "qwen3moe", 6, 3, 0, true}, Want{"tiny-olmoe", "olmoe", 8, 2, 0, false}}) {
    SCOPED_TRACE(w.shape);
    auto both = both_formats(w.shape);
  auto g = both.first, h = both.second;
    ASSERT_TRUE(g && h);
    for (const auto& m : {g, h}) {
      const MoeDesc& moe = m->config.block.moe;
      EXPECT_EQ(m->config.family, w.family);
      EXPECT_EQ(moe.n_experts, w.experts);
      EXPECT_EQ(moe.n_used, w.used);
      EXPECT_EQ(moe.shared_hidden, w.shared);
      EXPECT_EQ(moe.renormalise, w.renormalise);
      ASSERT_EQ(m->weights.layers[1].exp_down.size(), (size_t)w.experts);
      EXPECT_NE(model_line(*m, "bpe", "cpu").find(std::to_string(w.experts) + " experts, " + std::to_string(w.used) +
                                                   " per token"),
                std::string::npos)
          << model_line(*m, "bpe", "cpu");
      EXPECT_EQ(model_description(*m)["experts"], w.experts);
    }
    EXPECT_EQ(g->config.layout, std::string(w.family) == "mixtral" ? PairLayout::Interleaved : PairLayout::HalfSplit);
    EXPECT_LE(max_diff(last_logits(g, probe_tokens()), last_logits(h, probe_tokens())), 1e-4);
    for (const char* spec : {"rope", "yarn:factor=4", "rerope:window=16,logn=1"}) {
      EXPECT_LE(engine_vs_reference(h, parse_method_spec(spec).value()), 2e-3) << spec;
      EXPECT_LE(engine_vs_reference(g, parse_method_spec(spec).value()), 2e-3) << spec;
    }
    // Every expert matters, and so does the router: each perturbation moves the logits.
    const std::string dir = temp_dir(w.shape);
    for (const char* part : {"ffn_gate_inp.weight", "ffn_down_exps.weight", "ffn_up_shexp.weight", "attn_k_norm.weight"}) {
      if (std::string(w.family) != "olmoe" && std::string(part) == "attn_k_norm.weight") continue;
      if (w.shared == 0 && std::string(part).find("shexp") != std::string::npos) continue;
      RandomModel v = make_random_model(random_model_shape(w.shape).value());
      for (auto& [name, t] : v.t)
        if (name.find(part) != std::string::npos) std::fill(t.begin(), t.end(), 0.0f);
      ASSERT_TRUE(write_hf_model(v, dir + "/zero").ok());
      EXPECT_GT(max_diff(last_logits(load_ok(dir + "/zero"), probe_tokens()), last_logits(h, probe_tokens())), 1e-3) << part;
    }
  }
}

// gpt-oss: sinks in every softmax, q/k/v/o biases, even layers sliding (window 8
// here), a biased router, biased clamped-SwiGLU experts, YaRN ×4 over L = 64; both
// formats (transformers' fused input-major experts, llama.cpp's stacked ones) against
// the reference forward.
TEST(Families2025, GptOssEqualsTheReferenceForward) {
  auto both = both_formats("tiny-gptoss");
  auto g = both.first, h = both.second;
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.family, "gpt-oss");
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.layout, PairLayout::HalfSplit);
    EXPECT_EQ(c.block.moe.n_experts, 4);
    EXPECT_EQ(c.block.moe.swiglu_limit, 7.0);
    EXPECT_TRUE(c.block.moe.renormalise);
    EXPECT_EQ(c.block.local_window, 8);
    EXPECT_TRUE(layer_is_local(c, 0));
    EXPECT_FALSE(layer_is_local(c, 1));
    EXPECT_EQ(c.train_len, 64);
    EXPECT_EQ(c.native_method.method, Method::Yarn);
    const LayerWeights& L = m->weights.layers[1];
    ASSERT_NE(L.attn_sinks, nullptr);
    EXPECT_NE(model_line(*m, "bpe", "cpu").find("(attention sinks)"), std::string::npos);
    EXPECT_EQ(model_description(*m)["attention_sinks"], true);
    ASSERT_NE(L.bo, nullptr);
    ASSERT_NE(L.router_b, nullptr);
    ASSERT_EQ(L.exp_down_b.size(), 4u);
  }
  EXPECT_LE(max_diff(last_logits(g, probe_tokens()), last_logits(h, probe_tokens())), 1e-4);
  for (const char* spec : {"rope", "native", "yarn:factor=8", "ntk:alpha=4"}) {
    const MethodParams m = std::string(spec) == "native" ? h->config.native_method : parse_method_spec(spec).value();
    EXPECT_LE(engine_vs_reference(h, m), 2e-3) << spec;
    EXPECT_LE(engine_vs_reference(g, m), 2e-3) << spec;
  }
  // The row-by-row path takes the sinks as the tiled kernel does; the heatmap's rows
  // leave the sink's share out (each row sums to less than one).
  {
    const std::vector<int> toks = probe_tokens();
    BackendRequest rows;
    rows.cpu.attention = CpuAttention::Rows;
    auto e = make_engine(h, EngineOptions{}, 90, DType::F32, rows);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->forward(toks.data(), 90).ok());
    std::vector<float> got;
    ASSERT_TRUE((*e)->logits(89, got).ok());
    EXPECT_LE(max_diff(got, last_logits(h, toks)), 1e-4);
    RunConfig run;
    run.model = h;
    auto map = run_attention(run, toks, 90, 1, 0, 0, PoolMode::Max);
    ASSERT_TRUE(map.ok());
    for (int q : {0, 40, 89}) {
      double sum = 0;
      for (int j = 0; j <= q; ++j) sum += map->probs[(size_t)q * 90 + j];
      EXPECT_LT(sum, 1.0 - 1e-4) << q;
      EXPECT_GT(sum, 0.0) << q;
    }
  }
  // As downloaded: llama.cpp's gpt-oss GGUFs store the experts (and here every
  // matrix) as MXFP4, kept as stored and run as their values.
  {
    const std::string mx = temp_dir("tiny-gptoss") + "/mxfp4.gguf";
    ASSERT_TRUE(write_gguf_blocks(make_random_model(random_model_shape("tiny-gptoss").value()), mx, DType::MXFP4,
                                  DType::Q8_0, -1, 7)
                    .ok());
    auto q = load_ok(mx);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->weights.layers[0].exp_gate[1].dtype, DType::MXFP4);
    EXPECT_LE(engine_vs_reference(q, MethodParams{}), 2e-3);
    EXPECT_LE(engine_vs_reference(q, q->config.native_method), 2e-3);
  }
  // The sinks, the experts' biases and the clamp each matter.
  const std::string dir = temp_dir("tiny-gptoss");
  for (const auto& [part, value] : std::vector<std::pair<std::string, float>>{
           {"attn_sinks", 4.0f}, {"ffn_down_exps.bias", 0.0f}, {"ffn_gate_exps.weight", 3.0f}}) {
    RandomModel v = make_random_model(random_model_shape("tiny-gptoss").value());
    for (auto& [name, t] : v.t)
      if (name.find(part) != std::string::npos) std::fill(t.begin(), t.end(), value);
    ASSERT_TRUE(write_hf_model(v, dir + "/v").ok());
    auto vm = load_ok(dir + "/v");
    ASSERT_TRUE(vm);
    EXPECT_GT(max_diff(last_logits(vm, probe_tokens()), last_logits(h, probe_tokens())), 1e-3) << part;
    EXPECT_LE(engine_vs_reference(vm, MethodParams{}), 2e-3) << part;  // the clamp bites at gate 3 · inputs
  }
}

TEST(Families2025, BadNoPositionListsAreRefusedByName) {
  const std::string dir = temp_dir("nope-bad");
  RandomModel rm = make_random_model(random_model_shape("tiny-smollm3").value());
  ASSERT_TRUE(write_hf_model(rm, dir + "/hf").ok());
  const std::string cfg_path = dir + "/hf/config.json";
  const std::string good = read_all(cfg_path);
  for (const auto& [from, to, part] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"\"no_rope_layers\": [", "\"no_rope_layers\": [1, ", "one 0 or 1 per layer"},
           {"\"no_rope_layers\": [\n    1", "\"no_rope_layers\": [\n    2", "must be 0 or 1"},
           {"\"attention_bias\": false", "\"attention_bias\": true", "attention_bias"}}) {
    std::string bad = good;
    ASSERT_NE(bad.find(from), std::string::npos) << from << " in " << good;
    bad.replace(bad.find(from), from.size(), to);
    std::ofstream(cfg_path) << bad;
    expect_load_error(dir + "/hf", part);
  }
  std::ofstream(cfg_path) << good;
  EXPECT_TRUE(load_ok(dir + "/hf"));
}

}  // namespace
}  // namespace ls::test
