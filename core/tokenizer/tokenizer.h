// Text <-> token ids on the sentencepiece library: a .model file, or the
// SentencePiece vocabulary embedded in a GGUF file (rebuilt as a model in memory).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/model.h"
#include "core/util/status.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ls {

class Tokenizer {
 public:
  static Result<std::shared_ptr<const Tokenizer>> from_file(const std::string& path);
  static Result<std::shared_ptr<const Tokenizer>> from_vocab(const EmbeddedVocab& v);
  // Explicit path if given; else the vocabulary the model embeds; else a .model beside it
  // (tokenizer.model, tok<vocab>.model). Checks the vocabulary size matches the model.
  static Result<std::shared_ptr<const Tokenizer>> for_model(const Model& m, const std::string& explicit_path = "");
  ~Tokenizer();

  Result<std::vector<int>> encode(const std::string& text) const;  // no BOS added
  std::string decode(const std::vector<int>& ids) const;
  std::string piece(int id) const;  // display text of one token ("▁" shown as a space, bytes as <0x..>)
  int vocab_size() const;
  int bos_id() const;
  int eos_id() const;
  const std::string& source() const { return source_; }

 private:
  Tokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string source_;
};

// LongScope's document convention (README): stories or sections are separated by
// a line holding only "<|endoftext|>"; each part is encoded on its own and BOS is
// put before every part, as the model saw stories in training.
Result<std::vector<int>> encode_document(const Tokenizer& tok, const std::string& text);

// Appends the ids of `text` (no BOS), encoded in pieces of at most kEncodePieceBytes
// cut at spaces, so memory stays bounded whatever the document holds.
Status encode_in_pieces(const Tokenizer& tok, std::string_view text, std::vector<int>& out);

// Reads a UTF-8 text file; errors for missing, empty, oversized or non-UTF-8 files.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes = 64u << 20);
bool is_valid_utf8(const std::string& s);

}  // namespace ls
