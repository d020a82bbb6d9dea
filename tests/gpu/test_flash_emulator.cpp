// The CUDA flash attention's algorithm, checked without a GPU (#11 item 3): its
// CPU emulator (gpu/flash_emulator.h: the kernel's tiles, classification, bf16
// operands and online softmax) against the independent double-precision
// reference attention (tests/engine/reference_forward.h: scores from the relative
// angle of docs/methods.md §2 written out, not the band algebra) for every method, at
// N ∈ {1, 17, 128, 1000, 4096}, with queries starting mid-sequence (chunked p0),
// GQA, partial rotary and both pair layouts. Accuracy rule (FlashAttention's): the
// emulator's error is at most twice that of a naive attention in the same
// precision (bf16 operands, scores and probabilities rounded to bf16 as a bf16
// matmul would) on the same inputs; and that naive error is itself small, so the
// inputs both share (the band operands) are right too. The kernel's log-sum-exp
// (the heatmap probe recomputes probabilities from it) equals the one of its
// operands' fp32 scores.
#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <string>
#include <vector>

#include "core/model/dtype.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "gpu/flash_emulator.h"
#include "tests/engine/reference_forward.h"
#include "tests/gpu/flash_case.h"
#include "tests/sanitizers.h"

namespace ls {
namespace {

struct Shape {
  int n_heads, n_kv_heads, head_dim, rot_dim;
  PairLayout layout;
};

// The kernel's two head sizes; GQA groups of 2 and 4; one partial-rotary head.
const Shape kShapes[] = {
    {4, 2, 64, 32, PairLayout::HalfSplit},
    {4, 1, 128, 128, PairLayout::Interleaved},
};

// Every method of `longscope-cli methods`, with windows that give near, far and
// mixed tiles at these lengths (L = 256).
const char* kMethods[] = {
    "rope", "rope:logn=1", "linear:factor=4", "ntk:alpha=8", "dynamic-ntk:alpha=2", "dynamic-ntk:alpha=2,cache=raw",
    "dynamic-linear", "ntk-by-parts:factor=4", "yarn:factor=4", "dynamic-yarn", "llama3:factor=8",
    "longrope:factor=4", "rerope:window=100,logn=1", "leaky-rerope:window=100,k=16", "self-extend:window=100,group=8",
    "sliding-window:window=300,sinks=4", "alibi", "alibi-linear:a=4", "ntk-alibi:a=8", "dynamic-ntk-alibi"};

constexpr double kTrainLen = 256;

struct Size {
  int n, p0;  // tokens; the queries are positions [p0, n)
};
#ifdef LS_ASAN
// Under AddressSanitizer (a memory check, ~10x slower here) the lengths that cover
// every tile case (short query and key tiles, several of each) but not the longest.
const Size kSizes[] = {{1, 0}, {17, 9}, {128, 0}, {1000, 900}};
#else
const Size kSizes[] = {{1, 0}, {17, 9}, {128, 0}, {1000, 900}, {4096, 4026}};
#endif

struct Errors {
  double flash = 0, naive = 0, lse = 0;
};

float bf16r(float x) { return bf16_to_float(float_to_bf16(x)); }

// A bf16 attention computed plainly on the emulator's inputs: every score of a row,
// rounded to bf16 (a bf16 QKᵀ), the softmax in fp32, probabilities rounded to bf16,
// the output rounded to bf16. The mask and bands come from the reference's own
// predicates. Also returns each row's log-sum-exp, in double, of the fp32 scores.
std::vector<double> naive_bf16(const FlashInputs& in, const MethodParams& m, std::vector<double>* lse) {
  const FlashShape& s = in.shape;
  const int n = flash_keys(s), hd = s.hd;
  std::vector<double> out((size_t)s.n_new * s.q_dim);
  lse->assign((size_t)s.n_new * s.n_heads, 0.0);
  std::vector<float> sc(n);
  std::vector<double> sd(n);
  auto widen = [](const std::vector<uint16_t>& x) {
    std::vector<float> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = bf16_to_float(x[i]);
    return y;
  };
  const std::vector<float> qn = widen(in.qn), qf = widen(in.qf), kn = widen(in.kn), kf = widen(in.kf), vv = widen(in.v);
  for (int t = 0; t < s.n_new; ++t)
    for (int h = 0; h < s.n_heads; ++h) {
      const int mq = s.p0 + t, kh = h / s.group;
      float mx = -INFINITY;
      for (int j = 0; j < n; ++j) {
        sc[j] = -INFINITY;
        sd[j] = -INFINITY;
        if (!test::ref_visible(m, mq, j)) continue;
        const bool far = s.bands.remap && mq - j >= s.bands.window;
        const float* q = &(far ? qf : qn)[(size_t)t * s.q_dim + (size_t)h * hd];
        const float* k = &(far ? kf : kn)[(size_t)j * s.kv_dim + (size_t)kh * hd];
        float dot = 0;
        for (int i = 0; i < hd; ++i) dot += q[i] * k[i];
        double dd = dot;
        const double slope = in.slopes.empty() ? 0.0 : in.slopes[h];
        float v = bf16r(dot);
        if (s.softcap > 0) {
          v = s.softcap * std::tanh(v / s.softcap);
          dd = s.softcap * std::tanh(dd / s.softcap);
        }
        sc[j] = bf16r(v - (float)(slope * (mq - j)));
        sd[j] = dd - slope * (mq - j);
        mx = std::max(mx, sc[j]);
      }
      double dmx = -INFINITY, dsum = 0;
      for (double e : sd) dmx = std::max(dmx, e);
      for (double e : sd) dsum += std::exp(e - dmx);
      (*lse)[(size_t)t * s.n_heads + h] = dmx + std::log(dsum);
      float sum = 0;
      for (int j = 0; j < n; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
      std::vector<float> o(hd, 0.0f);
      for (int j = 0; j < n; ++j) {
        const float pr = bf16r(sc[j] / sum);
        for (int i = 0; i < hd; ++i) o[i] += pr * vv[(size_t)j * s.kv_dim + (size_t)kh * hd + i];
      }
      for (int i = 0; i < hd; ++i) out[(size_t)t * s.q_dim + (size_t)h * hd + i] = bf16r(o[i]);
    }
  return out;
}

Errors check(const Shape& sh, const char* spec, const Size& z, double softcap, unsigned seed,
             const float* sinks = nullptr) {
  const int H = sh.n_heads, KV = sh.n_kv_heads, hd = sh.head_dim, q_dim = H * hd, kv_dim = KV * hd;
  const test::FlashCase fc =
      test::make_flash_case(H, KV, hd, sh.rot_dim, sh.layout, spec, z.n, z.p0, kTrainLen, softcap, seed, sinks);
  const MethodParams& m = fc.method;
  const PositionContext& ctx = fc.ctx;
  const std::vector<float>& q = fc.q;
  const std::vector<float>& k = fc.k;
  const std::vector<float>& v = fc.v;
  const FlashInputs& in = fc.in;
  const int n_new = z.n - z.p0;
  std::vector<float> out((size_t)n_new * q_dim), lse((size_t)n_new * H);
  flash_emulate(in, out.data(), lse.data());

  test::RefMat qd(z.n, std::vector<double>(q_dim)), kd(z.n, std::vector<double>(kv_dim)), vd(z.n, std::vector<double>(kv_dim));
  for (int t = 0; t < z.n; ++t) {
    for (int i = 0; i < q_dim; ++i) qd[t][i] = q[(size_t)t * q_dim + i];
    for (int i = 0; i < kv_dim; ++i) {
      kd[t][i] = k[(size_t)t * kv_dim + i];
      vd[t][i] = v[(size_t)t * kv_dim + i];
    }
  }
  const bool alibi = method_is_alibi(m.method);
  std::vector<double> slopes;
  for (int h = 0; alibi && h < H; ++h) slopes.push_back(alibi_slope(m, ctx, h + 1, H));
  const test::RefHeads heads{H, KV, hd, sh.rot_dim, sh.layout, 1.0 / std::sqrt((double)hd), softcap, kTrainLen, 0, sinks};
  const test::RefMat ref = test::ref_attention(qd, kd, vd, heads, m, alibi ? RopeTable{} : rope_table(m, ctx), slopes, z.p0);

  std::vector<double> naive_lse;
  const std::vector<double> naive = naive_bf16(in, m, &naive_lse);
  Errors e;
  for (int t = 0; t < n_new; ++t) {
    for (int i = 0; i < q_dim; ++i) {
      const double r = ref[z.p0 + t][i];
      e.flash = std::max(e.flash, std::fabs(out[(size_t)t * q_dim + i] - r));
      e.naive = std::max(e.naive, std::fabs(naive[(size_t)t * q_dim + i] - r));
    }
    for (int h = 0; h < H; ++h)
      e.lse = std::max(e.lse, std::fabs(lse[(size_t)t * H + h] - naive_lse[(size_t)t * H + h]));
  }
  return e;
}

TEST(FlashEmulator, EveryMethodWithinTwiceTheNaiveBf16ErrorOfTheReference) {
  int checked = 0;
  double worst_naive = 0;
  for (const Shape& sh : kShapes)
    for (const char* spec : kMethods)
      for (const Size& z : kSizes) {
        const Errors e = check(sh, spec, z, 0.0, 1000u + (unsigned)checked);
        const std::string what = std::string(spec) + " hd=" + std::to_string(sh.head_dim) + " n=" + std::to_string(z.n) +
                                 " p0=" + std::to_string(z.p0);
        EXPECT_LE(e.flash, 2 * e.naive + 1e-6) << what << " naive=" << e.naive;
        EXPECT_LE(e.naive, 0.05) << what;  // the shared operands are right
        EXPECT_LE(e.lse, 2e-3) << what;    // the kernel's log-sum-exp (the probe recomputes from it)
        worst_naive = std::max(worst_naive, e.naive);
        ++checked;
      }
  EXPECT_EQ(checked, 2 * 20 * (int)std::size(kSizes));
  RecordProperty("worst_naive_error", std::to_string(worst_naive));
}

// Gemma-2's score soft-cap goes through the same tile loop (a remap and a plain method).
TEST(FlashEmulator, SoftCappedScores) {
  for (const char* spec : {"rope", "rerope:window=100"})
    for (const Size& z : {Size{128, 0}, Size{1000, 900}}) {
      const Errors e = check(kShapes[0], spec, z, 5.0, 7u);
      EXPECT_LE(e.flash, 2 * e.naive + 1e-6) << spec << " n=" << z.n;
      EXPECT_LE(e.naive, 0.05) << spec;
      EXPECT_LE(e.lse, 2e-3) << spec;
    }
}

// gpt-oss's sink logits: one more softmax term per head with no value. The emulator
// (the kernel's tile loop) against the reference with sinks; the naive bf16 path
// has no sinks, so the bound is its error without them, and the sinks must matter.
TEST(FlashEmulator, SinkLogitsJoinEverySoftmax) {
  const Shape& sh = kShapes[0];
  std::vector<float> sinks((size_t)sh.n_heads);
  for (int h = 0; h < sh.n_heads; ++h) sinks[(size_t)h] = 5.0f + 0.5f * (float)h;  // above most scores: real mass
  for (const char* spec : {"rope", "rerope:window=100", "alibi"})
    for (const Size& z : {Size{128, 0}, Size{1000, 900}}) {
      const Errors plain = check(sh, spec, z, 0.0, 11u);
      const Errors with = check(sh, spec, z, 0.0, 11u, sinks.data());
      EXPECT_LE(with.flash, 2 * plain.naive + 1e-6) << spec << " n=" << z.n;
      // Against the reference without sinks, the sinks' output is far off.
      EXPECT_GT(with.naive, 10 * plain.naive) << spec << " n=" << z.n;
    }
}

}  // namespace
}  // namespace ls
