// Golden and parity tests: greedy decoding of the bundled model against llama2.c's
// reference output, the same random weights in every file format, and incremental
// (KV-cached) decoding against full recomputation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"
#include "core/model/dtype.h"
#include "core/position/spec.h"
#include "tests/engine/reference_forward.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

std::vector<int> read_ids(const std::string& path) {
  std::ifstream f(path);
  std::vector<int> ids;
  for (int x; f >> x;) ids.push_back(x);
  return ids;
}

TEST(Golden, GreedyDecodingMatchesLlama2cReference) {
  const auto golden = read_ids(LONGSCOPE_TEST_DIR "/data/stories260K_greedy_ids.txt");
  ASSERT_EQ(golden.size(), 200u);
  for (const std::string& path : {bundled_bin(), bundled_gguf()}) {
    RunConfig run;
    run.model = load_ok(path);
    ASSERT_TRUE(run.model);
    auto out = run_generate(run, {1}, 200, SampleOptions{});
    ASSERT_TRUE(out.ok()) << out.error();
    EXPECT_EQ(out.value(), golden) << path;
  }
}

TEST(Golden, GreedyTextDecodesToReferenceText) {
  auto tok = Tokenizer::from_file(bundled_tokenizer());
  ASSERT_TRUE(tok.ok());
  std::ifstream f(LONGSCOPE_TEST_DIR "/data/stories260K_greedy_text.txt");
  std::string want((std::istreambuf_iterator<char>(f)), {});
  std::string got = tok.value()->decode(read_ids(LONGSCOPE_TEST_DIR "/data/stories260K_greedy_ids.txt"));
  while (!want.empty() && (want.back() == '\n' || want.back() == ' ')) want.pop_back();
  EXPECT_EQ(got, want);
}

TEST(Formats, SameWeightsSameLogitsInEveryFormat) {
  const std::string dir = temp_dir("formats");
  RandomModelSpec spec;
  auto rm = make_random_model(spec);
  ASSERT_TRUE(write_llama2c(rm, dir + "/m.bin").ok());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/m.gguf").ok());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/m16.gguf", DType::F16).ok());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/mbf16.gguf", DType::BF16).ok());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/mq8.gguf", DType::Q8_0).ok());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/mq4.gguf", DType::Q4_0).ok());
  ASSERT_TRUE(write_hf_model(rm, dir + "/hf").ok());
  ASSERT_TRUE(write_hf_model(rm, dir + "/hf_sharded", "F32", 3).ok());
  ASSERT_TRUE(write_hf_model(rm, dir + "/hf_bf16", "BF16").ok());
  std::vector<int> toks;
  for (int i = 0; i < 150; ++i) toks.push_back((i * 31 + 5) % spec.vocab_size);
  auto ref = last_logits(load_ok(dir + "/m.bin"), toks);
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/m.gguf"), toks), ref), 1e-5);
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/hf"), toks), ref), 1e-4) << "half-split layout";
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/hf_sharded"), toks), ref), 1e-4) << "sharded";
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/m16.gguf"), toks), ref), 0.05) << "F16 rounding";
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/mbf16.gguf"), toks), ref), 0.3) << "BF16 rounding";
  // Quantised copies: close to F32, and coarser the fewer the bits.
  const double q8 = max_diff(last_logits(load_ok(dir + "/mq8.gguf"), toks), ref);
  const double q4 = max_diff(last_logits(load_ok(dir + "/mq4.gguf"), toks), ref);
  EXPECT_GT(q8, 0.0);
  EXPECT_LE(q8, 0.1) << "Q8_0";
  EXPECT_LE(q4, 1.0) << "Q4_0";
  EXPECT_GT(q4, q8) << "Q4_0 is coarser than Q8_0";
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/hf_bf16"), toks), ref), 0.3) << "BF16 rounding";
  EXPECT_GT(max_diff(last_logits(load_ok(dir + "/hf_bf16"), toks), ref), 0.0) << "BF16 must differ a little";
}

