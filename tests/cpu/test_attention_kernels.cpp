// The tiled attention kernel (every instruction set this CPU runs) against the
// row-by-row reference path, at f32 and f64, on random heads of many shapes:
// head sizes with and without an unrolled kernel, GQA groups, partial rotary,
// every band structure (near/far/mixed tiles, windows with sinks, ALiBi slopes,
// log-n, raw-key dynamic tables), a cache filled in two chunks, and f16/bf16
// storage. The accuracy rule is flash-attention's: the kernel's error against a
// double-precision reference is at most twice that of a plain float computation.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/util/parallel.h"
#include "core/engine/engine.h"
#include "core/model/dtype.h"
#include "core/position/spec.h"
#include "core/position/tables.h"

namespace ls {
namespace {

struct Shape {
  int n_heads, n_kv_heads, head_dim, rot_dim;
  PairLayout layout;
};

struct Case {
  Shape shape;
  MethodParams method;
  int n = 0, split = 0;  // tokens; the first call appends [0, split), the second the rest
  std::vector<float> q, k, v;
};

Case make_case(const Shape& s, const char* spec, int n, int split, unsigned seed) {
  Case u;
  u.shape = s;
  auto mp = parse_method_spec(spec);
  EXPECT_TRUE(mp.ok()) << spec;
  u.method = mp.value();
  u.n = n;
  u.split = split;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto fill = [&](std::vector<float>& x, size_t count, float scale) {
    x.resize(count);
    for (float& e : x) e = g(rng) * scale;
  };
  fill(u.q, (size_t)n * s.n_heads * s.head_dim, 1.5f);  // peaked enough that softmax is not flat
  fill(u.k, (size_t)n * s.n_kv_heads * s.head_dim, 1.5f);
  fill(u.v, (size_t)n * s.n_kv_heads * s.head_dim, 1.0f);
  return u;
}

// Runs the two calls of `u` through one backend and returns the outputs of every query.
// Probabilities an observer received: (query position, head) → row.
using Probes = std::map<std::pair<int, int>, std::vector<float>>;

template <typename T>
std::vector<double> run(const Case& u, CpuOptions o, std::optional<DType> kv, int probe_head = -2, Probes* probes = nullptr) {
  const Shape& s = u.shape;
  CpuBackend b(o);
  const PositionContext ctx{s.rot_dim, 10000.0, 64.0, (double)u.n};
  KvSpec spec;
  spec.act = dtype_of<T>();
  spec.n_layers = 1;
  spec.kv_dim = s.n_kv_heads * s.head_dim;
  spec.dtype = kv;
  spec.keys = key_form_for(u.method);
  auto cache = b.make_cache(spec);
  EXPECT_TRUE(b.reserve_kv(*cache, u.n, 0).ok());
  b.set_positions(*cache, position_tables(u.method, ctx, s.n_heads), 0);
  const int q_dim = s.n_heads * s.head_dim, kv_dim = spec.kv_dim;
  std::vector<double> out;
  for (int part = 0; part < 2; ++part) {
    const int p0 = part ? u.split : 0, n_new = part ? u.n - u.split : u.split;
    AttentionParams p = attention_params(u.method, s.n_heads, s.n_kv_heads, s.head_dim, s.rot_dim, s.layout, 64.0);
    p.p0 = p0;
    p.n_new = n_new;
    std::vector<T> q(u.q.begin() + (size_t)p0 * q_dim, u.q.begin() + (size_t)(p0 + n_new) * q_dim);
    std::vector<T> k(u.k.begin() + (size_t)p0 * kv_dim, u.k.begin() + (size_t)(p0 + n_new) * kv_dim);
    std::vector<T> v(u.v.begin() + (size_t)p0 * kv_dim, u.v.begin() + (size_t)(p0 + n_new) * kv_dim);
    std::vector<T> o_buf((size_t)n_new * q_dim);
    AttentionObserver obs;
    std::mutex mu;
    obs.layer = 0;
    obs.head = probe_head;
    obs.on_row = [&](int h, int m, const float* pr, int n_keys) {
      std::lock_guard<std::mutex> lock(mu);
      (*probes)[{m, h}] = std::vector<float>(pr, pr + n_keys);
    };
    auto st = b.attention(*cache, p, host_tensor(q.data(), q.size()), host_tensor(k.data(), k.size()),
                          host_tensor(v.data(), v.size()), host_tensor(o_buf.data(), o_buf.size()),
                          probes ? &obs : nullptr, nullptr);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error());
    out.insert(out.end(), o_buf.begin(), o_buf.end());
  }
  return out;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double w = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) w = std::max(w, std::fabs(a[i] - b[i]));
  return w;
}

