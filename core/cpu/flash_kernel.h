// The tiled CPU attention kernel's interface: one plain argument block and one
// entry point per instruction set. A task is one block of queries × one KV head
// (the GQA heads sharing that KV head go together, so each key tile is loaded
// once for all of them). The kernel walks key tiles of kFlashKeys keys,
// classifies each with classify_tile (core/position/tiles.h, the definition the
// CUDA kernels use), and keeps a running softmax per row (the flash algorithm):
// no score row longer than one tile is ever stored.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/model/model.h"
#include "core/position/tiles.h"

namespace ls {

constexpr int kFlashKeys = 128;  // keys per tile
constexpr int kFlashMaxHeadDim = 512;  // larger heads take the row-by-row path
constexpr int kFlashRowBlock = 4;  // query rows per register block

struct FlashArgs {
  int p0 = 0, n_new = 0;            // queries are positions [p0, p0 + n_new); keys [0, p0 + n_new)
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, rot_dim = 0;
  PairLayout layout = PairLayout::Interleaved;
  int q_block = 1;                  // queries per task
  TileBands bands;
  int rotate_near = 0;              // 1: cached keys are raw; rotate near-band keys by cos/sin[j]
  const float* qn = nullptr;        // (n_new, n_heads·head_dim) near-band query operands (rotated, scaled)
  const float* qf = nullptr;        // far-band query operands (remapping methods), same layout
  const void* k = nullptr;          // (p0 + n_new, kv_dim) cached keys, in kv_dtype
  const void* v = nullptr;          // (p0 + n_new, kv_dim) cached values
  DType kv_dtype = DType::F32;      // F32, F16 or BF16
  const float* cos = nullptr;       // (p0 + n_new, rot_dim/2) near-band key angles (rotate_near)
  const float* sin = nullptr;
  const float* far_cos = nullptr;   // (p0 + n_new, rot_dim/2) far-band key angles (remapping methods)
  const float* far_sin = nullptr;
  const float* slopes = nullptr;    // (n_heads) ALiBi slopes, or null
  float softcap = 0.0f;             // > 0: scores → softcap·tanh(s / softcap) (Gemma-2)
  const float* sinks = nullptr;     // (n_heads) sink logits joining each row's softmax with no value (gpt-oss), or null
  float* out = nullptr;             // (n_new, n_heads·head_dim)
  float* lse = nullptr;             // (n_new, n_heads) each row's log Σ_j exp(s_j), or null (a probe's pass)
};

inline int flash_tasks(const FlashArgs& a) { return (a.n_new + a.q_block - 1) / a.q_block * a.n_kv_heads; }

// Floats of scratch one task needs (the caller gives each thread its own).
inline int flash_scratch_floats(const FlashArgs& a) {
  const int group = a.n_heads / a.n_kv_heads;
  const int rows = (a.q_block * group + kFlashRowBlock - 1) / kFlashRowBlock * kFlashRowBlock;
  return 3 * rows * a.head_dim + 2 * rows + 3 * a.head_dim * kFlashKeys + 2 * kFlashRowBlock * kFlashKeys + 64;
}

void flash_task_generic(const FlashArgs& a, int task, float* scratch);
void flash_task_avx2(const FlashArgs& a, int task, float* scratch);
void flash_task_avx512(const FlashArgs& a, int task, float* scratch);

// dst[0, n) = src as fp32; bf16 = 1: bfloat16, else IEEE half (F16C where built for it).
// The weight matmul widens one block of 16-bit weight rows at a time with these.
void widen_generic(const uint16_t* src, size_t n, int bf16, float* dst);
void widen_avx2(const uint16_t* src, size_t n, int bf16, float* dst);
void widen_avx512(const uint16_t* src, size_t n, int bf16, float* dst);

// The entry points built for one instruction set ("generic", "avx2", "avx512").
struct CpuKernels {
  void (*flash)(const FlashArgs&, int, float*);
  void (*widen)(const uint16_t*, size_t, int, float*);
};
CpuKernels cpu_kernels(const char* isa);

}  // namespace ls
