#include "core/model/dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ls {

namespace {

struct TypeInfo {
  DType type;
  const char* name;
  size_t block, bytes;  // elements and bytes per block
  int ggml;             // ggml_type number; -1: none (activations only)
};

// Block layouts: ggml-common.h (block_q4_0 … block_iq4_xs, block_mxfp4).
constexpr TypeInfo kTypes[] = {
    {DType::F32, "F32", 1, 4, 0},          {DType::F16, "F16", 1, 2, 1},
    {DType::BF16, "BF16", 1, 2, 30},       {DType::F64, "F64", 1, 8, -1},
    {DType::Q4_0, "Q4_0", 32, 18, 2},      {DType::Q4_1, "Q4_1", 32, 20, 3},
    {DType::Q5_0, "Q5_0", 32, 22, 6},      {DType::Q5_1, "Q5_1", 32, 24, 7},
    {DType::Q8_0, "Q8_0", 32, 34, 8},      {DType::Q2_K, "Q2_K", 256, 84, 10},
    {DType::Q3_K, "Q3_K", 256, 110, 11},   {DType::Q4_K, "Q4_K", 256, 144, 12},
    {DType::Q5_K, "Q5_K", 256, 176, 13},   {DType::Q6_K, "Q6_K", 256, 210, 14},
    {DType::IQ4_NL, "IQ4_NL", 32, 18, 20}, {DType::IQ4_XS, "IQ4_XS", 256, 136, 23},
    {DType::MXFP4, "MXFP4", 32, 17, 39},
};

const TypeInfo* info(DType t) {
  for (const TypeInfo& i : kTypes)
    if (i.type == t) return &i;
  return nullptr;
}

}  // namespace

const char* dtype_name(DType t) { return info(t) ? info(t)->name : "?"; }
size_t dtype_block(DType t) { return info(t) ? info(t)->block : 1; }
size_t dtype_block_bytes(DType t) { return info(t) ? info(t)->bytes : 0; }
size_t dtype_bytes(DType t, size_t count) { return info(t) ? count / info(t)->block * info(t)->bytes : 0; }
int ggml_type_of(DType t) { return info(t) ? info(t)->ggml : -1; }

std::vector<size_t> block_scale_offsets(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: case DType::IQ4_NL: case DType::IQ4_XS: return {0};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {};
  }
}

bool dtype_writable(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q8_0 || t == DType::Q4_0;
}

bool dtype_of_ggml(uint32_t ggml_type, DType& out) {
  for (const TypeInfo& i : kTypes)
    if (i.ggml >= 0 && (uint32_t)i.ggml == ggml_type) return out = i.type, true;
  return false;
}

// IEEE binary16 <-> binary32.
float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int exp = (int)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half_mant = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1))) ++half_mant;
    return (uint16_t)(sign | half_mant);
  }
  uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // round to nearest even
  return (uint16_t)h;
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fff + ((x >> 16) & 1);                                          // round to nearest even
  return (uint16_t)(x >> 16);
}

static uint16_t load_u16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }

