// Text <-> token ids, as each model's own tokenizer does it. One pipeline, as
// Hugging Face tokenizers runs it: added (special) tokens split out of the text,
// the normaliser, the pre-tokenizer, the BPE model (tokenizer/bpe.h), and the ids
// the post-processor puts around a text (BOS). Built from
//   - a Hugging Face tokenizer.json (with tokenizer_config.json beside it when present),
//   - the vocabulary a GGUF embeds (tokenizer.ggml.*, as llama.cpp reads it),
//   - a SentencePiece .model (BPE models run on the same pipeline; unigram and other
//     model types on the sentencepiece library).
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

class BpeModel;
class Normalizer;
class PreTokenizer;
class TokenMatcher;

class Tokenizer {
 public:
  // A .json (tokenizer.json), .gguf (its vocabulary) or SentencePiece .model file.
  static Result<std::shared_ptr<const Tokenizer>> from_file(const std::string& path);
  static Result<std::shared_ptr<const Tokenizer>> from_vocab(const EmbeddedVocab& v, const std::string& source = "embedded vocabulary");
  static Result<std::shared_ptr<const Tokenizer>> from_tokenizer_json(const std::string& path);
  // Explicit path if given; else the vocabulary the model embeds; else a tokenizer
  // beside it (tokenizer.json, tokenizer.model, tok<vocab>.model). A model's
  // vocabulary may be larger than its tokenizer's (padding rows), never smaller.
  static Result<std::shared_ptr<const Tokenizer>> for_model(const Model& m, const std::string& explicit_path = "");
  ~Tokenizer();

  // The ids of `text` (valid UTF-8), special tokens in it matched, nothing added.
  Result<std::vector<int>> encode(std::string_view text) const;
  // What the model's tokenizer puts before and after a text (its BOS, an EOS):
  // empty when it adds nothing (Qwen, gpt-oss, Llama 3.0's tokenizer.json).
  const std::vector<int>& prefix() const { return prefix_; }
  const std::vector<int>& suffix() const { return suffix_; }
  // The text of ids (special tokens left out; the leading space a SentencePiece
  // tokenizer adds dropped).
  std::string decode(const std::vector<int>& ids) const;
  // One token shown as text: its bytes (a byte of a multi-byte character as itself),
  // "▁" as a space, a byte token as its byte when printable, a special token as written.
  std::string piece(int id) const;
  int vocab_size() const { return vocab_size_; }
  int bos_id() const { return bos_; }  // -1: none
  int eos_id() const { return eos_; }  // -1: none
  const std::string& source() const { return source_; }
  // "sentencepiece", "byte-level BPE (llama-bpe)", "byte-level BPE (tokenizer.json)", "BPE (tokenizer.json)"
  const std::string& kind() const { return kind_; }

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

 private:
  Tokenizer();
  struct Build;
  static Result<std::shared_ptr<const Tokenizer>> from_spm_model(const std::string& path, const std::string& bytes);
  Status finish();
  void sentencepiece_normalizer(bool collapse_spaces, bool space_prefix);

  std::unique_ptr<TokenMatcher> raw_added_, normalized_added_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;  // SentencePiece models other than BPE
  std::vector<std::string> added_;  // id → an added token's text ("" for model tokens; up to the last added id)
  std::vector<bool> special_;       // id → left out of decode() (as long as added_)
  std::vector<int> prefix_, suffix_;
  int bos_ = -1, eos_ = -1, vocab_size_ = 0;
  bool byte_level_ = false;
  std::string space_marker_;  // "▁" for SentencePiece-style vocabularies
  bool strip_leading_space_ = false;
  std::string source_, kind_;
};

// LongScope's document convention (README): stories or sections are separated by a
// line holding only "<|endoftext|>"; each part is encoded on its own, with what the
// model's tokenizer puts before a text (its BOS); a tokenizer that adds nothing
// gets its end-of-text token between parts instead.
Result<std::vector<int>> encode_document(const Tokenizer& tok, const std::string& text);

// Appends the ids of `text`: the same ids as one encode() call on the whole text.
Status encode_in_pieces(const Tokenizer& tok, std::string_view text, std::vector<int>& out);

// Reads a UTF-8 text file (a regular file); errors for missing, empty, oversized or
// non-UTF-8 files, and for FIFOs, devices and directories.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes = 64u << 20);
bool is_valid_utf8(const std::string& s);

}  // namespace ls
