// CUDA error checking: every runtime call goes through LS_CUDA_TRY, which turns a
// failure into an ls::Error carrying file and line (never an abort).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "core/util/status.h"

#define LS_CUDA_TRY(call)                                                                          \
  do {                                                                                             \
    cudaError_t ls_err_ = (call);                                                                  \
    if (ls_err_ != cudaSuccess)                                                                    \
      return ::ls::make_error(std::string("CUDA error ") + cudaGetErrorString(ls_err_) + " in " + \
                              #call + " at " + __FILE__ + ":" + std::to_string(__LINE__));         \
  } while (0)
