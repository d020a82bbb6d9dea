// The entry point of the CUDA backend module (liblongscope_cuda.so), which the
// engine loads on first use of the cuda or auto backend (core/engine/engine.cpp).
#include <cstring>

#include "gpu/cuda_backend.h"

// A new CUDA backend, owned by the caller; null with the reason in err.
extern "C" __attribute__((visibility("default"))) ls::Backend* longscope_cuda_backend_new(char* err, size_t err_len) {
  auto b = ls::gpu::make_cuda_backend();
  if (b) return b.take().release();
  std::strncpy(err, b.error().c_str(), err_len - 1);
  err[err_len - 1] = '\0';
  return nullptr;
}
