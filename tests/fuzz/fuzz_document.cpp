// Document text as the app and CLI read it: UTF-8 check, story separators, BOS
// per story, encoding in bounded pieces with the bundled tokenizer.
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  static auto tok = Tokenizer::from_file(LONGSCOPE_RESOURCES_DIR "/models/tok512.model").take();
  const std::string path = fuzz::write_scratch("doc.txt", {(const char*)data, size});
  auto text = read_text_file(path);
  if (!text) return 0;
  LS_FUZZ_CHECK(is_valid_utf8(text.value()));
  auto ids = encode_document(*tok, text.value());
  if (ids)
    for (int id : ids.value()) LS_FUZZ_CHECK(id >= 0 && id < tok->vocab_size());
  return 0;
}
