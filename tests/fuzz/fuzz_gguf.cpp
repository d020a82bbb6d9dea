// GGUF models end to end: container, metadata, config, tensors, weights, and the
// tokenizer rebuilt from an embedded vocabulary.
#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  const std::string path = fuzz::write_scratch("m.gguf", {(const char*)data, size});
  LoadOptions o;
  o.known_models = "";
  auto m = load_model(path, o);
  if (!m) {
    LS_FUZZ_CHECK(!m.error().empty() && m.error().find('\n') == std::string::npos);
    return 0;
  }
  auto tok = Tokenizer::for_model(*m.value());
  if (tok) {
    for (int id = 0; id < tok.value()->vocab_size() && id < 4096; ++id) (void)tok.value()->piece(id);
    (void)tok.value()->encode("Once upon a time, 42 cats \xe2\x96\x81 said <0x41>.");
  }
  return 0;
}
