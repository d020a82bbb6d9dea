// A GGUF-embedded SentencePiece vocabulary rebuilt as a model. Input: pieces
// separated by NUL bytes, each led by one byte whose low 3 bits give the piece
// type (1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte).
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  EmbeddedVocab v;
  std::string_view in((const char*)data, size);
  while (!in.empty() && v.tokens.size() < 70000) {
    size_t nul = in.find('\0');
    std::string_view item = in.substr(0, nul);
    if (!item.empty()) {
      v.types.push_back(item[0] & 7);
      v.tokens.emplace_back(item.substr(1));
      v.scores.push_back(-(float)v.tokens.size());
    }
    if (nul == std::string_view::npos) break;
    in.remove_prefix(nul + 1);
  }
  auto tok = Tokenizer::from_vocab(v);
  if (!tok) return 0;
  for (int id = -1; id <= tok.value()->vocab_size() && id < 4096; ++id) (void)tok.value()->piece(id);
  auto ids = tok.value()->encode("The <0x41> cat\n\tsat 12 \xf0\x9f\x98\x80.");
  if (ids) (void)tok.value()->decode(ids.value());
  return 0;
}
