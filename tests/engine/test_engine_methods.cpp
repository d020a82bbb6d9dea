// Every method inside the CPU engine against the independent reference forward,
// on the bundled model beyond its training length (RoPE family, remaps, masks)
// and on a random BLOOM model (ALiBi family).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/analysis/analysis.h"
#include "core/position/spec.h"
#include "tests/engine/reference_forward.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

struct Case {
  const char* spec;
  double tol_f32;
};

// NLL of every prediction of one window through the engine.
std::vector<double> engine_nll(std::shared_ptr<const Model> m, const std::vector<int>& toks, const MethodParams& p,
                               DType prec, int chunk, int threads = 2) {
  RunConfig run;
  run.model = m;
  run.engine.method = p;
  run.engine.chunk = chunk;
  run.backend.cpu.threads = threads;
  run.precision = prec;
  auto r = run_ppl(run, toks, (int)toks.size() - 1, 1);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? r->nll : std::vector<double>{};
}

void compare(const std::vector<double>& a, const std::vector<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, tol) << what << ": largest per-token NLL difference " << worst;
}

TEST(EngineMethods, RopeFamilyMatchesReferenceBeyondL) {
  auto m = load_ok(bundled_gguf(), 128);  // L = 128 so a 300-token window runs well past it
  ASSERT_TRUE(m);
  auto toks = story_tokens(301);
  for (const char* s :
       {"rope", "rope:logn=1", "linear:factor=4", "ntk:alpha=4", "dynamic-ntk:alpha=2", "dynamic-linear",
        "ntk-by-parts:factor=4", "yarn:factor=4", "yarn:factor=4,truncate=0,attention_factor=1.3", "dynamic-yarn",
        "llama3:factor=4,low_freq_factor=1,high_freq_factor=4", "rerope:window=64", "rerope:window=64,logn=1",
        "leaky-rerope:window=64,k=8", "self-extend:window=32,group=4", "self-extend:window=30,group=4,float_offset=1",
        "sliding-window:window=50,sinks=4"}) {
    auto p = parse_method_spec(s).value();
    auto ref = reference_nll(*m, toks, p);
    compare(engine_nll(m, toks, p, DType::F64, 64), ref, 1e-9, std::string(s) + " f64");
    compare(engine_nll(m, toks, p, DType::F32, 64), ref, 2e-4, std::string(s) + " f32");
  }
}

// F16 / BF16 matrices are kept as stored and widened inside the matmul: the
// engine equals the reference forward on the very same stored weights.
TEST(EngineMethods, SixteenBitWeightsKeptAsStoredMatchReference) {
  const std::string dir = temp_dir("w16");
  auto rm = make_random_model(random_model_shape("bundled").value());
  auto toks = story_tokens(200);
  for (DType t : {DType::F16, DType::BF16}) {
    const std::string path = dir + "/m" + dtype_name(t) + ".gguf";
    ASSERT_TRUE(write_gguf_model(rm, path, t).ok());
    auto m = load_ok(path, 64);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->weights.layers[0].wq.dtype, t);
    EXPECT_EQ(m->weights.tok_embd.dtype, t);
    auto p = parse_method_spec("yarn:factor=4").value();
    auto ref = reference_nll(*m, toks, p);
    compare(engine_nll(m, toks, p, DType::F64, 64), ref, 1e-9, std::string(dtype_name(t)) + " f64");
    compare(engine_nll(m, toks, p, DType::F32, 64), ref, 2e-4, std::string(dtype_name(t)) + " f32");
  }
}

TEST(EngineMethods, HalfSplitLayoutMatchesReference) {
  // The same random weights in HF layout (half-split pairs) must follow the same math.
  auto dir = temp_dir("halfsplit");
  RandomModelSpec spec;
  spec.train_len = 32;
  auto rm = make_random_model(spec);
  ASSERT_TRUE(write_hf_model(rm, dir).ok());
  auto m = load_ok(dir);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->config.layout, PairLayout::HalfSplit);
  std::vector<int> toks;
  for (int i = 0; i < 97; ++i) toks.push_back((i * 37 + 11) % spec.vocab_size);
  for (const char* s : {"rope", "yarn:factor=4", "rerope:window=16", "leaky-rerope:window=8,k=4"}) {
    auto p = parse_method_spec(s).value();
    compare(engine_nll(m, toks, p, DType::F64, 16), reference_nll(*m, toks, p), 1e-9, s);
  }
}

