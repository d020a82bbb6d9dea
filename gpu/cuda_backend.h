// The CUDA backend behind the engine's Backend interface (core/engine/backend.h).
// Host API: no CUDA headers, so the CLI, the app and the tests include it without nvcc.
//
// Version 1 (docs/gpu.md, "The backend"):
// - weights uploaded once: matrices as bf16 (fp16 where the file stores fp16), norm
//   weights and biases as fp32; the residual stream and every activation in fp32;
// - cuBLAS GEMMs (bf16 or fp16 inputs, fp32 accumulate and output) and a bias kernel;
// - a KV cache of one K copy and V in bf16 (fp16 when asked), kept rotated or raw as
//   the method needs (KeyForm), grown with the context;
// - attention for every method: the query and key operands of each band are built
//   first (near: R(m)q, R(j)k; far: R(far_query_pos(m))q, R(far_key_pos(j))k, from
//   core/position), then one warp per (query, head) runs an online softmax over the
//   visible keys with ALiBi slopes, window and sinks, log-n, soft-capping; a probed
//   layer's probabilities are recomputed as exp(s - lse) from the saved log-sum-exp;
// - NLL and rank one block per row over the vocabulary.
// The tensor-core flash kernel (issue #11, item 2) replaces the warp kernel later.
#pragma once

#include <memory>

#include "core/engine/backend.h"
#include "core/util/status.h"

namespace ls::gpu {

// A CUDA backend on device 0, or an error (no device, no driver).
Result<std::unique_ptr<Backend>> make_cuda_backend();

// Registers make_cuda_backend with the engine as "cuda" (EngineOptions::backend);
// programs that link gpu/ call it once at start.
void register_cuda_backend();

}  // namespace ls::gpu