TEST(Formats, BloomGgufEqualsBloomSafetensors) {
  const std::string dir = temp_dir("bloomfmt");
  auto rm = make_random_model(random_model_shape("tiny-bloom").value());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/b.gguf").ok());
  ASSERT_TRUE(write_hf_model(rm, dir + "/hf").ok());
  std::vector<int> toks;
  for (int i = 0; i < 80; ++i) toks.push_back((i * 13 + 3) % 512);
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/b.gguf"), toks), last_logits(load_ok(dir + "/hf"), toks)), 1e-4);
}

// A family written as both GGUF and safetensors from one random model: the same
// logits, equal to the independent reference forward, and every tensor used (the
// model answers otherwise when `perturb` names a tensor suffix zeroed).
void expect_family_matches_reference(const std::string& shape, const std::string& family, const std::string& perturb) {
  const std::string dir = temp_dir(shape);
  auto spec = random_model_shape(shape);
  ASSERT_TRUE(spec.ok());
  auto rm = make_random_model(spec.value());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/m.gguf").ok());
  ASSERT_TRUE(write_hf_model(rm, dir + "/hf").ok());
  auto g = load_ok(dir + "/m.gguf");
  auto h = load_ok(dir + "/hf");
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    EXPECT_EQ(m->config.family, family);
    if (arch_alibi(m->config.arch)) continue;
    EXPECT_EQ(m->config.layout, PairLayout::HalfSplit);
    EXPECT_EQ(m->config.rope_base, spec->rope_base);
  }
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  const auto lg = last_logits(g, toks), lh = last_logits(h, toks);
  EXPECT_LE(max_diff(lg, lh), 1e-4);
  // the method last_logits runs: plain RoPE, or ALiBi
  auto ref = reference_logits(*h, toks, arch_alibi(h->config.arch) ? parse_method_spec("alibi").value() : MethodParams{});
  std::vector<float> last(ref.back().begin(), ref.back().end());
  EXPECT_LE(max_diff(lh, last), 2e-3);
  RandomModel changed = rm;
  for (auto& [name, t] : changed.t)
    if (name.size() >= perturb.size() && name.compare(name.size() - perturb.size(), perturb.size(), perturb) == 0)
      std::fill(t.begin(), t.end(), 0.0f);
  ASSERT_TRUE(write_hf_model(changed, dir + "/hf0").ok());
  EXPECT_GT(max_diff(last_logits(load_ok(dir + "/hf0"), toks), lh), 1e-3) << perturb;
}

// Qwen2: LLaMA + q/k/v biases, half-split pairs in both files, base 1e6.
TEST(Formats, Qwen2GgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-qwen2", "qwen2", ".bias");
  auto m = load_ok(temp_dir("tiny-qwen2") + "/m.gguf");
  ASSERT_TRUE(m && m->config.block.qkv_bias);
  ASSERT_NE(m->weights.layers[1].bv, nullptr);
}

// Phi-3: fused qkv_proj / attn_qkv and gate_up_proj / ffn_up (gate rows first).
TEST(Formats, Phi3GgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-phi3", "phi3", "ffn_gate.weight");
  expect_family_matches_reference("tiny-phi3", "phi3", "attn_k.weight");
  auto m = load_ok(temp_dir("tiny-phi3") + "/hf");
  ASSERT_TRUE(m && m->config.fused_projections);
  // The same weights unfused, as a plain LLaMA GGUF: the fused rows are split in the right order.
  RandomModel plain = make_random_model(random_model_shape("tiny-phi3").value());
  plain.spec.fused = false;
  ASSERT_TRUE(write_gguf_model(plain, temp_dir("tiny-phi3") + "/plain.gguf").ok());
  auto p = load_ok(temp_dir("tiny-phi3") + "/plain.gguf");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->config.family, "llama");
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  EXPECT_LE(max_diff(last_logits(p, toks), last_logits(m, toks)), 1e-4);
}

