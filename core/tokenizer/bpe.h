// Byte-level BPE (GPT-2 and the tokenizers built like it: Llama 3, Qwen2, …):
// text is cut by the pre-tokenizer's regular expression (PCRE2, Unicode
// properties on), each piece's bytes are written in GPT-2's printable byte
// alphabet, then adjacent symbols are merged by rank until no ranked pair is left,
// and the symbols are looked up in the vocabulary. Special tokens (GGUF token
// types control and user-defined; tokenizer.json "added_tokens") are matched in the
// text verbatim first. Reference: Radford et al. 2019 (GPT-2 encoder.py); Hugging
// Face tokenizers' ByteLevel pre-tokenizer and BPE model.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/util/status.h"

namespace ls {

class ByteLevelBpe {
 public:
  // tokens[i]: token i in the byte alphabet; merges: "left right" by rank (first =
  // merged first); special[i]: token i is matched verbatim in text; pattern: the
  // pre-tokenizer regex; ignore_merges: a piece that is itself a token is taken whole
  // (tokenizers' BPE ignore_merges, set by Llama 3).
  static Result<std::unique_ptr<ByteLevelBpe>> create(const std::vector<std::string>& tokens,
                                                     const std::vector<std::string>& merges,
                                                     const std::vector<bool>& special, const std::string& pattern,
                                                     bool ignore_merges = false);
  ~ByteLevelBpe();
  ByteLevelBpe(const ByteLevelBpe&) = delete;
  ByteLevelBpe& operator=(const ByteLevelBpe&) = delete;

  // The ids of `text` (valid UTF-8; no BOS added).
  Result<std::vector<int>> encode(std::string_view text) const;
  // The bytes token `id` stands for (special tokens: their text).
  std::string token_bytes(int id) const;
  int size() const { return (int)tokens_.size(); }

 private:
  ByteLevelBpe() = default;
  void encode_piece(std::string_view piece, std::vector<int>& out) const;
  std::vector<std::string> tokens_;
  std::vector<bool> special_;
  bool ignore_merges_ = false;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<std::string, int> ranks_;  // "left right" → rank
  std::vector<std::pair<std::string, int>> specials_;  // text, id; longest first
  std::vector<bool> special_first_ = std::vector<bool>(256, false);  // bytes a special token starts with
  struct Regex;
  std::unique_ptr<Regex> re_;
};

// The pre-tokenizer regex of a GGUF `tokenizer.ggml.pre` name (as the original
// tokenizer.json writes it), or an error naming the pre-tokenizers LongScope knows.
Result<std::string> bpe_pretokenizer(const std::string& pre);
// Whether that pre-tokenizer's tokenizer sets ignore_merges (Llama 3's does).
bool bpe_ignores_merges(const std::string& pre);
// GPT-2's byte alphabet: the UTF-8 text of byte b's symbol, and back.
std::string byte_symbol(unsigned char b);

}  // namespace ls
