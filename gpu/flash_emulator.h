// A CPU emulator of the CUDA flash attention (cuda_flash.cu), for checking the
// kernel's algorithm where no GPU is lent (#11, item 3): the same inputs (bf16
// operands formed by gpu/band_operands.h through a bf16 cache, as
// CudaBackend::attention forms them), the same tiles and classification and the
// same online-softmax step (gpu/flash_tile.h), fp32 accumulation, probabilities
// rounded to bf16 where the kernel feeds them to the P·V product. Only the order
// of the fp32 sums inside one MMA differs from the device.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu/flash_tile.h"

namespace ls {

// What the flash kernel reads: bf16 bit patterns in the kernel's layouts.
struct FlashInputs {
  FlashShape shape{};
  std::vector<uint16_t> qn, qf;  // query operands (n_new, q_dim); qf empty without a far band
  std::vector<uint16_t> kn, kf;  // key operands (n, kv_dim); kf empty without a far band
  std::vector<uint16_t> v;       // the cache's values (n, kv_dim)
  std::vector<float> slopes;     // ALiBi slopes (n_heads), or empty
  std::vector<float> sinks;      // sink logits (n_heads), or empty
};

// The kernel's inputs for queries q (p.n_new rows, from position p.p0) and the raw
// keys and values k, v of every position [0, p.p0 + p.n_new), all appended with
// tables `t` into a bf16 cache that keeps keys in form `keys`.
FlashInputs flash_prepare(const AttentionParams& p, const PositionTables& t, KeyForm keys, const float* q,
                          const float* k, const float* v);

// The kernel's tile loop on the CPU: out (n_new, q_dim) in fp32; lse (n_new, n_heads),
// each row's log-sum-exp, unless null.
void flash_emulate(const FlashInputs& in, float* out, float* lse);

}  // namespace ls
