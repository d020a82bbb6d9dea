#include "core/tokenizer/bpe.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <climits>

namespace ls {

namespace {

std::string utf8(unsigned cp) {
  std::string s;
  if (cp < 0x80) {
    s += (char)cp;
  } else if (cp < 0x800) {
    s += (char)(0xC0 | (cp >> 6));
    s += (char)(0x80 | (cp & 0x3F));
  } else {
    s += (char)(0xE0 | (cp >> 12));
    s += (char)(0x80 | ((cp >> 6) & 0x3F));
    s += (char)(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest
// (controls, space, 0x7F–0xA0, soft hyphen) are moved to U+0100 onwards in order.
const std::array<std::string, 256>& byte_alphabet() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    unsigned next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      t[b] = utf8(printable ? b : next++);
    }
    return t;
  }();
  return table;
}

const std::unordered_map<std::string, unsigned char>& symbol_bytes() {
  static const std::unordered_map<std::string, unsigned char> m = [] {
    std::unordered_map<std::string, unsigned char> r;
    for (unsigned b = 0; b < 256; ++b) r[byte_alphabet()[b]] = (unsigned char)b;
    return r;
  }();
  return m;
}

size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1; }

}  // namespace

std::string byte_symbol(unsigned char b) { return byte_alphabet()[b]; }

struct ByteLevelBpe::Regex {
  pcre2_code* code = nullptr;
  ~Regex() {
    if (code) pcre2_code_free(code);
  }
};

ByteLevelBpe::~ByteLevelBpe() = default;

Result<std::string> bpe_pretokenizer(const std::string& pre) {
  // From each model's tokenizer.json (pre_tokenizer Split / ByteLevel regex).
  static const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  static const char* kLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const char* kQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (pre == "gpt-2" || pre == "gpt2" || pre == "mpt" || pre == "olmo" || pre == "phi-2") return std::string(kGpt2);
  if (pre == "llama-bpe" || pre == "llama3" || pre == "smaug-bpe") return std::string(kLlama3);
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return std::string(kQwen2);
  return make_error("byte-level BPE pre-tokenizer \"" + pre +
                    "\" is not known to LongScope (known: gpt-2, mpt, olmo, phi-2, llama-bpe, smaug-bpe, qwen2, deepseek-r1-qwen)");
}

bool bpe_ignores_merges(const std::string& pre) { return pre == "llama-bpe" || pre == "llama3" || pre == "smaug-bpe"; }

Result<std::unique_ptr<ByteLevelBpe>> ByteLevelBpe::create(const std::vector<std::string>& tokens,
                                                          const std::vector<std::string>& merges,
                                                          const std::vector<bool>& special, const std::string& pattern,
                                                          bool ignore_merges) {
  if (tokens.empty()) return make_error("the BPE vocabulary is empty");
  if (tokens.size() > (size_t)INT_MAX / 2) return make_error("the BPE vocabulary is too large");
  std::unique_ptr<ByteLevelBpe> b(new ByteLevelBpe());
  b->tokens_ = tokens;
  b->special_ = special;
  b->special_.resize(tokens.size(), false);
  b->ignore_merges_ = ignore_merges;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) continue;
    b->ids_.emplace(tokens[i], (int)i);  // the first of duplicates wins
    if (b->special_[i]) {
      b->specials_.push_back({tokens[i], (int)i});
      b->special_first_[(unsigned char)tokens[i][0]] = true;
    }
  }
  std::stable_sort(b->specials_.begin(), b->specials_.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  for (size_t r = 0; r < merges.size(); ++r) {
    const size_t sp = merges[r].find(' ', 1);  // a left symbol may itself be a space-like glyph, never empty
    if (sp == std::string::npos || sp + 1 >= merges[r].size())
      return make_error("BPE merge " + std::to_string(r) + " \"" + merges[r] + "\" is not two symbols");
    b->ranks_.emplace(merges[r], (int)r);
  }
  b->re_ = std::make_unique<Regex>();
  int err = 0;
  PCRE2_SIZE at = 0;
  b->re_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                               &err, &at, nullptr);
  if (!b->re_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return make_error("the pre-tokenizer regex does not compile at offset " + std::to_string(at) + ": " +
                      reinterpret_cast<const char*>(msg));
  }
  return b;
}

