// Pre-tokenizers: how a tokenizer cuts normalised text into the pieces its model
// encodes one by one — Hugging Face tokenizers' Split (a regex or a string, with
// its five delimiter behaviours and invert), ByteLevel, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer and Sequence; and the
// pre-tokenizers GGUF files name in tokenizer.ggml.pre, as llama.cpp defines them
// (src/llama-vocab.cpp: each name stands for the regexes of the original
// tokenizer.json, applied one after the other).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/regex.h"
#include "core/util/status.h"

namespace ls {

class PreTokenizer {
 public:
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  enum class Prepend { Always, First, Never };
  struct Step {
    enum class Kind { Split, ByteLevel, Metaspace, Digits, WhitespaceSplit, Whitespace, Punctuation } kind;
    std::shared_ptr<const Regex> regex;  // Split on a regex (else `literal`)
    std::string literal;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    bool add_prefix_space = false, use_regex = true;  // ByteLevel
    std::string replacement;                           // Metaspace
    Prepend prepend = Prepend::Always;
    bool split = true;
    bool individual_digits = false;                    // Digits
  };

  static Result<PreTokenizer> from_json(const nlohmann::json& j);
  // A GGUF `tokenizer.ggml.pre` name: its regexes, then the byte-level alphabet.
  static Result<PreTokenizer> from_gguf_pre(const std::string& pre);

  // Whether the model reads bytes (a ByteLevel step is present).
  bool byte_level() const { return byte_level_; }
  // Whether pieces get a leading replacement character (Metaspace with a prepend scheme).
  bool metaspace_prepends() const;
  bool empty() const { return steps_.empty(); }

  // Calls `emit` for each non-empty piece of `text`, in order. `at_start`: the text
  // begins the input (Metaspace's "first" scheme).
  using Emit = std::function<Status(std::string_view)>;
  Status run(std::string_view text, bool at_start, RegexSession& rs, const Emit& emit) const;

 private:
  Status run_from(size_t step, std::string_view text, bool at_start, RegexSession& rs, const Emit& emit) const;
  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// GGUF pre-tokenizer names and what llama.cpp does for each beyond the regexes.
struct GgufPre {
  std::vector<std::string> regexes;
  bool ignore_merges = false;
  bool add_bos = false;  // llama.cpp's default when the file has no tokenizer.ggml.add_bos_token
  // The tokenizer.json of these models normalises to NFC (Qwen2, Qwen2.5, Qwen3 and
  // their distillates); llama.cpp leaves this out, LongScope applies it so a GGUF
  // gives the ids the model was trained on for decomposed text too.
  bool nfc = false;
};
Result<GgufPre> gguf_pre(const std::string& name);

// Whether a regex is one of the pre-tokenizers LongScope knows (real tokenizers'
// patterns, which run unmetered).
bool is_known_pattern(const std::string& pattern);

}  // namespace ls
