// Device-built rotary tables from core/position/position.h (no formula re-typed here).
// Host API: plain C++ types, no CUDA headers, so callers need no nvcc.
#pragma once

#include <vector>

#include "core/position/position.h"
#include "core/util/status.h"

namespace ls::gpu {

// Whether a CUDA device is present and usable (false on CPU-only machines).
bool device_available();

// θ'_i for i = 0 … d/2-1, evaluated on the device, copied back.
Result<std::vector<double>> device_rope_inv_freq(const MethodParams& p, const PositionContext& g);

// cos/sin(pos·θ'_i)·attention_factor for positions 0 … n_pos-1, row-major (pos, i), fp32,
// angle formed from a double product (docs/methods.md §7).
struct DeviceRopeCosSin {
  std::vector<float> cos, sin;
};
Result<DeviceRopeCosSin> device_rope_cos_sin(const MethodParams& p, const PositionContext& g, int n_pos);

}  // namespace ls::gpu