// Gemma-2: RMSNorm x·(1 + w) (HF stores w, the GGUF 1 + w), norms on both blocks'
// outputs, GeGLU, embeddings × √dim, soft-capped scores and logits, even layers
// local (window 24 < the 90 tokens run), classifier tied.
TEST(Formats, Gemma2GgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-gemma2", "gemma2", "post_ffw_norm.weight");
  expect_family_matches_reference("tiny-gemma2", "gemma2", "post_attention_norm.weight");
  auto h = load_ok(temp_dir("tiny-gemma2") + "/hf"), g = load_ok(temp_dir("tiny-gemma2") + "/m.gguf");
  ASSERT_TRUE(h && g);
  for (const auto& m : {h, g}) {
    EXPECT_EQ(m->config.block.local_window, 24);
    EXPECT_EQ(m->config.block.attn_softcap, 2.0);
    EXPECT_EQ(m->config.block.final_softcap, 3.0);
    EXPECT_TRUE(m->config.block.embed_scale && m->config.block.ffn == FeedForward::GeGlu && m->config.tied_embeddings);
    EXPECT_TRUE(layer_is_local(m->config, 0));
    EXPECT_FALSE(layer_is_local(m->config, 1));
  }
  // Each trait matters here: without the window, or without either cap, the logits move.
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  const auto base = last_logits(h, toks);
  for (int variant = 0; variant < 3; ++variant) {
    RandomModelSpec sp = random_model_shape("tiny-gemma2").value();
    if (variant == 0) sp.window = 1000;
    if (variant == 1) sp.attn_softcap = 0;
    if (variant == 2) sp.final_softcap = 0;
    const std::string dir = temp_dir("tiny-gemma2") + "/v" + std::to_string(variant);
    ASSERT_TRUE(write_hf_model(make_random_model(sp), dir).ok());
    EXPECT_GT(max_diff(last_logits(load_ok(dir), toks), base), 1e-3) << variant;
  }
  // A remapping method is refused once the local window matters, not run wrong.
  EngineOptions o;
  o.method = parse_method_spec("rerope:window=8").value();
  auto e = make_engine(h, o, 90);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE((*e)->forward(toks.data(), 20).ok());
  auto st = (*e)->forward(toks.data() + 20, 20);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("sliding window"), std::string::npos) << st.error();
  // Scaled RoPE methods run with the window on the local layers, as the reference does.
  o.method = parse_method_spec("yarn:factor=4").value();
  auto y = make_engine(h, o, 90);
  ASSERT_TRUE(y.ok() && (*y)->forward(toks.data(), 90).ok());
  std::vector<float> yl;
  ASSERT_TRUE((*y)->logits(89, yl).ok());
  auto ref = reference_logits(*h, toks, o.method);
  EXPECT_LE(max_diff(yl, std::vector<float>(ref.back().begin(), ref.back().end())), 2e-3);
}

