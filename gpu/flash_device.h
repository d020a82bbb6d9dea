// The flash kernel alone, from the host: for the device tests (kernel against its
// CPU emulator) and bench_gpu (attention TFLOP/s). The backend launches it itself.
#pragma once

#include <string>
#include <vector>

#include "gpu/flash_emulator.h"

namespace ls::gpu {

struct FlashDeviceRun {
  std::vector<float> out;  // (n_new, q_dim)
  std::vector<float> lse;  // (n_new, n_heads)
  std::vector<double> ms;  // each timed launch, milliseconds
  std::string error;       // empty: it ran
};

// Copies `in` to the device, runs the kernel once (out, lse), then `timed` more
// launches timed with events. Head sizes 64 and 128 only.
FlashDeviceRun flash_on_device(const FlashInputs& in, int timed);

}  // namespace ls::gpu