TEST(EngineMethods, LongRopeFromConfigMatchesReference) {
  auto dir = temp_dir("longrope");
  RandomModelSpec spec;
  spec.train_len = 32;
  ASSERT_TRUE(write_hf_model(make_random_model(spec), dir).ok());
  // Rewrite config.json with a longrope scaling dict (head_dim 8 → 4 factors per list).
  std::ifstream in(dir + "/config.json");
  auto cfg = nlohmann::json::parse(in);
  in.close();
  cfg["max_position_embeddings"] = 128;
  cfg["original_max_position_embeddings"] = 32;
  cfg["rope_scaling"] = {{"rope_type", "longrope"}, {"short_factor", {1.0, 1.1, 1.3, 1.7}}, {"long_factor", {1.0, 2.0, 4.0, 8.0}}};
  std::ofstream(dir + "/config.json") << cfg.dump();
  auto m = load_ok(dir);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->config.native_method.method, Method::LongRope);
  std::vector<int> toks;
  for (int i = 0; i < 81; ++i) toks.push_back((i * 29 + 3) % spec.vocab_size);
  MethodParams p = m->config.native_method;
  attach_model_tables(p, m->config);  // the reference needs the lists too
  for (int n : {20, 80}) {             // inside L (short factors) and beyond (long factors)
    std::vector<int> t(toks.begin(), toks.begin() + n + 1);
    compare(engine_nll(m, t, m->config.native_method, DType::F64, 16), reference_nll(*m, t, p), 1e-9,
            "longrope n=" + std::to_string(n));
  }
}

TEST(EngineMethods, AlibiFamilyMatchesReference) {
  auto dir = temp_dir("bloom");
  auto spec = random_model_shape("tiny-bloom").value();
  spec.train_len = 32;
  spec.n_heads = spec.n_kv_heads = 6;  // not a power of two: BLOOM's interleaved extra slopes
  spec.dim = 60;                       // 6 heads × 10: BLOOM's heads tile the width exactly
  spec.hidden_dim = 4 * spec.dim;
  ASSERT_TRUE(write_hf_model(make_random_model(spec), dir).ok());
  auto m = load_ok(dir);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->config.arch, Arch::Bloom);
  std::vector<int> toks;
  for (int i = 0; i < 121; ++i) toks.push_back((i * 53 + 7) % spec.vocab_size);
  for (const char* s : {"alibi", "alibi-linear:a=2", "ntk-alibi:a=2", "ntk-alibi:a=2,seed_exact=1",
                        "dynamic-ntk-alibi:a0=1.5", "alibi:logn=1"}) {
    auto p = parse_method_spec(s).value();
    auto ref = reference_nll(*m, toks, p);
    compare(engine_nll(m, toks, p, DType::F64, 32), ref, 1e-9, std::string(s) + " f64");
    compare(engine_nll(m, toks, p, DType::F32, 32), ref, 2e-4, std::string(s) + " f32");
  }
}

TEST(EngineMethods, ChunkingAndThreadsDoNotChangeResults) {
  auto m = load_ok(bundled_gguf());
  auto toks = story_tokens(257);
  for (const char* s : {"rope", "rerope:window=32", "dynamic-ntk:alpha=2"}) {
    auto p = parse_method_spec(s).value();
    auto one = engine_nll(m, toks, p, DType::F32, 256, 1);
    auto two = engine_nll(m, toks, p, DType::F32, 256, 2);
    EXPECT_EQ(one, two) << s << ": results depend on the thread count";
    compare(engine_nll(m, toks, p, DType::F32, 17, 2), one, 5e-5, std::string(s) + " chunk 17 vs 256 (fp32 summation order)");
  }
}

TEST(EngineMethods, IdentitiesInsideTheEngine) {
  auto m = load_ok(bundled_gguf());
  auto toks = story_tokens(200);
  auto rope = engine_nll(m, toks, parse_method_spec("rope").value(), DType::F64, 64);
  for (const char* s : {"linear:factor=1", "ntk:alpha=1", "rerope:window=1000", "leaky-rerope:window=8,k=1",
                        "sliding-window:window=500,sinks=0", "self-extend:window=1000,group=2"})
    compare(engine_nll(m, toks, parse_method_spec(s).value(), DType::F64, 64), rope, 1e-10, s);
}