void ByteLevelBpe::encode_piece(std::string_view piece, std::vector<int>& out) const {
  // Merging is quadratic in the piece: an absurdly long one (a run of 10^5 digits or
  // spaces) is merged in slices of kMaxPiece bytes cut at character boundaries.
  constexpr size_t kMaxPiece = 512;
  if (piece.size() > kMaxPiece) {
    size_t cut = kMaxPiece;
    while (cut > 0 && ((unsigned char)piece[cut] & 0xC0) == 0x80) --cut;
    encode_piece(piece.substr(0, cut), out);
    encode_piece(piece.substr(cut), out);
    return;
  }
  std::vector<std::string> sym;
  sym.reserve(piece.size());
  for (unsigned char c : piece) sym.push_back(byte_alphabet()[c]);
  if (ignore_merges_) {
    std::string whole;
    for (const auto& x : sym) whole += x;
    if (auto it = ids_.find(whole); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::string key;
  while (sym.size() > 1) {
    int best = INT_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      key.assign(sym[i]).append(" ").append(sym[i + 1]);
      auto it = ranks_.find(key);
      if (it != ranks_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == INT_MAX) break;
    // Merge every occurrence of the best pair, left to right.
    const std::string left = sym[at], right = sym[at + 1];
    std::vector<std::string> next;
    next.reserve(sym.size());
    for (size_t i = 0; i < sym.size();) {
      if (i + 1 < sym.size() && sym[i] == left && sym[i + 1] == right) {
        next.push_back(left + right);
        i += 2;
      } else {
        next.push_back(std::move(sym[i]));
        i += 1;
      }
    }
    sym.swap(next);
  }
  for (const auto& s : sym) {
    if (auto it = ids_.find(s); it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Not in the vocabulary (an inconsistent file): its bytes one by one.
    for (size_t i = 0; i < s.size();) {
      const size_t n = utf8_len((unsigned char)s[i]);
      if (auto b = ids_.find(s.substr(i, n)); b != ids_.end()) out.push_back(b->second);
      i += n;
    }
  }
}

Result<std::vector<int>> ByteLevelBpe::encode(std::string_view text) const {
  std::vector<int> out;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(re_->code, nullptr);
  if (!md) return make_error("out of memory for the pre-tokenizer");
  auto split = [&](std::string_view seg) -> Status {
    PCRE2_SIZE pos = 0;
    while (pos < seg.size()) {
      const int rc = pcre2_match(re_->code, reinterpret_cast<PCRE2_SPTR>(seg.data()), seg.size(), pos, 0, md, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) {
        encode_piece(seg.substr(pos), out);
        break;
      }
      if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        return make_error(std::string("the text cannot be pre-tokenized: ") + reinterpret_cast<const char*>(msg));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      if (ov[0] > pos) encode_piece(seg.substr(pos, ov[0] - pos), out);  // text no alternative matched
      if (ov[1] == ov[0]) {  // an empty match: step one character
        const size_t n = utf8_len((unsigned char)seg[ov[0]]);
        encode_piece(seg.substr(ov[0], n), out);
        pos = ov[0] + n;
        continue;
      }
      encode_piece(seg.substr(ov[0], ov[1] - ov[0]), out);
      pos = ov[1];
    }
    return Status::Ok();
  };
  // Special tokens first, verbatim; the text between them is split and merged.
  size_t start = 0, i = 0;
  Status st = Status::Ok();
  while (i < text.size() && st) {
    bool hit = false;
    if (special_first_[(unsigned char)text[i]])
      for (const auto& [s, id] : specials_)
      if (text.compare(i, s.size(), s) == 0) {
        st = split(text.substr(start, i - start));
        out.push_back(id);
        i += s.size();
        start = i;
        hit = true;
        break;
      }
    if (!hit) ++i;
  }
  if (st) st = split(text.substr(start));
  pcre2_match_data_free(md);
  if (!st) return make_error(st.error());
  return out;
}

std::string ByteLevelBpe::token_bytes(int id) const {
  if (id < 0 || id >= (int)tokens_.size()) return {};
  const std::string& t = tokens_[(size_t)id];
  if (special_[(size_t)id]) return t;
  std::string out;
  const auto& back = symbol_bytes();
  for (size_t i = 0; i < t.size();) {
    const size_t n = utf8_len((unsigned char)t[i]);
    auto it = back.find(t.substr(i, n));
    if (it != back.end()) out += (char)it->second;
    else out += t.substr(i, n);  // not a byte symbol: kept as written
    i += n;
  }
  return out;
}

}  // namespace ls