// Gemma-3 (GGUF and safetensors): q and k RMS-normed per head, five local layers
// (window 24, plain RoPE at base 10000) to each global one (base 1e6 with the native
// linear factor, or the method run): equal to the reference forward, with the
// method, a remapping one included, applied to the global layers only.
TEST(Formats, Gemma3GgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-gemma3", "gemma3", "attn_q_norm.weight");
  expect_family_matches_reference("tiny-gemma3", "gemma3", "attn_k_norm.weight");
  const std::string dir = temp_dir("tiny-gemma3");
  RandomModel rm = make_random_model(random_model_shape("tiny-gemma3").value());
  auto h = load_ok(dir + "/hf"), g = load_ok(dir + "/m.gguf");
  ASSERT_TRUE(h && g);
  for (const auto& m : {h, g}) {
    const ModelConfig& mc = m->config;
    EXPECT_EQ(mc.family, "gemma3");
    EXPECT_EQ(mc.block.local_rope_base, 10000.0);
    EXPECT_EQ(mc.block.local_window, 24);
    EXPECT_EQ(mc.rope_base, 1e6);
    EXPECT_EQ(method_spec_string(mc.native_method).rfind("linear:factor=4", 0), 0u) << method_spec_string(mc.native_method);
    for (int l = 0; l < 6; ++l) EXPECT_EQ(layer_is_local(mc, l), l != 5) << l;
    ASSERT_NE(m->weights.layers[5].k_norm, nullptr);
  }
  const ModelConfig& c = h->config;
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  for (const char* spec : {"", "yarn:factor=8", "rerope:window=8,logn=1"}) {
    EngineOptions o;
    o.method = *spec ? parse_method_spec(spec).value() : c.native_method;
    auto e = make_engine(h, o, 90);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->forward(toks.data(), 60).ok());  // in two calls: the cache keeps both tables' keys
    ASSERT_TRUE((*e)->forward(toks.data() + 60, 30).ok()) << spec;
    std::vector<float> got;
    ASSERT_TRUE((*e)->logits(29, got).ok());  // the last row of the second call
    auto ref = reference_logits(*h, toks, o.method);
    EXPECT_LE(max_diff(got, std::vector<float>(ref.back().begin(), ref.back().end())), 2e-3) << spec;
  }
  // The traits matter: one base for all layers, or no q/k norms, moves the logits.
  const auto base = last_logits(h, toks);
  for (int variant = 0; variant < 2; ++variant) {
    RandomModel v = rm;
    if (variant == 0) v.spec.local_base = 1e6;
    if (variant == 1)
      for (auto& [name, t] : v.t)
        if (name.find("_norm.weight") != std::string::npos && name.find("attn_q") != std::string::npos)
          std::fill(t.begin(), t.end(), 3.0f);
    ASSERT_TRUE(write_hf_model(v, dir + "/v" + std::to_string(variant)).ok());
    EXPECT_GT(max_diff(last_logits(load_ok(dir + "/v" + std::to_string(variant)), toks), base), 1e-3) << variant;
  }
}

// GPT-NeoX (Pythia): a quarter of each head rotary (rotate_half over the first
// rot_dim dims), LayerNorm with biases, erf GELU, per-head fused QKV in safetensors
// and q/k/v blocks in GGUF, the parallel residual, an untied classifier.
TEST(Formats, NeoXGgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-neox", "gptneox", "attn_qkv.bias");
  expect_family_matches_reference("tiny-neox", "gptneox", "ffn_norm.bias");
  auto g = load_ok(temp_dir("tiny-neox") + "/m.gguf"), h = load_ok(temp_dir("tiny-neox") + "/hf");
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    EXPECT_EQ(m->config.arch, Arch::NeoX);
    EXPECT_EQ(m->config.rot_dim, 4);
    EXPECT_EQ(m->config.head_dim, 16);
    EXPECT_TRUE(m->config.block.residual != Residual::Sequential);
    EXPECT_TRUE(m->config.block.ffn == FeedForward::Gelu);
    EXPECT_FALSE(m->config.tied_embeddings);
  }
  // The sequential residual (use_parallel_residual = false) is another model, also
  // equal to the reference.
  RandomModel rm = make_random_model(random_model_shape("tiny-neox").value());
  rm.spec.parallel_residual = false;
  const std::string dir = temp_dir("tiny-neox");
  ASSERT_TRUE(write_hf_model(rm, dir + "/seq").ok());
  ASSERT_TRUE(write_gguf_model(rm, dir + "/seq.gguf").ok());
  auto s = load_ok(dir + "/seq"), sg = load_ok(dir + "/seq.gguf");
  ASSERT_TRUE(s && sg);
  EXPECT_FALSE(s->config.block.residual != Residual::Sequential);
  EXPECT_FALSE(sg->config.block.residual != Residual::Sequential);
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  const auto ls = last_logits(s, toks);
  EXPECT_LE(max_diff(ls, last_logits(sg, toks)), 1e-4);
  auto ref = reference_logits(*s, toks, s->config.native_method);
  EXPECT_LE(max_diff(ls, std::vector<float>(ref.back().begin(), ref.back().end())), 2e-3);
  EXPECT_GT(max_diff(ls, last_logits(h, toks)), 1e-2);
}