CpuOptions opts(CpuAttention a, const std::string& isa = "", int threads = 2) {
  CpuOptions o;
  o.threads = threads;
  o.attention = a;
  o.isa = isa;
  return o;
}

const Shape kShapes[] = {
    {8, 4, 8, 8, PairLayout::Interleaved},     // the bundled model's heads
    {4, 4, 16, 16, PairLayout::HalfSplit},     // no GQA
    {8, 2, 64, 64, PairLayout::HalfSplit},     // TinyLlama-like group of 4
    {4, 1, 128, 64, PairLayout::Interleaved},  // partial rotary, one KV head
    {6, 3, 12, 8, PairLayout::Interleaved},    // a head size with no unrolled kernel
};
const char* kMethods[] = {"rope", "yarn:factor=4", "rerope:window=40,logn=1", "leaky-rerope:window=33,k=8",
                          "self-extend:window=32,group=3", "sliding-window:window=37,sinks=4",
                          "dynamic-ntk:alpha=2,cache=raw", "dynamic-ntk:alpha=2"};

TEST(AttentionKernels, TiledMatchesReferenceOnEveryIsaShapeAndMethod) {
  const std::vector<std::string> isas = cpu_attention_isas();
  int checked = 0;
  for (const Shape& s : kShapes)
    for (const char* spec : kMethods) {
      const Case u = make_case(s, spec, 300, 171, 11u + (unsigned)checked);
      const std::vector<double> ref = run<double>(u, opts(CpuAttention::Rows), std::nullopt);
      const double plain = max_diff(run<float>(u, opts(CpuAttention::Rows), std::nullopt), ref);
      for (const std::string& isa : isas) {
        const double tiled = max_diff(run<float>(u, opts(CpuAttention::Tiled, isa), std::nullopt), ref);
        EXPECT_LE(tiled, 2 * plain + 1e-6) << spec << " hd=" << s.head_dim << " isa=" << isa << " plain=" << plain;
        ++checked;
      }
    }
  EXPECT_GE(checked, 40);
}

// A probed layer runs tiled: its output is the unprobed tiled output, and the
// probabilities (log-sum-exp from the kernel, scores recomputed) equal the row
// path's, for every shape and method, every head or one.
TEST(AttentionKernels, TiledProbeEqualsTheRowPathProbabilities) {
  int shape_i = 0;
  for (const Shape& sh : kShapes) {
    for (const char* spec : kMethods) {
      const Case u = make_case(sh, spec, 150, 97, 7 + shape_i);
      for (int head : {-1, sh.n_heads - 1}) {
        Probes rows, tiled;
        run<float>(u, opts(CpuAttention::Rows), std::nullopt, head, &rows);
        const auto out = run<float>(u, opts(CpuAttention::Tiled), std::nullopt, head, &tiled);
        EXPECT_EQ(out, run<float>(u, opts(CpuAttention::Tiled), std::nullopt)) << spec;
        ASSERT_EQ(rows.size(), tiled.size()) << spec;
        ASSERT_EQ(rows.size(), (size_t)150 * (head < 0 ? sh.n_heads : 1)) << spec;
        double w = 0, mass = 0;
        for (const auto& [key, r] : rows) {
          const auto& t = tiled.at(key);
          ASSERT_EQ(r.size(), t.size());
          double sum = 0;
          for (size_t j = 0; j < r.size(); ++j) w = std::max(w, (double)std::fabs(r[j] - t[j])), sum += t[j];
          mass = std::max(mass, std::fabs(sum - 1.0));
        }
        EXPECT_LE(w, 2e-5) << spec << " shape " << shape_i << " head " << head;
        EXPECT_LE(mass, 1e-4) << spec;
      }
    }
    ++shape_i;
  }
}

