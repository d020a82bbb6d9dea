#include "core/model/dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ls {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
    case DType::F64: return "F64";
  }
  return "?";
}

size_t dtype_block(DType t) { return (t == DType::Q8_0 || t == DType::Q4_0) ? 32 : 1; }

size_t dtype_bytes(DType t, size_t count) {
  switch (t) {
    case DType::F64: return count * 8;
    case DType::F32: return count * 4;
    case DType::F16:
    case DType::BF16: return count * 2;
    case DType::Q8_0: return count / 32 * 34;  // fp16 scale + 32 int8
    case DType::Q4_0: return count / 32 * 18;  // fp16 scale + 16 bytes of nibbles
  }
  return 0;
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
  }
}

}  // namespace ls
