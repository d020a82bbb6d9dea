#include "core/tokenizer/added_tokens.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/tokenizer/unicode.h"

namespace ls {

// The automaton is built over the tokens written backwards and run over the text
// backwards: the state after reading text[i] (from the end) names the longest token
// that STARTS at i. A left-to-right pass then takes the leftmost match, longest
// first, and goes on after it — the aho-corasick crate's LeftmostLongest, which
// tokenizers uses.
void TokenMatcher::build(const std::vector<AddedToken>& tokens) {
  tokens_.clear();
  max_len_ = 0;
  std::set<std::string> seen;
  for (const auto& t : tokens)
    if (!t.content.empty() && seen.insert(t.content).second) tokens_.push_back(t);
  // A trie with edges in a map while building, flattened afterwards.
  std::vector<std::map<unsigned char, int>> next(1);
  std::vector<Node> nodes(1);
  for (size_t k = 0; k < tokens_.size(); ++k) {
    const std::string& s = tokens_[k].content;
    int at = 0;
    for (size_t i = s.size(); i-- > 0;) {
      const unsigned char c = (unsigned char)s[i];
      auto it = next[(size_t)at].find(c);
      if (it == next[(size_t)at].end()) {
        next.emplace_back();
        Node n;
        n.depth = nodes[(size_t)at].depth + 1;
        nodes.push_back(n);
        it = next[(size_t)at].emplace(c, (int)nodes.size() - 1).first;
      }
      at = it->second;
    }
    nodes[(size_t)at].out = (int)k;
    max_len_ = std::max(max_len_, s.size());
  }
  edges_.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].first_edge = (uint32_t)edges_.size();
    nodes[i].n_edges = (uint32_t)next[i].size();
    for (const auto& e : next[i]) edges_.push_back(e);
  }
  nodes_ = std::move(nodes);
  // Failure links, breadth first; a node that ends no token takes the longest token
  // ending at its failure node.
  std::vector<int> queue;
  for (uint32_t e = 0; e < nodes_[0].n_edges; ++e) {
    const int child = edges_[nodes_[0].first_edge + e].second;
    nodes_[(size_t)child].fail = 0;
    queue.push_back(child);
  }
  for (size_t q = 0; q < queue.size(); ++q) {
    const int u = queue[q];
    const Node& nu = nodes_[(size_t)u];
    for (uint32_t e = 0; e < nu.n_edges; ++e) {
      const auto [c, child] = edges_[nu.first_edge + e];
      nodes_[(size_t)child].fail = step(nu.fail, c);
      if (nodes_[(size_t)child].out < 0) nodes_[(size_t)child].out = nodes_[(size_t)nodes_[(size_t)child].fail].out;
      queue.push_back(child);
    }
  }
}

int TokenMatcher::step(int state, unsigned char c) const {
  for (;;) {
    const Node& n = nodes_[(size_t)state];
    const auto* b = edges_.data() + n.first_edge;
    const auto* e = b + n.n_edges;
    const auto* it = std::lower_bound(b, e, c, [](const std::pair<unsigned char, int>& x, unsigned char v) { return x.first < v; });
    if (it != e && it->first == c) return it->second;
    if (state == 0) return 0;
    state = n.fail;
  }
}

namespace {
bool is_word_char(uint32_t cp) { return cp == '_' || unicode::is_alphabetic(cp) || unicode::is_numeric(cp); }
}  // namespace

void TokenMatcher::split(std::string_view text, std::vector<Part>& parts) const {
  parts.clear();
  if (tokens_.empty()) {
    if (!text.empty()) parts.push_back({0, text.size(), -1});
    return;
  }
  // Windows of at least 1 MiB keep the list of match starts bounded: the starts in
  // [a, b) need the text up to b plus the longest token.
  const size_t n = text.size(), window = std::max<size_t>(size_t{1} << 20, max_len_);
  std::vector<std::pair<size_t, int>> starts;  // (position, token), positions decreasing
  size_t last = 0, taken_end = 0;
  for (size_t a = 0; a < n; a += window) {
    const size_t b = std::min(n, a + window), r = std::min(n, b + max_len_);
    starts.clear();
    int state = 0;
    for (size_t i = r; i-- > a;) {
      state = step(state, (unsigned char)text[i]);
      if (i < b && nodes_[(size_t)state].out >= 0) starts.push_back({i, nodes_[(size_t)state].out});
    }
    for (size_t k = starts.size(); k-- > 0;) {
      const auto [pos, tok] = starts[k];
      if (pos < taken_end) continue;  // inside the previous match
      const AddedToken& t = tokens_[(size_t)tok];
      size_t mb = pos, me = pos + t.content.size();
      taken_end = me;
      if (t.single_word) {
        // A word character just before or after: not a whole word, left as text.
        size_t i = mb, j = me;
        if (mb > 0 && is_word_char(unicode::prev(text, i))) continue;
        if (me < n && is_word_char(unicode::next(text, j))) continue;
      }
      if (t.lstrip)
        while (mb > last) {
          size_t i = mb;
          if (!unicode::is_whitespace(unicode::prev(text, i))) break;
          mb = i;
        }
      if (t.rstrip)
        while (me < n) {
          size_t j = me;
          if (!unicode::is_whitespace(unicode::next(text, j))) break;
          me = j;
        }
      if (mb > last) parts.push_back({last, mb, -1});
      parts.push_back({mb, me, t.id});
      last = me;
      taken_end = std::max(taken_end, me);
    }
  }
  if (last < n) parts.push_back({last, n, -1});
}

}  // namespace ls
