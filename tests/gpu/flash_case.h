// One random attention case for the flash kernel's tests (the emulator's, label
// cpu, and the device's, label gpu): heads, method, length n, queries from p0;
// inputs drawn as bf16 values (as FlashAttention's tests draw them, so errors
// measure the computation, not the rounding of the inputs), then the kernel's
// inputs formed by flash_prepare as the CUDA backend forms them.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "core/model/dtype.h"
#include "core/position/spec.h"
#include "core/position/tables.h"
#include "gpu/flash_emulator.h"

namespace ls::test {

struct FlashCase {
  MethodParams method;
  PositionContext ctx;
  std::vector<float> q, k, v;  // q (n, q_dim), rows before p0 zero (never queries); k, v (n, kv_dim)
  FlashInputs in;
};

inline FlashCase make_flash_case(int H, int KV, int hd, int rd, PairLayout layout, const char* spec, int n, int p0,
                                 double train_len, double softcap, unsigned seed, const float* sinks = nullptr) {
  FlashCase c;
  c.method = parse_method_spec(spec).value();
  c.ctx = PositionContext{rd, 10000.0, train_len, (double)n};
  // Queries and keys of norm ≈ 1.7·hd^¼ give scores of a few units: a peaked softmax.
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const float qk = 1.7f / std::pow((float)hd, 0.25f);
  auto bf16 = [](float x) { return bf16_to_float(float_to_bf16(x)); };
  c.q.assign((size_t)n * H * hd, 0.0f);
  c.k.resize((size_t)n * KV * hd);
  c.v.resize(c.k.size());
  for (size_t i = (size_t)p0 * H * hd; i < c.q.size(); ++i) c.q[i] = bf16(g(rng) * qk);
  for (float& e : c.k) e = bf16(g(rng) * qk);
  for (float& e : c.v) e = bf16(g(rng));
  AttentionParams p = attention_params(c.method, H, KV, hd, rd, layout, train_len);
  p.p0 = p0;
  p.n_new = n - p0;
  p.softcap = softcap;
  p.sinks = sinks;  // gpt-oss's sink logits (n_heads), or null
  c.in = flash_prepare(p, position_tables(c.method, c.ctx, H), key_form_for(c.method), &c.q[(size_t)p0 * H * hd],
                       c.k.data(), c.v.data());
  return c;
}

}  // namespace ls::test
