#include "core/tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include "core/tokenizer/unicode.h"
#include "core/util/memory.h"

namespace ls {

namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest
// (controls, space, 0x7F–0xA0, soft hyphen) move to U+0100 onwards in order.
const std::array<std::string, 256>& byte_alphabet() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    unsigned next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      unicode::append(t[b], printable ? b : next++);
    }
    return t;
  }();
  return table;
}

uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xFF51AFD7ED558CCDull);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 32);
}

uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  return k;
}

size_t table_size(size_t n) {
  size_t c = 16;
  while (c < n * 2) c <<= 1;
  return c;
}

}  // namespace

std::string byte_symbol(unsigned char b) { return byte_alphabet()[b]; }

bool alphabet_to_bytes(std::string_view text, std::string& out) {
  static const std::array<int, 512> back = [] {
    std::array<int, 512> t;
    t.fill(-1);
    for (unsigned b = 0; b < 256; ++b) {
      size_t i = 0;
      t[unicode::next(byte_alphabet()[b], i)] = (int)b;
    }
    return t;
  }();
  out.clear();
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = unicode::next(text, i);
    if (cp >= 512 || back[cp] < 0) return false;
    out += (char)back[cp];
  }
  return true;
}

// Open addressing, keys copied into one arena.
struct BpeModel::StrMap {
  std::string arena;
  struct Slot {
    uint64_t hash;
    uint32_t off, len;
    int id;
  };
  std::vector<Slot> slots;
  size_t mask = 0;
  explicit StrMap(size_t n) : slots(table_size(n), Slot{0, 0, 0, -1}), mask(table_size(n) - 1) {}
  // Keeps the first id given for a key (the lowest, as ids are inserted in order).
  void insert(std::string_view key, int id) {
    const uint64_t h = hash_bytes(key);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots[i];
      if (s.id < 0) {
        s = Slot{h, (uint32_t)arena.size(), (uint32_t)key.size(), id};
        arena.append(key);
        return;
      }
      if (s.hash == h && std::string_view(arena).substr(s.off, s.len) == key) return;
    }
  }
  int find(std::string_view key) const {
    const uint64_t h = hash_bytes(key);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.len == key.size() && std::memcmp(arena.data() + s.off, key.data(), key.size()) == 0) return s.id;
    }
  }
};

struct BpeModel::PairMap {
  struct Slot {
    uint64_t key;
    int rank, result;
  };
  static constexpr uint64_t kEmpty = ~0ull;
  std::vector<Slot> slots;
  size_t mask = 0;
  explicit PairMap(size_t n) : slots(table_size(n), Slot{kEmpty, 0, 0}), mask(table_size(n) - 1) {}
  static uint64_t key(int a, int b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }
  // Keeps the lowest rank given for a pair (tokenizers keeps the first merge of a pair).
  void insert(int a, int b, int rank, int result) {
    const uint64_t k = key(a, b);
    for (size_t i = mix(k) & mask;; i = (i + 1) & mask) {
      Slot& s = slots[i];
      if (s.key == kEmpty) {
        s = Slot{k, rank, result};
        return;
      }
      if (s.key == k) {
        if (rank < s.rank) s.rank = rank, s.result = result;
        return;
      }
    }
  }
  const Slot* find(int a, int b) const {
    const uint64_t k = key(a, b);
    for (size_t i = mix(k) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots[i];
      if (s.key == k) return &s;
      if (s.key == kEmpty) return nullptr;
    }
  }
};

BpeModel::~BpeModel() = default;

size_t BpeModel::memory_estimate(size_t n_tokens, size_t token_bytes, size_t n_merges, bool byte_level) {
  // A std::string of 32 bytes, plus a heap block past 15 bytes (rounded up, with
  // malloc's header); a hash table slot of 24 bytes per table entry and an arena.
  const size_t strings = n_tokens * 32 + token_bytes + n_tokens * 32;
  const size_t tables = (byte_level ? 2 : 1) * (table_size(n_tokens) * sizeof(StrMap::Slot) + token_bytes);
  const size_t merges = n_merges * sizeof(BpeMerge) + table_size(n_merges) * sizeof(PairMap::Slot);
  return strings + tables + merges + 4096;
}

