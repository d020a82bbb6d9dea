// Tensor element types found in model files, and their conversion to fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ls {

// F64 appears only in activations (reference runs), never in model files.
enum class DType { F32, F16, BF16, Q8_0, Q4_0, F64 };

const char* dtype_name(DType t);
// Bytes taken by `count` elements (count must be a multiple of the block size for Q types).
size_t dtype_bytes(DType t, size_t count);
size_t dtype_block(DType t);  // elements per block (1 for plain floats)

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);

// Converts `count` elements at src (any alignment) to fp32.
void dequantize(DType t, const uint8_t* src, size_t count, float* dst);
// The inverse for writers (tests, make-random): ggml's reference block quantisation
// for Q8_0 / Q4_0, rounding for F16 / BF16. dst holds dtype_bytes(t, count) bytes.
void quantize(DType t, const float* src, size_t count, uint8_t* dst);

}  // namespace ls
