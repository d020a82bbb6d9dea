// Normalisers: what a tokenizer does to the text before splitting it — Unicode
// normalisation forms, Replace, Prepend, Lowercase, Strip, StripAccents (Hugging
// Face tokenizers' normalizers, read from tokenizer.json), and SentencePiece's
// whitespace handling (remove_extra_whitespaces, add_dummy_prefix,
// escape_whitespaces), built for .model files and GGUF vocabularies.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/regex.h"
#include "core/util/status.h"

namespace ls {

class Normalizer {
 public:
  struct Step {
    enum class Kind { NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, CollapseSpaces } kind;
    bool left = false, right = false;           // Strip
    std::string pattern, content;               // Replace (a literal pattern), Prepend
    std::shared_ptr<const Regex> regex;         // Replace with a regular expression
  };
  // tokenizer.json's "normalizer" (null: none). Regular expressions LongScope does
  // not know run metered (tokenizer/regex.h).
  static Result<Normalizer> from_json(const nlohmann::json& j);
  void add(Step s) { steps_.push_back(std::move(s)); }
  bool empty() const { return steps_.empty(); }
  Result<std::string> apply(std::string_view text, RegexSession& rs) const;
  // Whether the text gets a leading marker (Prepend): decoding drops it again.
  bool prepends() const;

 private:
  std::vector<Step> steps_;
};

}  // namespace ls
