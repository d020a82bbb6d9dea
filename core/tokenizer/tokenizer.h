// Text <-> token ids: SentencePiece models on the sentencepiece library (a .model
// file, or the vocabulary a GGUF embeds, rebuilt as a model in memory), and
// byte-level BPE (core/tokenizer/bpe.h: a GGUF's gpt2 vocabulary and merges, or a
// Hugging Face tokenizer.json).
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

class ByteLevelBpe;

class Tokenizer {
 public:
  static Result<std::shared_ptr<const Tokenizer>> from_file(const std::string& path);
  static Result<std::shared_ptr<const Tokenizer>> from_vocab(const EmbeddedVocab& v);
  // A Hugging Face tokenizer.json with a byte-level BPE model.
  static Result<std::shared_ptr<const Tokenizer>> from_tokenizer_json(const std::string& path);
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
  const std::string& kind() const { return kind_; }  // "sentencepiece" or "byte-level BPE (<pre-tokenizer>)"

 private:
  Tokenizer();
  static Result<std::shared_ptr<const Tokenizer>> bpe_tokenizer(const std::vector<std::string>& tokens,
                                                               const std::vector<std::string>& merges,
                                                               const std::vector<bool>& special, const std::string& pattern,
                                                               bool ignore_merges, int bos, int eos,
                                                               const std::string& source, const std::string& kind);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::unique_ptr<ByteLevelBpe> bpe_;  // set for byte-level BPE vocabularies (sp_ unused)
  int bpe_bos_ = -1, bpe_eos_ = -1;
  std::string source_;
  std::string kind_ = "sentencepiece";
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
