#include "core/tokenizer/normalizer.h"

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/unicode.h"
#include "core/util/files.h"

namespace ls {

namespace {

std::string str(const nlohmann::json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
bool flag(const nlohmann::json& o, const char* k, bool fallback) {
  auto it = o.find(k);
  return it != o.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// Every non-overlapping occurrence of `pat` in `s` replaced by `with`.
std::string replace_all(std::string_view s, std::string_view pat, std::string_view with) {
  std::string out;
  if (pat.empty()) return std::string(s);
  out.reserve(s.size());
  size_t at = 0;
  for (size_t f; (f = s.find(pat, at)) != std::string_view::npos; at = f + pat.size()) {
    out.append(s.substr(at, f - at));
    out.append(with);
  }
  out.append(s.substr(at));
  return out;
}

Status add_json_step(Normalizer& n, const nlohmann::json& j, int depth) {
  if (!j.is_object()) return make_error("a normalizer is not an object");
  const std::string type = str(j, "type");
  using K = Normalizer::Step::Kind;
  Normalizer::Step s{K::NFC};
  if (type == "Sequence") {
    auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) return make_error("normalizer Sequence has no \"normalizers\" list");
    if (depth > 8) return make_error("normalizer Sequences nest too deep");
    for (const auto& c : *it)
      if (auto st = add_json_step(n, c, depth + 1); !st) return st;
    return Status::Ok();
  }
  if (type == "NFC") s.kind = K::NFC;
  else if (type == "NFD") s.kind = K::NFD;
  else if (type == "NFKC") s.kind = K::NFKC;
  else if (type == "NFKD") s.kind = K::NFKD;
  else if (type == "Lowercase") s.kind = K::Lowercase;
  else if (type == "StripAccents") s.kind = K::StripAccents;
  else if (type == "Strip") s.kind = K::Strip, s.left = flag(j, "strip_left", true), s.right = flag(j, "strip_right", true);
  else if (type == "Prepend") {
    s.kind = K::Prepend;
    s.content = str(j, "prepend");
  } else if (type == "Replace") {
    s.kind = K::Replace;
    s.content = str(j, "content");
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object()) return make_error("normalizer Replace has no pattern");
    if (p->contains("String") && (*p)["String"].is_string()) {
      s.pattern = (*p)["String"].get<std::string>();
    } else if (p->contains("Regex") && (*p)["Regex"].is_string()) {
      const std::string re = (*p)["Regex"].get<std::string>();
      auto r = Regex::compile(re, !is_known_pattern(re));
      if (!r) return make_error("normalizer Replace: " + r.error());
      s.regex = r.value();
    } else {
      return make_error("normalizer Replace's pattern is neither a String nor a Regex");
    }
  } else {
    return make_error("normalizer \"" + clip(type, 60) +
                      "\" is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, "
                      "Replace, Prepend)");
  }
  n.add(std::move(s));
  return Status::Ok();
}

}  // namespace

Result<Normalizer> Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  if (j.is_null()) return n;
  if (auto st = add_json_step(n, j, 0); !st) return make_error(st.error());
  return n;
}

bool Normalizer::prepends() const {
  for (const auto& s : steps_)
    if (s.kind == Step::Kind::Prepend && !s.content.empty()) return true;
  return false;
}

Result<std::string> Normalizer::apply(std::string_view text, RegexSession& rs) const {
  std::string cur(text);
  using K = Step::Kind;
  for (const Step& s : steps_) {
    switch (s.kind) {
      case K::NFC:
      case K::NFD:
      case K::NFKC:
      case K::NFKD: {
        const unicode::Form f = s.kind == K::NFC ? unicode::Form::NFC : s.kind == K::NFD ? unicode::Form::NFD
                                : s.kind == K::NFKC ? unicode::Form::NFKC : unicode::Form::NFKD;
        auto r = unicode::normalize(cur, f);
        if (!r) return make_error(r.error());
        cur = r.take();
        break;
      }
      case K::Lowercase: cur = unicode::lowercase(cur); break;
      case K::StripAccents: cur = unicode::strip_accents(cur); break;
      case K::Strip: {
        size_t b = 0, e = cur.size();
        if (s.left)
          while (b < e) {
            size_t i = b;
            if (!unicode::is_whitespace(unicode::next(cur, i))) break;
            b = i;
          }
        if (s.right)
          while (e > b) {
            size_t i = e;
            if (!unicode::is_whitespace(unicode::prev(cur, i))) break;
            e = i;
          }
        cur = cur.substr(b, e - b);
        break;
      }
      case K::Prepend:
        if (!cur.empty()) cur.insert(0, s.content);  // tokenizers prepends to non-empty text only
        break;
      case K::Replace:
        if (!s.regex) {
          cur = replace_all(cur, s.pattern, s.content);
        } else {
          std::string out;
          auto& m = rs.matcher(*s.regex);
          size_t pos = 0, b = 0, e = 0;
          while (pos <= cur.size()) {
            auto found = m.find(cur, pos, b, e);
            if (!found) return make_error(found.error());
            if (!found.value()) break;
            out.append(cur, pos, b - pos);
            out.append(s.content);
            if (e == b) {  // an empty match: keep the next character and go on after it
              if (b >= cur.size()) break;
              const size_t n = unicode::seq_len((unsigned char)cur[b]);
              out.append(cur, b, n);
              e = b + n;
            }
            pos = e;
          }
          if (pos < cur.size()) out.append(cur, pos, std::string::npos);
          cur = std::move(out);
        }
        break;
      case K::CollapseSpaces: {
        // SentencePiece's remove_extra_whitespaces: no leading or trailing spaces, runs as one.
        std::string out;
        out.reserve(cur.size());
        for (char c : cur)
          if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
        while (!out.empty() && out.back() == ' ') out.pop_back();
        cur = std::move(out);
        break;
      }
    }
  }
  return cur;
}

}  // namespace ls
