// llama2.c .bin checkpoints: a 7-int header, then fp32 tensors.
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ls::fuzz::load_scratch_model("m.bin", data, size);
  return 0;
}