TEST(EngineMethods, AttentionRegionIsTheFullMatrixBlock) {
  RunConfig run;
  run.model = load_ok(bundled_gguf());
  run.engine.method = parse_method_spec("rerope:window=64").value();
  auto toks = story_tokens(400);
  auto full = run_attention(run, toks, 400, 2, 3, 0, PoolMode::Max);
  auto block = run_attention(run, toks, 400, 2, 3, 0, PoolMode::Max, AttentionRegion{150, 40, 200});
  ASSERT_TRUE(full.ok() && block.ok());
  for (int r = 0; r < 200; ++r)
    for (int c = 0; c < 200; ++c)
      ASSERT_EQ(block->probs[(size_t)r * 200 + c], full->probs[(size_t)(150 + r) * 400 + 40 + c]) << r << "," << c;
  auto pooled = run_attention(run, toks, 400, 2, 3, 40, PoolMode::Mean);
  ASSERT_TRUE(pooled.ok());
  EXPECT_EQ(pooled->pooled, 40);
  EXPECT_NEAR(full->mean_distance, pooled->mean_distance, 1e-9);
  EXPECT_FALSE(run_attention(run, toks, 400, 2, 3, 0, PoolMode::Max, AttentionRegion{500, 0, 10}).ok());
}

// Every head of a layer from one forward equals each head on its own; the forward that
// stops after the observed layer sees exactly what a whole forward sees there; progress
// rises to 1.
TEST(EngineMethods, AttentionHeadsOfALayerInOneForward) {
  RunConfig run;
  run.model = load_ok(bundled_gguf());
  run.engine.method = parse_method_spec("rerope:window=64,logn=1").value();
  std::vector<double> progress;
  run.progress = [&progress](double f) { progress.push_back(f); };
  auto toks = story_tokens(300);
  auto all = run_attention_heads(run, toks, 300, 2, 100, PoolMode::Max);
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ(all->size(), (size_t)run.model->config.n_heads);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  for (int h = 0; h < run.model->config.n_heads; ++h) {
    auto one = run_attention(run, toks, 300, 2, h, 100, PoolMode::Max);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ((*all)[(size_t)h].head, h);
    EXPECT_EQ((*all)[(size_t)h].probs, one->probs) << h;
    EXPECT_EQ((*all)[(size_t)h].entropy, one->entropy) << h;
    EXPECT_DOUBLE_EQ((*all)[(size_t)h].heads[(size_t)h].mean_entropy, one->heads[(size_t)h].mean_entropy);
  }
  // A whole forward with a plain observer: layer 2, head 3's rows are the same.
  std::vector<float> whole((size_t)300 * 300, -1.0f);
  AttentionObserver obs;
  obs.layer = 2;
  obs.head = 3;
  int later_layers = 0;
  obs.on_layer = [&later_layers](int l) { later_layers += l > 2; };
  obs.on_row = [&whole](int h, int m, const float* p, int nk) {
    if (h == 3) std::copy(p, p + nk, whole.begin() + (ptrdiff_t)m * 300);
  };
  RunConfig r = run;
  r.engine.observer = &obs;
  auto eng = make_engine(r.model, r.engine, 300, r.precision, r.backend, r.backends);
  ASSERT_TRUE(eng.ok());
  ASSERT_TRUE((*eng)->forward(toks.data(), 300).ok());
  EXPECT_GT(later_layers, 0);  // the whole forward ran above layer 2
  auto full = run_attention(run, toks, 300, 2, 3, 0, PoolMode::Max);
  ASSERT_TRUE(full.ok());
  for (int m = 0; m < 300; ++m)
    for (int j = 0; j <= m; ++j) ASSERT_EQ(full->probs[(size_t)m * 300 + j], whole[(size_t)m * 300 + j]) << m << "," << j;
}

TEST(EngineMethods, CancelStopsAForward) {
  auto m = load_ok(bundled_gguf());
  std::atomic<bool> cancel{true};
  RunConfig run;
  run.model = m;
  run.engine.cancel = &cancel;
  auto r = run_ppl(run, story_tokens(300), 256);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cancelled"), std::string::npos);
}

}  // namespace
}  // namespace ls::test