namespace {

// The non-linear 4-bit values of IQ4_NL / IQ4_XS (ggml-common.h kvalues_iq4nl) and
// MXFP4's E2M1 values, doubled (kvalues_mxfp4; its scale is halved to match).
constexpr int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr int8_t kMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

float f16_at(const uint8_t* p) { return half_to_float(load_u16(p)); }

// A K-quant's 6-bit scale and minimum j of 8, packed in 12 bytes (Q4_K, Q5_K).
void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63, m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// One block of a block type into its dtype_block(t) values, as ggml's
// dequantize_row_* (ggml-quants.c) define them.
void dequantize_block(DType t, const uint8_t* x, float* y) {
  switch (t) {
    case DType::Q4_1: {  // d, m (f16), 16 bytes of nibbles: q·d + m
      const float d = f16_at(x), m = f16_at(x + 2);
      for (int j = 0; j < 16; ++j) y[j] = (float)(x[4 + j] & 0xF) * d + m, y[j + 16] = (float)(x[4 + j] >> 4) * d + m;
      return;
    }
    case DType::Q5_0:
    case DType::Q5_1: {  // d (, m), 32 fifth bits, 16 bytes of nibbles
      const bool offset = t == DType::Q5_1;
      const float d = f16_at(x), m = offset ? f16_at(x + 2) : 0.0f;
      const uint8_t* qh = x + (offset ? 4 : 2);
      const uint8_t* qs = qh + 4;
      const uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
      for (int j = 0; j < 16; ++j) {
        const int q0 = (qs[j] & 0xF) | (int)(((h >> j) << 4) & 0x10), q1 = (qs[j] >> 4) | (int)((h >> (j + 12)) & 0x10);
        if (offset) y[j] = (float)q0 * d + m, y[j + 16] = (float)q1 * d + m;
        else y[j] = (float)(q0 - 16) * d, y[j + 16] = (float)(q1 - 16) * d;
      }
      return;
    }
    case DType::Q2_K: {  // scales[16] (4-bit scale | 4-bit min), qs[64] of 2-bit values, d, dmin
      const uint8_t *sc = x, *qs = x + 16;
      const float d = f16_at(x + 80), dmin = f16_at(x + 82);
      for (int half = 0; half < 2; ++half, qs += 32)
        for (int j = 0; j < 4; ++j)
          for (int part = 0; part < 2; ++part) {
            const uint8_t s = sc[half * 8 + 2 * j + part];
            const float dl = d * (float)(s & 0xF), ml = dmin * (float)(s >> 4);
            for (int l = 0; l < 16; ++l) *y++ = dl * (float)((qs[l + 16 * part] >> (2 * j)) & 3) - ml;
          }
      return;
    }
    case DType::Q3_K: {  // hmask[32], qs[64] of 2-bit values, 16 signed 6-bit scales in 12 bytes, d
      const uint8_t *hm = x, *qs = x + 32, *sc = x + 96;
      const float d = f16_at(x + 108);
      int scale[16];
      for (int k = 0; k < 16; ++k)
        scale[k] = ((k < 8 ? sc[k] & 0xF : sc[k - 8] >> 4) | (((sc[8 + k % 4] >> (2 * (k / 4))) & 3) << 4)) - 32;
      for (int half = 0; half < 2; ++half, qs += 32)
        for (int j = 0; j < 4; ++j) {
          const uint8_t bit = (uint8_t)(1u << (half * 4 + j));
          for (int part = 0; part < 2; ++part) {
            const float dl = d * (float)scale[half * 8 + 2 * j + part];
            for (int l = 0; l < 16; ++l) {
              const int i = l + 16 * part;
              *y++ = dl * (float)(((qs[i] >> (2 * j)) & 3) - ((hm[i] & bit) ? 0 : 4));
            }
          }
        }
      return;
    }
    case DType::Q4_K:
    case DType::Q5_K: {  // d, dmin, 8 scale/min pairs in 12 bytes, (qh[32],) qs[128]
      const bool fifth = t == DType::Q5_K;
      const float d = f16_at(x), dmin = f16_at(x + 2);
      const uint8_t *sc = x + 4, *qh = x + 16, *qs = x + (fifth ? 48 : 16);
      for (int j = 0; j < 4; ++j, qs += 32) {
        int s0, m0, s1, m1;
        scale_min_k4(2 * j, sc, s0, m0);
        scale_min_k4(2 * j + 1, sc, s1, m1);
        const float d1 = d * (float)s0, c1 = dmin * (float)m0, d2 = d * (float)s1, c2 = dmin * (float)m1;
        const uint8_t u1 = (uint8_t)(1u << (2 * j)), u2 = (uint8_t)(2u << (2 * j));
        for (int l = 0; l < 32; ++l) *y++ = d1 * (float)((qs[l] & 0xF) + (fifth && (qh[l] & u1) ? 16 : 0)) - c1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (float)((qs[l] >> 4) + (fifth && (qh[l] & u2) ? 16 : 0)) - c2;
      }
      return;
    }
    case DType::Q6_K: {  // ql[128] low nibbles, qh[64] high 2-bit pairs, 16 int8 scales, d
      const uint8_t *ql = x, *qh = x + 128;
      const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
      const float d = f16_at(x + 208);
      for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8)
        for (int l = 0; l < 32; ++l) {
          const int is = l / 16;
          const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          y[l] = d * (float)sc[is] * (float)q1;
          y[l + 32] = d * (float)sc[is + 2] * (float)q2;
          y[l + 64] = d * (float)sc[is + 4] * (float)q3;
          y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
      return;
    }
    case DType::IQ4_NL: {  // d, 16 bytes of indices into kIq4nl
      const float d = f16_at(x);
      for (int j = 0; j < 16; ++j) y[j] = d * (float)kIq4nl[x[2 + j] & 0xF], y[j + 16] = d * (float)kIq4nl[x[2 + j] >> 4];
      return;
    }
    case DType::IQ4_XS: {  // d, scales_h (u16), scales_l[4], qs[128]: 8 sub-blocks of 32 with 6-bit scales
      const float d = f16_at(x);
      const uint16_t sh = load_u16(x + 2);
      const uint8_t *sl = x + 4, *qs = x + 8;
      for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
        const int ls = ((sl[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
        const float dl = d * (float)(ls - 32);
        for (int j = 0; j < 16; ++j) y[j] = dl * (float)kIq4nl[qs[j] & 0xF], y[j + 16] = dl * (float)kIq4nl[qs[j] >> 4];
      }
      return;
    }
    case DType::MXFP4: {  // e (E8M0 exponent), 16 bytes of E2M1 codes: kMxfp4[q]·2^(e-128)
      const float d = std::ldexp(1.0f, (int)x[0] - 128);
      for (int j = 0; j < 16; ++j) y[j] = (float)kMxfp4[x[1 + j] & 0xF] * d, y[j + 16] = (float)kMxfp4[x[1 + j] >> 4] * d;
      return;
    }
    default:
      return;
  }
}

}  // namespace

void dequantize(DType t, const uint8_t* src, size_t count, float* dst) {
  switch (t) {
    case DType::F32: std::memcpy(dst, src, count * 4); return;
    case DType::F64:
      for (size_t i = 0; i < count; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        dst[i] = (float)d;
      }
      return;
    case DType::F16:
      for (size_t i = 0; i < count; ++i) dst[i] = half_to_float(load_u16(src + 2 * i));
      return;
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) dst[i] = bf16_to_float(load_u16(src + 2 * i));
      return;
    case DType::Q8_0:  // block: d (f16), q[32] int8; x = d·q  (ggml block_q8_0)
      for (size_t b = 0; b < count / 32; ++b) {
        const uint8_t* blk = src + b * 34;
        float d = half_to_float(load_u16(blk));
        for (int i = 0; i < 32; ++i) dst[b * 32 + i] = d * (float)(int8_t)blk[2 + i];
      }
      return;
    case DType::Q4_0:  // block: d (f16), 16 bytes; low nibbles → 0..15, high → 16..31; x = d·(q-8)
      for (size_t b = 0; b < count / 32; ++b) {
        const uint8_t* blk = src + b * 18;
        float d = half_to_float(load_u16(blk));
        for (int i = 0; i < 16; ++i) {
          dst[b * 32 + i] = d * (float)((blk[2 + i] & 0x0f) - 8);
          dst[b * 32 + 16 + i] = d * (float)((blk[2 + i] >> 4) - 8);
        }
      }
      return;
    default:
      for (size_t b = 0; b < count / dtype_block(t); ++b)
        dequantize_block(t, src + b * dtype_block_bytes(t), dst + b * dtype_block(t));
      return;
  }
}

void quantize(DType t, const float* src, size_t count, uint8_t* dst) {
  auto put16 = [](uint8_t* p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
  };
  switch (t) {
    case DType::F32: std::memcpy(dst, src, count * 4); return;
    case DType::F64:
      for (size_t i = 0; i < count; ++i) {
        const double d = src[i];
        std::memcpy(dst + 8 * i, &d, 8);
      }
      return;
    case DType::F16:
      for (size_t i = 0; i < count; ++i) put16(dst + 2 * i, float_to_half(src[i]));
      return;
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) put16(dst + 2 * i, float_to_bf16(src[i]));
      return;
    case DType::Q8_0:  // d = max|x|/127, q = round(x/d)  (ggml quantize_row_q8_0_reference)
      for (size_t b = 0; b < count / 32; ++b) {
        const float* x = src + b * 32;
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        put16(dst + b * 34, float_to_half(d));
        for (int i = 0; i < 32; ++i) dst[b * 34 + 2 + i] = (uint8_t)(int8_t)std::lround(x[i] * id);
      }
      return;
    case DType::Q4_0:  // d = (value of largest magnitude)/-8, q = clamp(x/d + 8.5)  (ggml quantize_row_q4_0_reference)
      for (size_t b = 0; b < count / 32; ++b) {
        const float* x = src + b * 32;
        float amax = 0, mx = 0;
        for (int i = 0; i < 32; ++i)
          if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            mx = x[i];
          }
        const float d = mx / -8.0f, id = d ? 1.0f / d : 0.0f;
        put16(dst + b * 18, float_to_half(d));
        for (int i = 0; i < 16; ++i) {
          const int lo = std::min(15, (int)(x[i] * id + 8.5f)), hi = std::min(15, (int)(x[16 + i] * id + 8.5f));
          dst[b * 18 + 2 + i] = (uint8_t)(lo | (hi << 4));
        }
      }
      return;
    default:  // writers produce only the types above (dtype_writable)
      std::memset(dst, 0, dtype_bytes(t, count));
      return;
  }
}

}  // namespace ls