Result<std::unique_ptr<BpeModel>> BpeModel::create(std::vector<std::string> tokens, const std::vector<BpeMerge>& merges,
                                                   const Options& options) {
  if (tokens.empty()) return make_error("the BPE vocabulary is empty");
  if (tokens.size() > (size_t)INT_MAX / 4) return make_error("the BPE vocabulary is too large");
  size_t bytes = 0;
  for (const auto& t : tokens) bytes += t.size();
  // The tokens are here already; their tables and the merge table are to come.
  if (auto st = check_memory(memory_estimate(tokens.size(), bytes, merges.size(), options.byte_level) -
                                 tokens.size() * 64 - bytes,
                             "the BPE tokenizer's tables");
      !st)
    return make_error(st.error());
  std::unique_ptr<BpeModel> m(new BpeModel());
  m->opt_ = options;
  m->tokens_ = std::move(tokens);
  const int n = (int)m->tokens_.size();
  if (options.unk_id >= n) return make_error("the unknown token's id " + std::to_string(options.unk_id) + " is outside the vocabulary");
  m->ids_ = std::make_unique<StrMap>(m->tokens_.size());
  for (int i = 0; i < n; ++i)
    if (!m->tokens_[(size_t)i].empty()) m->ids_->insert(m->tokens_[(size_t)i], i);
  std::fill(std::begin(m->byte_id_), std::end(m->byte_id_), -1);
  std::fill(std::begin(m->fallback_id_), std::end(m->fallback_id_), -1);
  if (options.byte_level) {
    m->raw_ids_ = std::make_unique<StrMap>(m->tokens_.size());
    std::string raw;
    for (int i = 0; i < n; ++i)
      if (!m->tokens_[(size_t)i].empty() && alphabet_to_bytes(m->tokens_[(size_t)i], raw)) m->raw_ids_->insert(raw, i);
    for (int b = 0; b < 256; ++b) m->byte_id_[b] = m->ids_->find(byte_alphabet()[(size_t)b]);
  }
  if (options.byte_fallback) {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
      m->fallback_id_[b] = m->ids_->find(name);
    }
  }
  if (auto st = m->set_merges(merges); !st) return make_error(st.error());
  return m;
}

Status BpeModel::set_merges(const std::vector<BpeMerge>& merges) {
  const int n = size();
  auto table = std::make_unique<PairMap>(merges.size());
  for (const BpeMerge& g : merges) {
    if (g.left < 0 || g.left >= n || g.right < 0 || g.right >= n || g.result < 0 || g.result >= n)
      return make_error("a BPE merge refers to a token outside the vocabulary");
    table->insert(g.left, g.right, g.rank, g.result);
  }
  merges_ = std::move(table);
  return Status::Ok();
}

int BpeModel::id_of(std::string_view alphabet_text) const { return ids_->find(alphabet_text); }

int BpeModel::lookup(std::string_view raw) const { return opt_.byte_level ? raw_ids_->find(raw) : ids_->find(raw); }

std::string BpeModel::token_bytes(int id) const {
  if (id < 0 || id >= size()) return {};
  const std::string& t = tokens_[(size_t)id];
  std::string raw;
  if (opt_.byte_level && alphabet_to_bytes(t, raw)) return raw;
  return t;
}

// The symbols a piece starts as: each character (each byte, for a byte-level model)
// that is a token; an unknown one as its <0xXX> tokens, or the unknown token, or
// nothing, as tokenizers' merge_word does.
void BpeModel::initial_symbols(std::string_view piece, std::vector<int>& ids) const {
  ids.clear();
  bool pending_unk = false;
  for (size_t i = 0; i < piece.size();) {
    const size_t at = i;
    i += opt_.byte_level ? 1 : std::min(unicode::seq_len((unsigned char)piece[i]), piece.size() - i);
    const std::string_view ch = piece.substr(at, i - at);
    const int id = opt_.byte_level ? byte_id_[(unsigned char)ch[0]] : ids_->find(ch);
    if (id >= 0) {
      if (pending_unk) ids.push_back(opt_.unk_id), pending_unk = false;
      ids.push_back(id);
      continue;
    }
    if (opt_.byte_fallback) {
      bool all = true;
      for (unsigned char c : ch) all &= fallback_id_[c] >= 0;
      if (all) {
        // tokenizers adds the byte tokens without first flushing a pending unknown.
        for (unsigned char c : ch) ids.push_back(fallback_id_[c]);
        continue;
      }
    }
    if (opt_.unk_id >= 0) {
      if (pending_unk && !opt_.fuse_unk) ids.push_back(opt_.unk_id);
      pending_unk = true;
    }
  }
  if (pending_unk) ids.push_back(opt_.unk_id);
}

