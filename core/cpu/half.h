// IEEE half (f16) and bfloat16 conversions for the KV cache, in portable integer
// arithmetic (round to nearest even, NaN kept NaN, overflow to ±Inf, subnormals
// exact). The vector kernels use the CPU's own conversions (F16C) where built
// for them; these are the reference they are tested against.
#pragma once

#include <cstdint>
#include <cstring>

// A translation unit built for another instruction set defines LS_HOST_INLINE as
// `static inline` first, so its copies never replace the baseline ones at link time.
#ifndef LS_HOST_INLINE
#define LS_HOST_INLINE inline
#endif

namespace ls {

LS_HOST_INLINE uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
LS_HOST_INLINE float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

LS_HOST_INLINE uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
LS_HOST_INLINE float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

LS_HOST_INLINE uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to ≥ 65520: Inf
  if (a >= 0x38800000u) {                                     // normal half (≥ 2^-14)
    uint32_t m = a - 0x38000000u;                              // rebias exponent 127 → 15
    m += 0xfffu + ((m >> 13) & 1u);                            // round to nearest even
    return (uint16_t)(sign | (m >> 13));
  }
  if (a < 0x33000000u) return (uint16_t)sign;  // below half the smallest subnormal: ±0
  // subnormal half: value = a / 2^-24, rounded to nearest even
  const int e = (int)(a >> 23);                // 102 … 112
  const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  const int shift = 126 - e;                   // 14 … 24
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
  return (uint16_t)(sign | q);
}

LS_HOST_INLINE float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13));  // Inf / NaN
  if (e != 0) return bits_f32(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return bits_f32(sign);
  const float v = (float)m * 5.9604644775390625e-8f;  // m · 2^-24
  return sign ? -v : v;
}

}  // namespace ls