TEST(AttentionKernels, AlibiSlopesThroughTheKernel) {
  const Shape s{8, 8, 16, 16, PairLayout::Interleaved};
  for (const char* spec : {"alibi", "ntk-alibi:a=4", "alibi-linear:a=2"}) {
    const Case u = make_case(s, spec, 260, 100, 5);
    const std::vector<double> ref = run<double>(u, opts(CpuAttention::Rows), std::nullopt);
    const double plain = max_diff(run<float>(u, opts(CpuAttention::Rows), std::nullopt), ref);
    for (const std::string& isa : cpu_attention_isas())
      EXPECT_LE(max_diff(run<float>(u, opts(CpuAttention::Tiled, isa), std::nullopt), ref), 2 * plain + 1e-6)
          << spec << " isa=" << isa;
  }
}

TEST(AttentionKernels, HalfAndBfloatCachesMatchTheReferenceOnTheSameStoredValues) {
  const Shape s{8, 2, 64, 64, PairLayout::HalfSplit};
  for (const char* spec : {"rope", "rerope:window=40"})
    for (DType kv : {DType::F16, DType::BF16}) {
      const Case u = make_case(s, spec, 200, 77, 9);
      // same rounded cache on both sides: only the kernel's arithmetic differs
      const std::vector<double> ref = run<double>(u, opts(CpuAttention::Rows), kv);
      const double plain = max_diff(run<float>(u, opts(CpuAttention::Rows), kv), ref);
      for (const std::string& isa : cpu_attention_isas())
        EXPECT_LE(max_diff(run<float>(u, opts(CpuAttention::Tiled, isa), kv), ref), 2 * plain + 1e-6)
            << spec << " isa=" << isa;
      // and the rounding itself stays small against the f32 cache
      const double rounding = max_diff(run<float>(u, opts(CpuAttention::Tiled), kv),
                                       run<float>(u, opts(CpuAttention::Tiled), std::nullopt));
      EXPECT_LT(rounding, kv == DType::F16 ? 5e-3 : 4e-2) << spec;
      EXPECT_GT(rounding, 0.0) << spec << ": the cache was not rounded";
    }
}

TEST(AttentionKernels, ThreadCountNeverChangesTheTiledResult) {
  const Case u = make_case({8, 4, 8, 8, PairLayout::Interleaved}, "leaky-rerope:window=33,k=8", 300, 130, 3);
  const std::vector<double> one = run<float>(u, opts(CpuAttention::Tiled, "", 1), std::nullopt);
  for (int threads : {2, 3, 5}) EXPECT_EQ(run<float>(u, opts(CpuAttention::Tiled, "", threads), std::nullopt), one);
}

TEST(AttentionKernels, IsaListEndsWithGenericAndUnknownNamesFallBackToTheBest) {
  const std::vector<std::string> isas = cpu_attention_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.back(), "generic");
  EXPECT_EQ(CpuBackend(opts(CpuAttention::Tiled, "no-such-isa")).isa(), isas.front());
  EXPECT_EQ(CpuBackend(opts(CpuAttention::Tiled, "generic")).isa(), "generic");
}

// The feed-forward GELUs: erf-exact (GPT-NeoX, MPT: torch's nn.GELU()) and BLOOM's
// tanh form, against values written out here (x·Φ(x) with Φ from erfc; the tanh
// form of bloom_gelu_forward). At x = -3 they differ by 10 %.
TEST(Activations, ExactAndTanhGelu) {
  CpuBackend b(opts(CpuAttention::Rows, "generic"));
  const std::vector<double> xs = {-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 4.0};
  std::vector<double> exact = xs, approx = xs;
  b.gelu(host_tensor(exact.data(), exact.size()), true);
  b.gelu(host_tensor(approx.data(), approx.size()), false);
  ASSERT_TRUE(b.sync().ok());
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    EXPECT_NEAR(exact[i], 0.5 * x * std::erfc(-x / std::sqrt(2.0)), 1e-15) << x;
    EXPECT_NEAR(approx[i], 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))), 1e-15) << x;
  }
  EXPECT_NEAR(exact[0], -0.0040496, 1e-7);
  EXPECT_NEAR(approx[0], -0.0036374, 1e-7);
}