void BpeModel::merge(std::vector<int>& ids, BpeScratch& s) const {
  const size_t n = ids.size();
  if (n < 2) return;
  if (n <= 48) {
    // Short pieces: the lowest-ranked adjacent pair, leftmost among equals, merged
    // until none is left; the pair ranks are kept and renewed beside each merge.
    auto& rk = s.ranks;
    auto& res = s.results;
    rk.resize(n - 1);
    res.resize(n - 1);
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const auto* m = merges_->find(ids[i], ids[i + 1]);
      rk[i] = m ? m->rank : INT_MAX;
      res[i] = m ? m->result : -1;
    }
    while (ids.size() > 1) {
      size_t best = 0;
      for (size_t i = 1; i < rk.size(); ++i)
        if (rk[i] < rk[best]) best = i;
      if (rk[best] == INT_MAX) break;
      ids[best] = res[best];
      ids.erase(ids.begin() + (long)best + 1);
      rk.erase(rk.begin() + (long)best);
      res.erase(res.begin() + (long)best);
      auto renew = [&](size_t i) {
        const auto* m = merges_->find(ids[i], ids[i + 1]);
        rk[i] = m ? m->rank : INT_MAX;
        res[i] = m ? m->result : -1;
      };
      if (best > 0) renew(best - 1);
      if (best + 1 < ids.size()) renew(best);
    }
    return;
  }
  // Long pieces: tokenizers' Word::merge_all, a min-heap on (rank, position); an
  // entry whose pair has changed since it was pushed is skipped.
  auto& sy = s.syms;
  sy.resize(n);
  for (size_t i = 0; i < n; ++i) sy[i] = {ids[i], (int)i - 1, i + 1 < n ? (int)i + 1 : -1, true};
  auto& h = s.heap;
  h.clear();
  auto later = [](const BpeScratch::Pending& a, const BpeScratch::Pending& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  for (size_t i = 0; i + 1 < n; ++i)
    if (const auto* m = merges_->find(ids[i], ids[i + 1])) h.push_back({m->rank, (int)i, m->result});
  std::make_heap(h.begin(), h.end(), later);
  while (!h.empty()) {
    std::pop_heap(h.begin(), h.end(), later);
    const auto top = h.back();
    h.pop_back();
    auto& left = sy[(size_t)top.pos];
    if (!left.alive || left.next < 0) continue;
    auto& right = sy[(size_t)left.next];
    const auto* now = merges_->find(left.id, right.id);
    if (!now || now->result != top.result) continue;  // stale
    left.id = top.result;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) sy[(size_t)right.next].prev = top.pos;
    if (left.prev >= 0)
      if (const auto* m = merges_->find(sy[(size_t)left.prev].id, left.id)) {
        h.push_back({m->rank, left.prev, m->result});
        std::push_heap(h.begin(), h.end(), later);
      }
    if (left.next >= 0)
      if (const auto* m = merges_->find(left.id, sy[(size_t)left.next].id)) {
        h.push_back({m->rank, top.pos, m->result});
        std::push_heap(h.begin(), h.end(), later);
      }
  }
  ids.clear();
  for (int i = 0; i >= 0; i = sy[(size_t)i].next) ids.push_back(sy[(size_t)i].id);
}

namespace {
constexpr size_t kCutBytes = size_t{1} << 20;   // pieces longer than this are cut where it is safe
constexpr size_t kCacheMaxPiece = 64;           // pieces up to this long are cached per call
constexpr size_t kCacheMaxEntries = 1 << 16;
}  // namespace

Status BpeModel::encode(std::string_view piece, std::vector<int>& out, BpeScratch& s) const {
  if (piece.empty()) return Status::Ok();
  if (opt_.ignore_merges)
    if (const int id = lookup(piece); id >= 0) {
      out.push_back(id);
      return Status::Ok();
    }
  // A SentencePiece-style piece (no pre-tokenizer: the whole text) is cut into words
  // before each "▁" where no token can span the cut, so words are merged (and cached)
  // one at a time with the same ids.
  if (!opt_.byte_level && piece.size() > kCacheMaxPiece) {
    static const std::string_view kMarker = "\xe2\x96\x81";
    size_t start = 0;
    for (size_t at = piece.find(kMarker, 1); at != std::string_view::npos; at = piece.find(kMarker, at + kMarker.size()))
      if (at > start && safe_cut(piece, at)) {
        if (auto st = encode_word(piece.substr(start, at - start), out, s); !st) return st;
        start = at;
      }
    return encode_word(piece.substr(start), out, s);
  }
  return encode_word(piece, out, s);
}