// StableLM 2 (1.6B's traits): LayerNorm with biases, SwiGLU, q/k/v biases, grouped
// KV heads, a quarter of each head rotary. Its parallel form (12B's) has no
// feed-forward norm: both blocks read input_layernorm's output.
TEST(Formats, StableLmGgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-stablelm", "stablelm", "ffn_gate.weight");
  expect_family_matches_reference("tiny-stablelm", "stablelm", "attn_k.bias");
  expect_family_matches_reference("tiny-stablelm", "stablelm", "ffn_norm.bias");
  const std::string dir = temp_dir("tiny-stablelm");
  auto g = load_ok(dir + "/m.gguf"), h = load_ok(dir + "/hf");
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.arch, Arch::NeoX);
    EXPECT_TRUE(c.block.ffn == FeedForward::SwiGlu && c.block.qkv_bias && ffn_gated(c));
    EXPECT_FALSE(c.block.residual != Residual::Sequential);
    EXPECT_EQ(c.rot_dim, 4);
    EXPECT_EQ(c.n_kv_heads, 2);
    EXPECT_NE(m->weights.layers[1].ffn_norm_b, nullptr);
  }
  RandomModelSpec sp = random_model_shape("tiny-stablelm").value();
  sp.parallel_residual = true;
  RandomModel par = make_random_model(sp);
  ASSERT_EQ(par.t.count("blk.0.ffn_norm.weight"), 0u);
  ASSERT_TRUE(write_hf_model(par, dir + "/par").ok());
  ASSERT_TRUE(write_gguf_model(par, dir + "/par.gguf").ok());
  auto ph = load_ok(dir + "/par"), pg = load_ok(dir + "/par.gguf");
  ASSERT_TRUE(ph && pg);
  for (const auto& m : {ph, pg}) {
    EXPECT_TRUE(m->config.block.residual == Residual::ParallelOneNorm);
    EXPECT_EQ(m->weights.layers[0].ffn_norm, nullptr);
  }
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  const auto lp = last_logits(ph, toks);
  EXPECT_LE(max_diff(lp, last_logits(pg, toks)), 1e-4);
  auto ref = reference_logits(*ph, toks, MethodParams{});
  EXPECT_LE(max_diff(lp, std::vector<float>(ref.back().begin(), ref.back().end())), 2e-3);
  // A method runs on the rotary quarter only, as the reference applies it.
  EngineOptions o;
  o.method = parse_method_spec("rerope:window=8").value();
  auto e = make_engine(ph, o, 90);
  ASSERT_TRUE(e.ok() && (*e)->forward(toks.data(), 90).ok());
  std::vector<float> rl;
  ASSERT_TRUE((*e)->logits(89, rl).ok());
  auto rref = reference_logits(*ph, toks, o.method);
  EXPECT_LE(max_diff(rl, std::vector<float>(rref.back().begin(), rref.back().end())), 2e-3);
  EXPECT_GT(max_diff(rl, lp), 1e-3);
  // 12B's per-head q/k LayerNorms are refused by name, not run without them.
  par.t["blk.0.attn_q_norm.weight"] = std::vector<float>(16, 1.0f);
  ASSERT_TRUE(write_gguf_model(par, dir + "/qk.gguf").ok());
  auto qk = load_model(dir + "/qk.gguf");
  ASSERT_FALSE(qk.ok());
  EXPECT_NE(qk.error().find("qk_layernorm"), std::string::npos) << qk.error();
}

