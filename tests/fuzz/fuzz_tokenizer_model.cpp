// SentencePiece .model files given as --tokenizer, then a short encode/decode.
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  const std::string path = fuzz::write_scratch("t.model", {(const char*)data, size});
  auto tok = Tokenizer::from_file(path);
  if (!tok) return 0;
  auto ids = tok.value()->encode("Lily saw 3 red balls. \xc3\xa9\xe2\x82\xac");
  if (ids) {
    (void)tok.value()->decode(ids.value());
    for (int id : ids.value()) (void)tok.value()->piece(id);
  }
  return 0;
}
