// GGUF models end to end: container, metadata, config, tensors, weights, and the
// tokenizer rebuilt from an embedded vocabulary.
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  auto m = fuzz::load_scratch_model("m.gguf", data, size);
  if (!m) return 0;
  auto tok = Tokenizer::for_model(*m);
  if (tok) {
    for (int id = 0; id < tok.value()->vocab_size() && id < 4096; ++id) (void)tok.value()->piece(id);
    (void)tok.value()->encode("Once upon a time, 42 cats \xe2\x96\x81 said <0x41>.");
  }
  return 0;
}