// Phi-2: one LayerNorm per block read by the attention and the tanh-GELU feed-forward
// (parallel), biases everywhere, the classifier's included, half of each head rotary;
// llama.cpp's older phi2 files fuse q/k/v (and their biases) into attn_qkv.
TEST(Formats, Phi2GgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-phi2", "phi2", "attn_output.bias");
  expect_family_matches_reference("tiny-phi2", "phi2", "ffn_up.bias");
  expect_family_matches_reference("tiny-phi2", "phi2", "attn_q.bias");
  const std::string dir = temp_dir("tiny-phi2");
  auto g = load_ok(dir + "/m.gguf"), h = load_ok(dir + "/hf");
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    const ModelConfig& c = m->config;
    EXPECT_TRUE(c.block.residual == Residual::ParallelOneNorm && c.block.qkv_bias);
    EXPECT_FALSE(c.block.ffn == FeedForward::Gelu || ffn_gated(c));
    EXPECT_EQ(c.rot_dim, 8);
    EXPECT_NE(m->weights.output_b, nullptr);
    EXPECT_EQ(m->weights.layers[0].ffn_norm, nullptr);
  }
  std::vector<int> toks;
  for (int i = 0; i < 90; ++i) toks.push_back((i * 17 + 11) % 512);
  const auto lh = last_logits(h, toks);
  RandomModel rm = make_random_model(random_model_shape("tiny-phi2").value());
  RandomModel no_bias = rm;  // the classifier's bias alone
  std::fill(no_bias.t.at("output.bias").begin(), no_bias.t.at("output.bias").end(), 0.0f);
  ASSERT_TRUE(write_hf_model(no_bias, dir + "/nb").ok());
  EXPECT_GT(max_diff(last_logits(load_ok(dir + "/nb"), toks), lh), 1e-2);
  RandomModel fused = rm;  // q, k, v rows (and biases) in one tensor, in that order
  for (int l = 0; l < rm.spec.n_layers; ++l)
    for (const char* kind : {"weight", "bias"}) {
      std::vector<float> all;
      for (const char* part : {"attn_q.", "attn_k.", "attn_v."}) {
        const std::string name = "blk." + std::to_string(l) + "." + part + kind;
        all.insert(all.end(), fused.t.at(name).begin(), fused.t.at(name).end());
        fused.t.erase(name);
      }
      fused.t["blk." + std::to_string(l) + ".attn_qkv." + kind] = all;
    }
  ASSERT_TRUE(write_gguf_model(fused, dir + "/fused.gguf").ok());
  EXPECT_LE(max_diff(last_logits(load_ok(dir + "/fused.gguf"), toks), lh), 1e-4);
}

// The parameter count a loaded model reports is every weight its file stores, once;
// make-random announces the same count before it generates anything.
TEST(Formats, ParameterCountIsEveryStoredWeight) {
  for (const char* shape : {"tiny-qwen2", "tiny-phi3", "tiny-gemma2", "tiny-bloom", "tiny-neox", "tiny-stablelm",
                            "tiny-phi2", "tiny-mpt"}) {
    const RandomModel rm = make_random_model(random_model_shape(shape).value());
    long long stored = 0;
    for (const auto& [name, t] : rm.t) stored += (long long)t.size();
    EXPECT_EQ(random_model_params(rm.spec), stored) << shape;  // make-random's figure, before writing
    const std::string dir = temp_dir(std::string("count-") + shape);
    ASSERT_TRUE(write_gguf_model(rm, dir + "/m.gguf").ok());
    ASSERT_TRUE(write_hf_model(rm, dir + "/hf").ok());
    for (const std::string& f : {dir + "/m.gguf", dir + "/hf"}) {
      auto m = load_ok(f);
      ASSERT_TRUE(m) << f;
      EXPECT_EQ(m->config.n_params, stored) << f;
    }
  }
}

// MPT: ALiBi over 6 heads (slopes of the non-power-of-two rule), LayerNorm without
// biases, no biases anywhere, Wqkv as q/k/v chunks in both formats, tied classifier.
TEST(Formats, MptGgufAndSafetensorsEqualTheReferenceForward) {
  expect_family_matches_reference("tiny-mpt", "mpt", "attn_qkv.weight");
  expect_family_matches_reference("tiny-mpt", "mpt", "ffn_norm.weight");
  auto g = load_ok(temp_dir("tiny-mpt") + "/m.gguf"), h = load_ok(temp_dir("tiny-mpt") + "/hf");
  ASSERT_TRUE(g && h);
  for (const auto& m : {g, h}) {
    EXPECT_EQ(m->config.arch, Arch::Mpt);
    EXPECT_EQ(m->config.rot_dim, 0);
    EXPECT_EQ(m->config.native_method.method, Method::Alibi);
    EXPECT_TRUE(m->config.tied_embeddings);
    EXPECT_EQ(m->weights.layers[0].bq, nullptr);
    EXPECT_EQ(m->weights.layers[0].attn_norm_b, nullptr);
  }
  // A rotary method on an ALiBi model is refused by name.
  EngineOptions o;
  o.method.method = Method::Rope;
  auto e = make_engine(h, o, 64);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("ALiBi model"), std::string::npos) << e.error();
}

