// Tensor element types found in model files, and their conversion to fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ls {

// F64 appears only in activations (reference runs), never in model files. The block
// types are ggml's (ggml-common.h; docs/formats.md): 32-element blocks Q4_0 … Q8_0,
// IQ4_NL and MXFP4, 256-element super-blocks Q2_K … Q6_K and IQ4_XS.
enum class DType { F32, F16, BF16, Q8_0, Q4_0, F64, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4 };

const char* dtype_name(DType t);
// Bytes taken by `count` elements (count must be a multiple of the block size for block types).
size_t dtype_bytes(DType t, size_t count);
size_t dtype_block(DType t);        // elements per block (1 for plain floats)
size_t dtype_block_bytes(DType t);  // bytes per block
// A block type (Q*, IQ*, MXFP4): dequantised as it is read, never addressed per element.
inline bool dtype_quantized(DType t) {
  return t != DType::F32 && t != DType::F16 && t != DType::BF16 && t != DType::F64;
}
// ggml's type numbers (ggml.h enum ggml_type; MXFP4 = 39 from later ggml) ↔ DType;
// -1 / nullopt-like false for a type LongScope does not read.
int ggml_type_of(DType t);
bool dtype_of_ggml(uint32_t ggml_type, DType& out);
// Byte offsets of a block's f16 scale fields (d, and m / dmin where the type has one);
// MXFP4's scale is its first byte, an E8M0 exponent, and is not listed.
std::vector<size_t> block_scale_offsets(DType t);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);

// Converts `count` elements at src (any alignment) to fp32.
void dequantize(DType t, const uint8_t* src, size_t count, float* dst);
// The inverse for writers (tests, make-random): ggml's reference block quantisation
// for Q8_0 / Q4_0, rounding for F16 / BF16. dst holds dtype_bytes(t, count) bytes.
// Only the types dtype_writable accepts (the others come from llama-quantize).
bool dtype_writable(DType t);
void quantize(DType t, const float* src, size_t count, uint8_t* dst);

}  // namespace ls