Status BpeModel::encode_word(std::string_view piece, std::vector<int>& out, BpeScratch& s) const {
  if (piece.size() > kCutBytes) return encode_long(piece, out, s);
  const bool cacheable = piece.size() <= kCacheMaxPiece;
  if (cacheable) {
    s.key.assign(piece);
    if (auto it = s.cache.find(s.key); it != s.cache.end()) {
      out.insert(out.end(), s.cache_ids.begin() + it->second.first,
                 s.cache_ids.begin() + it->second.first + it->second.second);
      return Status::Ok();
    }
  }
  initial_symbols(piece, s.ids);
  merge(s.ids, s);
  out.insert(out.end(), s.ids.begin(), s.ids.end());
  if (cacheable) {
    if (s.cache.size() >= kCacheMaxEntries) s.cache.clear(), s.cache_ids.clear();
    s.cache.emplace(s.key, std::make_pair((uint32_t)s.cache_ids.size(), (uint32_t)s.ids.size()));
    s.cache_ids.insert(s.cache_ids.end(), s.ids.begin(), s.ids.end());
  }
  return Status::Ok();
}

// Whether cutting `piece` before byte `at` (a character boundary) leaves the ids as
// they are: no token holds the character pair across the cut, so no symbol can
// ever span it, and the merges on each side are those of the whole piece.
bool BpeModel::safe_cut(std::string_view piece, size_t at) const {
  std::call_once(pairs_once_, [this] {
    std::vector<uint64_t> v;
    std::string raw;
    for (const auto& t : tokens_) {
      std::string_view text = t;
      if (opt_.byte_level) {
        if (!alphabet_to_bytes(t, raw)) continue;
        text = raw;
        for (size_t i = 0; i + 1 < text.size(); ++i) v.push_back((uint64_t)(unsigned char)text[i] << 32 | (unsigned char)text[i + 1]);
        continue;
      }
      size_t i = 0;
      if (text.empty()) continue;
      uint32_t a = unicode::next(text, i);
      while (i < text.size()) {
        const uint32_t b = unicode::next(text, i);
        v.push_back((uint64_t)a << 32 | b);
        a = b;
      }
    }
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    inner_pairs_ = std::move(v);
  });
  uint64_t key;
  size_t i = at;
  if (opt_.byte_level) {
    key = (uint64_t)(unsigned char)piece[at - 1] << 32 | (unsigned char)piece[at];
  } else {
    size_t j = at;
    const uint32_t a = unicode::prev(piece, i);
    const uint32_t b = unicode::next(piece, j);
    key = (uint64_t)a << 32 | b;
    // Unknown characters on both sides would be fused into one unknown token.
    if (opt_.fuse_unk && opt_.unk_id >= 0 && ids_->find(piece.substr(i, at - i)) < 0 &&
        ids_->find(piece.substr(at, j - at)) < 0)
      return false;
  }
  return !std::binary_search(inner_pairs_.begin(), inner_pairs_.end(), key);
}

Status BpeModel::encode_long(std::string_view piece, std::vector<int>& out, BpeScratch& s) const {
  size_t start = 0;
  while (piece.size() - start > kCutBytes) {
    // The first safe cut after kCutBytes / 2 (at a character boundary).
    size_t at = start + kCutBytes / 2;
    while (at < piece.size() && ((unsigned char)piece[at] & 0xC0) == 0x80) ++at;
    while (at < piece.size() && !safe_cut(piece, at)) {
      ++at;
      while (at < piece.size() && ((unsigned char)piece[at] & 0xC0) == 0x80) ++at;
    }
    if (at >= piece.size()) break;  // no safe cut: the rest is merged whole
    initial_symbols(piece.substr(start, at - start), s.ids);
    merge(s.ids, s);
    out.insert(out.end(), s.ids.begin(), s.ids.end());
    start = at;
  }
  const std::string_view rest = piece.substr(start);
  if (auto st = check_memory(rest.size() * 64, "tokenizing a " + format_bytes(rest.size()) + " run with no word break");
      !st)
    return st;
  initial_symbols(rest, s.ids);
  merge(s.ids, s);
  out.insert(out.end(), s.ids.begin(), s.ids.end());
  return Status::Ok();
}

}  // namespace ls