// Logits of every step of incremental decoding vs a full forward of each prefix.
double incremental_vs_full(std::shared_ptr<const Model> m, const MethodParams& p, const std::vector<int>& toks,
                           int prompt) {
  EngineOptions o;
  o.method = p;
  auto inc = make_engine(m, o, (int)toks.size(), DType::F64);
  EXPECT_TRUE(inc.ok());
  EXPECT_TRUE((*inc)->forward(toks.data(), prompt).ok());
  double worst = 0;
  std::vector<float> a, b;
  for (int t = prompt; t <= (int)toks.size(); ++t) {
    EXPECT_TRUE((*inc)->logits((*inc)->pos() == prompt ? prompt - 1 : 0, a).ok());
    auto full = make_engine(m, o, t, DType::F64);
    EXPECT_TRUE((*full)->forward(toks.data(), t).ok());
    EXPECT_TRUE((*full)->logits(t - 1, b).ok());
    worst = std::max(worst, max_diff(a, b));
    if (t < (int)toks.size()) {
      EXPECT_TRUE((*inc)->forward(&toks[t], 1).ok());
    }
  }
  return worst;
}

TEST(Incremental, StaticMethodsEqualFullRecomputation) {
  auto m = load_ok(bundled_gguf(), 16);  // L = 16: decoding runs far beyond it
  auto toks = story_tokens(60);
  for (const char* s : {"rope", "linear:factor=4", "ntk:alpha=4", "ntk-by-parts:factor=4", "yarn:factor=4",
                        "llama3:factor=4", "rerope:window=8,logn=1", "leaky-rerope:window=8,k=4",
                        "self-extend:window=8,group=3", "sliding-window:window=12,sinks=2"})
    EXPECT_LE(incremental_vs_full(m, parse_method_spec(s).value(), toks, 10), 1e-9) << s;
}

TEST(Incremental, DynamicMethodsWithRawCacheEqualFullRecomputation) {
  // One layer, so a cached key depends only on its token: with cache=raw every
  // step re-rotates all keys with the current table, exactly as a full forward.
  const std::string dir = temp_dir("dyn");
  RandomModelSpec spec;
  spec.n_layers = 1;
  spec.train_len = 8;
  ASSERT_TRUE(write_gguf_model(make_random_model(spec), dir + "/one.gguf").ok());
  auto m = load_ok(dir + "/one.gguf");
  std::vector<int> toks;
  for (int i = 0; i < 40; ++i) toks.push_back((i * 7 + 1) % spec.vocab_size);
  for (const char* s : {"dynamic-ntk:alpha=2,cache=raw", "dynamic-linear:cache=raw", "dynamic-yarn:cache=raw"}) {
    EXPECT_LE(incremental_vs_full(m, parse_method_spec(s).value(), toks, 4), 1e-9) << s;
    // cache=rotated keeps each key's old table: the difference shows beyond L.
    std::string rotated = std::string(s).replace(std::string(s).find("raw"), 3, "rotated");
    EXPECT_GT(incremental_vs_full(m, parse_method_spec(rotated).value(), toks, 4), 1e-3) << rotated;
  }
  // ALiBi's dynamic slopes are applied at score time: equal as well (1-layer BLOOM).
  auto bspec = random_model_shape("tiny-bloom").value();
  bspec.n_layers = 1;
  bspec.train_len = 8;
  ASSERT_TRUE(write_hf_model(make_random_model(bspec), dir + "/bloom1").ok());
  EXPECT_LE(incremental_vs_full(load_ok(dir + "/bloom1"), parse_method_spec("dynamic-ntk-alibi:a0=1.5").value(), toks, 4),
            1e-9);
}

}  // namespace
}  // namespace ls::test
