// Added (special) tokens: found in the text before anything else runs and emitted
// whole, as Hugging Face tokenizers' AddedVocabulary does — leftmost-longest
// matches over all the tokens at once (an Aho-Corasick automaton, so the work is
// linear in the text whatever the number and length of the tokens), then the
// tokens' single_word / lstrip / rstrip rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ls {

struct AddedToken {
  std::string content;
  int id = -1;
  bool special = false;     // tokenizers' "special" (control tokens: BOS, EOS, chat markers)
  bool normalized = false;  // matched in the normalised text instead of the raw text
  bool lstrip = false, rstrip = false, single_word = false;
};

class TokenMatcher {
 public:
  // `tokens` with empty content are ignored; for the same content the first wins.
  void build(const std::vector<AddedToken>& tokens);
  bool empty() const { return tokens_.empty(); }

  struct Part {
    size_t begin, end;  // bytes of the text
    int id;             // the token, or -1 for text between tokens
  };
  // Splits `text` into tokens and the text between them, in order.
  void split(std::string_view text, std::vector<Part>& parts) const;

 private:
  struct Node {
    uint32_t first_edge = 0, n_edges = 0;
    int fail = 0;
    int out = -1;        // the longest token that ends here (index into tokens_), or -1
    uint32_t depth = 0;
  };
  int step(int state, unsigned char c) const;
  std::vector<AddedToken> tokens_;
  size_t max_len_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::pair<unsigned char, int>> edges_;  // per node, sorted by byte
};

}  // namespace ls
