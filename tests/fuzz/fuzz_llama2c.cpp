// llama2.c .bin checkpoints: a 7-int header, then fp32 tensors.
#include "core/model/model.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  const std::string path = fuzz::write_scratch("m.bin", {(const char*)data, size});
  LoadOptions o;
  o.known_models = "";
  auto m = load_model(path, o);
  if (!m) LS_FUZZ_CHECK(!m.error().empty() && m.error().find('\n') == std::string::npos);
  return 0;
}
