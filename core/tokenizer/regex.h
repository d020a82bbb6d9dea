// Pre-tokenizer and normalizer regular expressions on PCRE2 (UTF, Unicode
// properties, JIT-compiled where the library can). Patterns LongScope knows (the
// pre-tokenizers of real tokenizers, tokenizer/pretokenizer.cpp) run unmetered; any
// other pattern a file brings runs with a per-call match limit and a per-document
// step budget, counted by PCRE2 callouts, so a pattern with catastrophic
// backtracking ends in a clear error instead of minutes of work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/status.h"

namespace ls {

class Regex {
 public:
  // `metered`: a pattern from a file that LongScope does not know.
  static Result<std::shared_ptr<const Regex>> compile(const std::string& pattern, bool metered);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  bool metered() const { return metered_; }
  const std::string& pattern() const { return pattern_; }

  // Per-document matching state (match data, the step budget). One per encode call.
  class Matcher {
   public:
    explicit Matcher(const Regex& re, size_t document_bytes);
    ~Matcher();
    Matcher(const Matcher&) = delete;
    Matcher& operator=(const Matcher&) = delete;
    // The first match in `subject` at or after `pos`: true and [begin, end), or false
    // when there is none. An exhausted budget or match limit is an error.
    Result<bool> find(std::string_view subject, size_t pos, size_t& begin, size_t& end);

   private:
    const Regex& re_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

 private:
  Regex() = default;
  struct Code;
  std::unique_ptr<Code> code_;
  bool metered_ = false;
  std::string pattern_;
};

// The matchers of one encode call, one per regular expression, made on first use.
class RegexSession {
 public:
  explicit RegexSession(size_t document_bytes) : bytes_(document_bytes) {}
  Regex::Matcher& matcher(const Regex& re);

 private:
  size_t bytes_;
  std::vector<std::pair<const Regex*, std::unique_ptr<Regex::Matcher>>> m_;
};

}  // namespace ls
