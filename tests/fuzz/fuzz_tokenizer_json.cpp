// Hugging Face tokenizer.json files given as --tokenizer (byte-level BPE: vocab,
// merges, added tokens, the pre-tokenizer's regex compiled by PCRE2), then a short
// encode/decode.
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  const std::string path = fuzz::write_scratch("tokenizer.json", {(const char*)data, size});
  auto tok = Tokenizer::from_file(path);
  if (!tok) return 0;
  auto ids = tok.value()->encode("Lily saw 1234 red balls.  \n\t\xc3\xa9\xe2\x82\xac <|endoftext|>");
  if (ids) {
    (void)tok.value()->decode(ids.value());
    for (int id : ids.value()) (void)tok.value()->piece(id);
  }
  return 0;
}