TEST(DtypeConversions, EveryHalfRoundTripsAndFloatsRoundToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = half_to_float((uint16_t)h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    ASSERT_EQ(float_to_half(f), h) << "half " << h;
  }
  // every float between two neighbouring halves goes to the nearer (ties to even)
  std::mt19937 rng(1);
  for (int i = 0; i < 200000; ++i) {
    const uint16_t lo = (uint16_t)(rng() % 0x7bff);  // positive finite halves below the largest
    const float a = half_to_float(lo), b = half_to_float((uint16_t)(lo + 1));
    const float x = a + (b - a) * std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
    const uint16_t got = float_to_half(x);
    const float da = x - a, db = b - x;
    const uint16_t want = da < db ? lo : db < da ? (uint16_t)(lo + 1) : ((lo & 1) ? (uint16_t)(lo + 1) : lo);
    ASSERT_EQ(got, want) << x;
    ASSERT_EQ(float_to_half(-x), want | 0x8000) << -x;
  }
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // rounds past the largest half: Inf
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e-9f), 0);
  EXPECT_EQ(half_to_float(float_to_half(INFINITY)), INFINITY);
}

TEST(DtypeConversions, BfloatRoundsToNearestEven) {
  std::mt19937 rng(2);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(std::uniform_real_distribution<float>(1.0f, 2.0f)(rng), (int)(rng() % 60) - 30);
    const uint16_t got = float_to_bf16(x);
    const float r = bf16_to_float(got);
    const float up = bf16_to_float((uint16_t)(got + 1)), down = bf16_to_float((uint16_t)(got - 1));
    ASSERT_LE(std::fabs(x - r), std::fabs(x - up)) << x;
    ASSERT_LE(std::fabs(x - r), std::fabs(x - down)) << x;
  }
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f)), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
}

}  // namespace
}  // namespace ls

namespace ls {
namespace {

// The worker pool: many short jobs in a row, and callers on several threads at
// once (the busy pool falls back to threads of their own); every index runs once.
TEST(ParallelFor, EveryIndexOnceUnderConcurrentCallers) {
  auto job = [](int n, int threads) {
    std::vector<std::atomic<int>> hits(n);
    parallel_for(n, threads, [&](int i) { hits[i].fetch_add(1); });
    for (auto& h : hits)
      if (h.load() != 1) return false;
    return true;
  };
  for (int rep = 0; rep < 2000; ++rep) ASSERT_TRUE(job(1 + rep % 37, 1 + rep % 5)) << rep;
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int rep = 0; rep < 300; ++rep)
        if (!job(50 + c, 3)) failures.fetch_add(1);
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace ls

namespace ls {
namespace {

// One K copy and V per layer: with f16 storage exactly llama.cpp's f16 cache
// (2 · n_layers · kv_dim · 2 bytes per token); the engine's estimate follows it.
TEST(KvCacheSize, OneKeyCopyAndHalfStorage) {
  KvSpec s;
  s.n_layers = 22;
  s.kv_dim = 256;  // TinyLlama-1.1B: 4 KV heads × 64
  CpuBackend b(CpuOptions{});
  EXPECT_EQ(b.kv_bytes_per_token(s), 2u * 22 * 256 * 4);
  s.act = DType::F64;  // a reference run's cache holds doubles
  EXPECT_EQ(b.kv_bytes_per_token(s), 2u * 22 * 256 * 8);
  s.dtype = DType::F16;
  EXPECT_EQ(b.kv_bytes_per_token(s), 2u * 22 * 256 * 2);  // 22.5 KiB, llama.cpp's f16 KV
  s.dtype = DType::BF16;
  EXPECT_EQ(b.kv_bytes_per_token(s), 2u * 22 * 256 * 2);
  ModelConfig c;
  c.dim = 2048;
  c.hidden_dim = 5632;
  c.n_layers = 22;
  c.n_heads = 32;
  c.n_kv_heads = 4;
  c.head_dim = 64;
  c.rot_dim = 64;
  c.vocab_size = 32000;
  const size_t f32 = engine_memory_bytes(c, 32768, 256, DType::F32), f16 = engine_memory_bytes(c, 32768, 256, DType::F32, DType::F16);
  EXPECT_EQ(f32 - f16, (size_t)32768 * 2 * 22 * 256 * 2);  // only the cache shrinks
}

}  // namespace
}  // namespace ls
