#include "core/tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <filesystem>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/normalizer.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/spm.h"
#include "core/tokenizer/unicode.h"
#include "core/util/files.h"
#include "core/util/json.h"
#include "core/util/memory.h"

namespace ls {

namespace {
const char* const kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space
constexpr size_t kMaxTokenizerBytes = size_t{64} << 20;
constexpr int kMaxTokenId = 1 << 22;

// The byte a byte token "<0xXX>" stands for, or -1.
int byte_token(const std::string& p) {
  auto hex = [](char ch) {
    return std::isxdigit((unsigned char)ch) ? (std::isdigit((unsigned char)ch) ? ch - '0' : (std::tolower((unsigned char)ch) - 'a' + 10)) : -1;
  };
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>' || hex(p[3]) < 0 || hex(p[4]) < 0) return -1;
  return hex(p[3]) * 16 + hex(p[4]);
}
}  // namespace

Tokenizer::Tokenizer()
    : raw_added_(std::make_unique<TokenMatcher>()),
      normalized_added_(std::make_unique<TokenMatcher>()),
      normalizer_(std::make_unique<Normalizer>()),
      pre_(std::make_unique<PreTokenizer>()) {}
Tokenizer::~Tokenizer() = default;

// What every way of building ends with: the vocabulary's size, and ids checked.
Status Tokenizer::finish() {
  vocab_size_ = std::max(bpe_ ? bpe_->size() : sp_ ? sp_->GetPieceSize() : 0, (int)added_.size());
  special_.resize(added_.size(), false);
  auto inside = [&](int id) { return id >= 0 && id < vocab_size_; };
  for (int id : prefix_)
    if (!inside(id)) return make_error("the token " + std::to_string(id) + " it puts before a text is outside its vocabulary");
  for (int id : suffix_)
    if (!inside(id)) return make_error("the token " + std::to_string(id) + " it puts after a text is outside its vocabulary");
  if (!inside(bos_)) bos_ = -1;
  if (!inside(eos_)) eos_ = -1;
  return Status::Ok();
}

// SentencePiece's normaliser as its BPE models use it: runs of spaces collapsed
// (remove_extra_whitespaces), a space put before the text (add_dummy_prefix, GGUF's
// add_space_prefix), spaces written as "▁".
void Tokenizer::sentencepiece_normalizer(bool collapse_spaces, bool space_prefix) {
  using K = Normalizer::Step::Kind;
  if (collapse_spaces) normalizer_->add({K::CollapseSpaces});
  if (space_prefix) {
    Normalizer::Step p{K::Prepend};
    p.content = " ";
    normalizer_->add(p);
  }
  Normalizer::Step esc{K::Replace};
  esc.pattern = " ";
  esc.content = kSpace;
  normalizer_->add(esc);
  space_marker_ = kSpace;
  strip_leading_space_ = space_prefix;
  kind_ = "sentencepiece";
}

// ---- Encoding ---------------------------------------------------------------

Result<std::vector<int>> Tokenizer::encode(std::string_view text) const {
  if (!unicode::is_valid_utf8(text)) return make_error("tokenizer: the text is not valid UTF-8");
  std::vector<int> out;
  if (sp_) {
    // SentencePiece's own models (unigram and others): the library, on the whole text.
    if (auto st = check_memory(text.size() * 48, "tokenizing " + format_bytes(text.size()) + " of text"); !st)
      return make_error(st.error());
    auto st = sp_->Encode(std::string(text), &out);
    if (!st.ok()) return make_error("tokenizer: " + st.ToString());
    return out;
  }
  if (auto st = check_memory(text.size() * 12, "tokenizing " + format_bytes(text.size()) + " of text"); !st)
    return make_error(st.error());
  RegexSession rs(text.size());
  BpeScratch scratch;
  std::vector<TokenMatcher::Part> parts, inner;
  const PreTokenizer::Emit emit = [&](std::string_view piece) { return bpe_->encode(piece, out, scratch); };
  raw_added_->split(text, parts);
  for (const auto& p : parts) {
    if (p.id >= 0) {
      out.push_back(p.id);
      continue;
    }
    const bool at_start = p.begin == 0;
    auto norm = normalizer_->apply(text.substr(p.begin, p.end - p.begin), rs);
    if (!norm) return make_error("tokenizer: " + norm.error());
    const std::string& n = norm.value();
    normalized_added_->split(n, inner);
    for (const auto& q : inner) {
      if (q.id >= 0) {
        out.push_back(q.id);
        continue;
      }
      if (auto st = pre_->run(std::string_view(n).substr(q.begin, q.end - q.begin), at_start && q.begin == 0, rs, emit); !st)
        return make_error("tokenizer: " + st.error());
    }
  }
  return out;
}

// ---- Decoding -----------------------------------------------------------------

std::string Tokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size_) return "";
  if ((size_t)id < added_.size() && !added_[(size_t)id].empty()) return added_[(size_t)id];
  std::string p;
  if (sp_) p = sp_->IdToPiece(id);
  else if (id < bpe_->size()) p = byte_level_ ? bpe_->token_bytes(id) : bpe_->token(id);
  if (byte_level_) return p;  // may be part of a UTF-8 character
  // Byte tokens <0xXX>: ASCII bytes display as themselves (a newline as a newline);
  // bytes of a multi-byte character stay visible as <0xXX>.
  if (const int byte = byte_token(p); byte == '\n' || byte == '\t' || (byte >= 0x20 && byte < 0x7f))
    return std::string(1, (char)byte);
  if (!space_marker_.empty())
    for (size_t pos; (pos = p.find(space_marker_)) != std::string::npos;) p.replace(pos, space_marker_.size(), " ");
  return p;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string s;
  if (sp_) {
    std::vector<int> valid;
    for (int id : ids)
      if (id >= 0 && id < vocab_size_) valid.push_back(id);
    sp_->Decode(valid, &s).IgnoreError();
    return s;
  }
  bool first = true;
  for (int id : ids) {
    if (id < 0 || id >= vocab_size_ || ((size_t)id < special_.size() && special_[(size_t)id])) continue;
    std::string p;
    if ((size_t)id < added_.size() && !added_[(size_t)id].empty()) {
      p = added_[(size_t)id];
    } else if (byte_level_) {
      p = bpe_->token_bytes(id);
    } else {
      p = bpe_->token(id);
      if (const int byte = byte_token(p); byte >= 0)
        p = std::string(1, (char)byte);
      else if (!space_marker_.empty())
        for (size_t pos; (pos = p.find(space_marker_)) != std::string::npos;) p.replace(pos, space_marker_.size(), " ");
    }
    if (first && strip_leading_space_ && !p.empty() && p[0] == ' ') p.erase(0, 1);
    first = false;
    s += p;
  }
  return s;
}

// ---- tokenizer.json -------------------------------------------------------------

namespace {

// A member of an object, read in place (a null value when absent): untrusted
// subtrees are never copied.
const nlohmann::json& field(const nlohmann::json& o, const char* k) {
  static const nlohmann::json null;
  if (!o.is_object()) return null;
  auto it = o.find(k);
  return it != o.end() ? *it : null;
}

std::string str(const nlohmann::json& o, const char* k) {
  if (!o.is_object()) return {};
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int flag3(const nlohmann::json& o, const char* k) {  // 1, 0, or -1 when absent / not a boolean
  if (!o.is_object()) return -1;
  auto it = o.find(k);
  return it != o.end() && it->is_boolean() ? (int)it->get<bool>() : -1;
}
// A token given as "text" or {"content": "text", …} (tokenizer_config.json).
std::string token_text(const nlohmann::json& o, const char* k) {
  if (!o.is_object()) return {};
  auto it = o.find(k);
  if (it == o.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  return str(*it, "content");
}

// What tokenizer.json's post-processor puts around a single text.
Status post_processor(const nlohmann::json& p, std::vector<int>& prefix, std::vector<int>& suffix, int depth = 0) {
  if (p.is_null()) return Status::Ok();
  if (!p.is_object()) return make_error("post_processor is not an object");
  const std::string type = str(p, "type");
  if (type == "ByteLevel") return Status::Ok();
  if (type == "Sequence") {
    auto it = p.find("processors");
    if (it == p.end() || !it->is_array() || depth > 8) return make_error("post_processor Sequence has no processors list");
    for (const auto& c : *it)
      if (auto st = post_processor(c, prefix, suffix, depth + 1); !st) return st;
    return Status::Ok();
  }
  auto id_of = [](const nlohmann::json& pair, int& id) {  // ["<s>", 1]
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer()) return false;
    id = pair[1].get<int>();
    return true;
  };
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    int cls = -1, sep = -1;
    if (!p.contains("cls") || !p.contains("sep") || !id_of(p["cls"], cls) || !id_of(p["sep"], sep))
      return make_error("post_processor " + type + " lacks cls or sep");
    prefix.assign({cls});
    suffix.assign({sep});
    return Status::Ok();
  }
  if (type == "TemplateProcessing") {
    auto single = p.find("single");
    auto specials = p.find("special_tokens");
    if (single == p.end() || !single->is_array()) return make_error("post_processor TemplateProcessing has no single template");
    std::vector<int> before, after;
    bool seen_text = false;
    for (const auto& piece : *single) {
      if (!piece.is_object()) return make_error("a TemplateProcessing piece is not an object");
      if (piece.contains("Sequence")) {
        seen_text = true;
        continue;
      }
      const std::string name = piece.contains("SpecialToken") ? str(piece["SpecialToken"], "id") : std::string();
      if (name.empty()) return make_error("a TemplateProcessing piece is neither a Sequence nor a SpecialToken");
      if (specials == p.end() || !specials->is_object() || !specials->contains(name))
        return make_error("TemplateProcessing names \"" + clip(name, 60) + "\", which its special_tokens do not define");
      const auto& ids = (*specials)[name].contains("ids") ? (*specials)[name]["ids"] : nlohmann::json();
      if (!ids.is_array()) return make_error("TemplateProcessing's \"" + clip(name, 60) + "\" has no ids");
      for (const auto& id : ids) {
        if (!id.is_number_integer()) return make_error("TemplateProcessing's \"" + clip(name, 60) + "\" has a non-integer id");
        (seen_text ? after : before).push_back(id.get<int>());
      }
    }
    prefix.insert(prefix.end(), before.begin(), before.end());
    suffix.insert(suffix.end(), after.begin(), after.end());
    return Status::Ok();
  }
  return make_error("post_processor \"" + clip(type, 60) +
                    "\" is not supported (ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence)");
}

// model.vocab and model.merges of a tokenizer.json, taken as they are parsed into
// one arena each (a vocabulary of 262,144 entries never becomes a JSON object, and
// an entry costs its text and 16 bytes).
struct VocabCapture {
  struct Entry {
    uint32_t off, len;
    long long id;
  };
  struct Merge {
    uint32_t off, left, right;  // "left right" at off
  };
  std::string vocab_text, merge_text;
  std::vector<Entry> vocab;
  std::vector<Merge> merges;
  std::string key[4];
  bool object[4] = {};
  size_t kept_values = 0;
  static constexpr size_t kMaxKept = 2000000;  // values outside the vocabulary and merges
  static constexpr size_t kValueBytes = 100;    // a kept value at most (a JSON value, a map node or vector slot, a key)
  // What stays held until the model is built: the values kept, the captured merges.
  size_t held_bytes() const {
    return kept_values * kValueBytes + merges.capacity() * sizeof(Merge) + merge_text.capacity();
  }
  std::string_view token(const Entry& e) const { return std::string_view(vocab_text).substr(e.off, e.len); }
  std::string_view left(const Merge& m) const { return std::string_view(merge_text).substr(m.off, m.left); }
  std::string_view right(const Merge& m) const { return std::string_view(merge_text).substr(m.off + m.left, m.right); }
  bool in_model() const { return object[0] && key[1] == "model" && object[1]; }
  bool in_vocab(int depth) const { return depth == 3 && in_model() && key[2] == "vocab" && object[2]; }
  bool in_merges(int depth) const { return depth == 3 && in_model() && key[2] == "merges" && !object[2]; }
  void add_merge(std::string_view a, std::string_view b) {
    if (merge_text.size() + a.size() + b.size() > UINT32_MAX) throw JsonStop{"model.merges is too large"};
    merges.push_back({(uint32_t)merge_text.size(), (uint32_t)a.size(), (uint32_t)b.size()});
    merge_text.append(a).append(b);
  }
  bool hook(int depth, nlohmann::json::parse_event_t e, nlohmann::json& v) {
    using E = nlohmann::json::parse_event_t;
    if (e == E::key) {
      if (depth < 4) key[depth] = v.get<std::string>();
      if (in_vocab(depth)) return false;  // the entry is taken at its value
    } else if (e == E::object_start || e == E::array_start) {
      if (depth < 4) object[depth] = e == E::object_start;
      if (depth + 1 < 4) key[depth + 1].clear();
    } else if (e == E::value) {
      if (in_vocab(depth)) {
        if (!v.is_number_integer()) throw JsonStop{"model.vocab: the id of \"" + clip(key[3], 60) + "\" is not an integer"};
        if (vocab_text.size() + key[3].size() > UINT32_MAX) throw JsonStop{"model.vocab is too large"};
        vocab.push_back({(uint32_t)vocab_text.size(), (uint32_t)key[3].size(), v.get<long long>()});
        vocab_text += key[3];
        return false;
      }
      if (in_merges(depth)) {
        if (!v.is_string()) throw JsonStop{"model.merges: a merge is neither \"a b\" nor [a, b]"};
        const std::string& m = v.get_ref<const std::string&>();
        const size_t sp = m.find(' ', 1);  // a left symbol may be a space-like glyph, never empty
        if (sp == std::string::npos || sp + 1 >= m.size())
          throw JsonStop{"model.merges: merge " + std::to_string(merges.size()) + " \"" + clip(m, 60) + "\" is not two symbols"};
        add_merge(std::string_view(m).substr(0, sp), std::string_view(m).substr(sp + 1));
        return false;
      }
    } else if (e == E::array_end && in_merges(depth)) {
      if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string())
        throw JsonStop{"model.merges: a merge is neither \"a b\" nor [a, b]"};
      add_merge(v[0].get_ref<const std::string&>(), v[1].get_ref<const std::string&>());
      return false;
    }
    if (e == E::object_end || e == E::array_end) return true;  // counted at their start
    if (++kept_values > kMaxKept)
      throw JsonStop{"it holds more than " + std::to_string(kMaxKept) + " values outside model.vocab and model.merges"};
    return true;
  }
};

}  // namespace

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_tokenizer_json(const std::string& path) {
  const std::string name = "tokenizer " + clip(path);
  auto text = read_regular_file(path, "tokenizer", kMaxTokenizerBytes);
  if (!text) return make_error(text.error());
  // While parsing: the text, the vocabulary and merges as captured (an entry of at
  // least 6 bytes of text costs its text and 16 bytes, a merge its text and 12) and
  // at most kMaxKept other JSON values.
  const size_t kept_max = std::min(VocabCapture::kMaxKept, text->size() / 2 + 1) * VocabCapture::kValueBytes;
  VocabCapture cap;
  auto parsed = parse_json(text.value(), name, kMaxJsonDepth,
                           [&](int d, nlohmann::json::parse_event_t e, nlohmann::json& v) { return cap.hook(d, e, v); },
                           text->size() * 5 + kept_max + 4096);
  if (!parsed) return make_error(parsed.error());
  text = std::string();
  const nlohmann::json& j = parsed.value();
  auto bad = [&](const std::string& why) { return make_error(name + ": " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  const nlohmann::json& model = field(j, "model");
  const std::string mtype = str(model, "type");
  if (!model.is_object() || (mtype != "BPE" && !(mtype.empty() && !cap.merges.empty())))
    return bad("the model is " + (mtype.empty() ? std::string("missing") : "\"" + clip(mtype, 40) + "\", not BPE") +
               " (only BPE tokenizer.json files are read; SentencePiece models come as tokenizer.model)");
  if (cap.vocab.empty()) return bad("model.vocab is missing or empty");
  if (!str(model, "continuing_subword_prefix").empty() || !str(model, "end_of_word_suffix").empty())
    return bad("BPE with a continuing_subword_prefix or end_of_word_suffix is not supported");

  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->source_ = path;
  // Tokens by id (the model's alphabet), then the added tokens.
  long long max_id = -1;
  for (const auto& e : cap.vocab) {
    if (e.id < 0 || e.id >= kMaxTokenId)
      return bad("model.vocab id " + std::to_string(e.id) + " of \"" + clip(cap.token(e), 60) + "\" is out of range");
    max_id = std::max(max_id, e.id);
  }
  // Then: the tokens, the model's tables and its merges, a table as long as the
  // highest added token's id, beside what is held.
  size_t added_ids = 0;
  if (const auto& list = field(j, "added_tokens"); list.is_array())
    for (const auto& a : list)
      if (const auto& id = field(a, "id"); id.is_number_integer() && id.get<long long>() >= 0 && id.get<long long>() < kMaxTokenId)
        added_ids = std::max(added_ids, (size_t)id.get<long long>() + 1);
  if (auto st = check_memory(cap.held_bytes() + cap.vocab.capacity() * sizeof(VocabCapture::Entry) + cap.vocab_text.capacity() +
                                 BpeModel::memory_estimate((size_t)max_id + 1, cap.vocab_text.size(), cap.merges.size(), true) +
                                 added_ids * (sizeof(std::string) + 1),
                             "building " + name);
      !st)
    return make_error(st.error());
  std::vector<std::string> tokens((size_t)max_id + 1);
  for (const auto& e : cap.vocab) tokens[(size_t)e.id] = std::string(cap.token(e));
  cap.vocab = {};
  cap.vocab_text = {};
  std::vector<AddedToken> raw, normalized;
  if (const auto& list = field(j, "added_tokens"); !list.is_null()) {
    if (!list.is_array()) return bad("added_tokens is not a list");
    for (const auto& a : list) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
        return bad("an added_tokens entry is not {id, content, …}");
      AddedToken tok;
      const long long id = a["id"].get<long long>();
      if (id < 0 || id >= kMaxTokenId) return bad("added token id " + std::to_string(id) + " is out of range");
      tok.id = (int)id;
      tok.content = a["content"].get<std::string>();
      tok.special = flag3(a, "special") == 1;
      tok.normalized = flag3(a, "normalized") == -1 ? !tok.special : flag3(a, "normalized") == 1;
      tok.lstrip = flag3(a, "lstrip") == 1;
      tok.rstrip = flag3(a, "rstrip") == 1;
      tok.single_word = flag3(a, "single_word") == 1;
      if ((size_t)tok.id >= t->added_.size()) t->added_.resize((size_t)tok.id + 1), t->special_.resize((size_t)tok.id + 1);
      t->added_[(size_t)tok.id] = tok.content;
      t->special_[(size_t)tok.id] = tok.special;
      (tok.normalized ? normalized : raw).push_back(std::move(tok));
    }
  }
  auto norm = Normalizer::from_json(field(j, "normalizer"));
  if (!norm) return bad(norm.error());
  *t->normalizer_ = norm.take();
  auto pre = PreTokenizer::from_json(field(j, "pre_tokenizer"));
  if (!pre) return bad(pre.error());
  *t->pre_ = pre.take();
  // A normalised added token is matched as the normaliser writes it.
  {
    RegexSession rs(0);
    for (auto& a : normalized) {
      auto n = t->normalizer_->apply(a.content, rs);
      if (n) a.content = n.take();
    }
  }
  t->raw_added_->build(raw);
  t->normalized_added_->build(normalized);

  BpeModel::Options o;
  o.byte_level = t->pre_->byte_level();
  o.byte_fallback = flag3(model, "byte_fallback") == 1;
  o.fuse_unk = flag3(model, "fuse_unk") == 1;
  o.ignore_merges = flag3(model, "ignore_merges") == 1;
  const std::string unk = str(model, "unk_token");
  if (!unk.empty()) {
    o.unk_id = (int)(std::find(tokens.begin(), tokens.end(), unk) - tokens.begin());
    if ((size_t)o.unk_id == tokens.size()) return bad("the unknown token \"" + clip(unk, 60) + "\" is not in the vocabulary");
  }
  // The model without merges first: its table of texts turns the merges into ids.
  auto bpe = BpeModel::create(std::move(tokens), {}, o);
  if (!bpe) return bad(bpe.error());
  {
    std::vector<BpeMerge> merges;
    merges.reserve(cap.merges.size());
    std::string joined;
    const BpeModel& m = *bpe.value();
    for (size_t r = 0; r < cap.merges.size(); ++r) {
      const std::string_view a = cap.left(cap.merges[r]), b = cap.right(cap.merges[r]);
      joined.assign(a).append(b);
      const int ia = m.id_of(a), ib = m.id_of(b), ij = m.id_of(joined);
      if (ia < 0 || ib < 0 || ij < 0)
        return bad("merge " + std::to_string(r) + " \"" + clip(a, 40) + " " + clip(b, 40) + "\": " +
                   (ia < 0 ? "\"" + clip(a, 40) + "\"" : ib < 0 ? "\"" + clip(b, 40) + "\"" : "the merged token") +
                   " is not in the vocabulary");
      merges.push_back({ia, ib, (int)r, ij});
    }
    cap.merges = {};
    cap.merge_text = {};
    if (auto st = bpe.value()->set_merges(merges); !st) return bad(st.error());
  }
  t->bpe_ = bpe.take();
  t->byte_level_ = o.byte_level;
  if (!t->byte_level_) {
    t->space_marker_ = kSpace;
    t->strip_leading_space_ = t->normalizer_->prepends() || t->pre_->metaspace_prepends();
  }
  t->kind_ = std::string(t->byte_level_ ? "byte-level BPE" : "BPE") + " (tokenizer.json)";

  // BOS / EOS: the post-processor's, and tokenizer_config.json's add_bos_token /
  // add_eos_token when it sets them (transformers' Llama and Gemma tokenizers do).
  if (auto st = post_processor(field(j, "post_processor"), t->prefix_, t->suffix_);
      !st)
    return bad(st.error());
  auto id_of_text = [&](const std::string& s) {
    for (size_t i = 0; i < t->added_.size(); ++i)
      if (!s.empty() && t->added_[i] == s) return (int)i;
    return s.empty() ? -1 : t->bpe_->id_of(s);
  };
  nlohmann::json cfg;
  const std::filesystem::path cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(cfg_path, ec)) {
    auto ct = read_regular_file(cfg_path.string(), "tokenizer config", size_t{16} << 20);
    if (!ct) return make_error(ct.error());
    auto cj = parse_json(ct.value(), "tokenizer config " + clip(cfg_path.string()));
    if (!cj) return make_error(cj.error());
    cfg = cj.take();
  }
  const int cfg_bos = id_of_text(token_text(cfg, "bos_token")), cfg_eos = id_of_text(token_text(cfg, "eos_token"));
  t->bos_ = cfg_bos >= 0 ? cfg_bos : !t->prefix_.empty() ? t->prefix_.front() : -1;
  t->eos_ = cfg_eos >= 0 ? cfg_eos : !t->suffix_.empty() ? t->suffix_.back() : -1;
  if (const int add = flag3(cfg, "add_bos_token"); add == 1 && t->bos_ >= 0) t->prefix_.assign({t->bos_});
  else if (add == 0) t->prefix_.clear();
  if (const int add = flag3(cfg, "add_eos_token"); add == 1 && t->eos_ >= 0) t->suffix_.assign({t->eos_});
  else if (add == 0) t->suffix_.clear();
  if (auto st = t->finish(); !st) return bad(st.error());
  return std::shared_ptr<const Tokenizer>(t);
}

// ---- GGUF vocabularies ------------------------------------------------------------

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_vocab(const EmbeddedVocab& v, const std::string& source) {
  if (v.tokens.empty()) return make_error("the embedded vocabulary is empty");
  const size_t n = v.tokens.size();
  std::vector<int> types(v.types);
  types.resize(n, kSpmNormal);
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->source_ = source;
  t->added_.resize(n);
  t->special_.resize(n, false);
  // Control and user-defined tokens are matched in the text as they are written (as
  // Hugging Face tokenizers matches added tokens; llama.cpp's converter writes a
  // user-defined token's "▁" as a space).
  std::vector<AddedToken> added;
  for (size_t i = 0; i < n; ++i)
    if (types[i] == kSpmControl || types[i] == kSpmUserDefined) {
      AddedToken a;
      a.content = v.tokens[i];
      a.id = (int)i;
      a.special = types[i] == kSpmControl;
      added.push_back(a);
      t->added_[i] = v.tokens[i];
      t->special_[i] = a.special;
    }
  t->raw_added_->build(added);
  bool add_bos = false;
  if (v.kind == "gpt2") {  // byte-level BPE (GPT-2, Llama 3, Qwen, gpt-oss, …)
    auto g = gguf_pre(v.pre);
    if (!g) return make_error("the model's byte-level BPE tokenizer: " + g.error());
    auto pre = PreTokenizer::from_gguf_pre(v.pre);
    if (!pre) return make_error(pre.error());
    *t->pre_ = pre.take();
    if (g->nfc) t->normalizer_->add({Normalizer::Step::Kind::NFC});
    if (v.merges.empty()) return make_error("the model's byte-level BPE vocabulary has no merges (tokenizer.ggml.merges)");
    BpeModel::Options o;
    o.byte_level = true;
    o.ignore_merges = g->ignore_merges;
    auto bpe = BpeModel::create(v.tokens, {}, o);
    if (!bpe) return make_error(bpe.error());
    std::vector<BpeMerge> merges;
    merges.reserve(v.merges.size());
    std::string joined;
    for (size_t r = 0; r < v.merges.size(); ++r) {
      const std::string& m = v.merges[r];
      const size_t sp = m.find(' ', 1);  // a left symbol may be a space-like glyph, never empty
      if (sp == std::string::npos || sp + 1 >= m.size())
        return make_error("BPE merge " + std::to_string(r) + " \"" + clip(m, 60) + "\" is not two symbols");
      const std::string_view a = std::string_view(m).substr(0, sp), b = std::string_view(m).substr(sp + 1);
      joined.assign(a).append(b);
      const int ia = bpe.value()->id_of(a), ib = bpe.value()->id_of(b), ij = bpe.value()->id_of(joined);
      if (ia < 0 || ib < 0 || ij < 0) continue;  // llama.cpp skips a merge it cannot form
      merges.push_back({ia, ib, (int)r, ij});
    }
    if (auto st = bpe.value()->set_merges(merges); !st) return make_error(st.error());
    t->bpe_ = bpe.take();
    t->byte_level_ = true;
    t->kind_ = "byte-level BPE (" + v.pre + ")";
    add_bos = v.add_bos >= 0 ? v.add_bos == 1 : g->add_bos;
  } else if (v.kind == "llama") {  // SentencePiece
    if (v.scores.size() != n) return make_error("the embedded vocabulary's scores do not match its tokens");
    auto bpe = spm_bpe_model(v.tokens, v.scores, types, v.unk_id);
    if (!bpe) return make_error(bpe.error());
    t->bpe_ = bpe.take();
    t->sentencepiece_normalizer(v.remove_extra_whitespaces, v.add_space_prefix);
    add_bos = v.add_bos >= 0 ? v.add_bos == 1 : true;
  } else {
    return make_error("the model's tokenizer is tokenizer.ggml.model = \"" + clip(v.kind, 60) +
                      "\", which LongScope cannot read; SentencePiece (\"llama\") and byte-level BPE (\"gpt2\") "
                      "vocabularies are supported");
  }
  t->bos_ = v.bos_id;
  t->eos_ = v.eos_id;
  if (add_bos && v.bos_id >= 0) t->prefix_.push_back(v.bos_id);
  if (v.add_eos == 1 && v.eos_id >= 0) t->suffix_.push_back(v.eos_id);
  if (auto st = t->finish(); !st) return make_error(source + ": " + st.error());
  return std::shared_ptr<const Tokenizer>(t);
}

// ---- SentencePiece .model files ----------------------------------------------------

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_spm_model(const std::string& path, const std::string& bytes) {
  const std::string name = "tokenizer " + clip(path);
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->source_ = path;
  // The library validates the file (and runs what is not BPE).
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status st;
  try {
    st = sp->LoadFromSerializedProto(bytes);
  } catch (const std::exception& e) {  // a few bad files (a zero-length unigram piece) throw
    return make_error(name + " is not a usable SentencePiece model: " + e.what());
  }
  if (!st.ok()) return make_error(name + " is not a SentencePiece model: " + st.ToString());
  auto proto = parse_spm_model(bytes);
  if (!proto) return make_error(name + ": " + proto.error());
  const SpmModelProto& m = proto.value();
  const bool identity = (m.normalizer_name.empty() || m.normalizer_name == "identity") && !m.has_charsmap;
  if (m.model_type != 2 || !identity || m.treat_whitespace_as_suffix || !m.escape_whitespaces) {
    t->sp_ = std::move(sp);
    t->kind_ = "sentencepiece";
    t->space_marker_ = kSpace;
    t->bos_ = t->sp_->bos_id();
    t->eos_ = t->sp_->eos_id();
    if (t->bos_ >= 0) t->prefix_.push_back(t->bos_);
    if (auto fst = t->finish(); !fst) return make_error(name + ": " + fst.error());
    return std::shared_ptr<const Tokenizer>(t);
  }
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int> types;
  for (const auto& p : m.pieces) pieces.push_back(p.text), scores.push_back(p.score), types.push_back(p.type);
  auto bpe = spm_bpe_model(pieces, scores, types, m.unk_id);
  if (!bpe) return make_error(name + ": " + bpe.error());
  t->bpe_ = bpe.take();
  // User-defined pieces are found in the normalised text (sentencepiece's prefix
  // matcher); control pieces are never read from text.
  std::vector<AddedToken> user;
  t->added_.resize(pieces.size());
  t->special_.resize(pieces.size(), false);
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (types[i] == kSpmUserDefined) {
      AddedToken a;
      a.content = pieces[i];
      a.id = (int)i;
      a.normalized = true;
      user.push_back(a);
    }
    t->special_[i] = types[i] == kSpmControl;
  }
  t->normalized_added_->build(user);
  t->sentencepiece_normalizer(m.remove_extra_whitespaces, m.add_dummy_prefix);
  auto in = [&](int id) { return id >= 0 && (size_t)id < pieces.size(); };
  t->bos_ = in(m.bos_id) ? m.bos_id : -1;
  t->eos_ = in(m.eos_id) ? m.eos_id : -1;
  if (t->bos_ >= 0) t->prefix_.push_back(t->bos_);  // LLaMA's convention: BOS before a text
  if (auto fst = t->finish(); !fst) return make_error(name + ": " + fst.error());
  return std::shared_ptr<const Tokenizer>(t);
}

// ---- Files -------------------------------------------------------------------------

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_file(const std::string& path) {
  if (auto st = check_regular_file(path, "tokenizer"); !st) return make_error(st.error());
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json") return from_tokenizer_json(path);
  if (ext == ".gguf") {  // the vocabulary of a GGUF (a vocab-only file, or another model of the family)
    auto v = load_gguf_vocab(path);
    if (!v) return make_error("tokenizer " + v.error());
    return from_vocab(*v.value(), path);
  }
  auto bytes = read_regular_file(path, "tokenizer", kMaxTokenizerBytes);
  if (!bytes) return make_error(bytes.error());
  return from_spm_model(path, bytes.value());
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::for_model(const Model& m, const std::string& explicit_path) {
  namespace fs = std::filesystem;
  Result<std::shared_ptr<const Tokenizer>> r = make_error("");
  if (!explicit_path.empty()) {
    r = from_file(explicit_path);
  } else if (m.vocab) {
    r = from_vocab(*m.vocab);
  } else {
    std::error_code ec;
    fs::path p(m.path);
    fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
    const std::vector<fs::path> tries = {dir / "tokenizer.json", dir / "tokenizer.model",
                                         dir / ("tok" + std::to_string(m.config.vocab_size) + ".model")};
    bool found = false;
    for (const auto& f : tries)
      if (fs::exists(fs::symlink_status(f, ec)) || fs::exists(f, ec)) {
        r = from_file(f.string());
        found = true;
        break;
      }
    if (!found)
      return make_error("no tokenizer found for " + clip(m.path) + " (looked for tokenizer.json, tokenizer.model and tok" +
                        std::to_string(m.config.vocab_size) + ".model beside it; pass --tokenizer FILE)");
  }
  if (!r) return r;
  if (r.value()->vocab_size() > m.config.vocab_size)
    return make_error("tokenizer " + clip(r.value()->source()) + " has " + std::to_string(r.value()->vocab_size()) +
                      " tokens but the model's vocabulary has only " + std::to_string(m.config.vocab_size) +
                      " (wrong tokenizer for this model)");
  return r;
}

// ---- Documents -----------------------------------------------------------------------

bool is_valid_utf8(const std::string& s) { return unicode::is_valid_utf8(s); }

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
  auto r = read_regular_file(path, "document", max_bytes);
  if (!r) return make_error(r.error());
  std::string s = r.take();
  if (s.size() >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb && (unsigned char)s[2] == 0xbf)
    s.erase(0, 3);  // UTF-8 byte-order mark
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) return make_error("document " + clip(path) + " is empty");
  if (!is_valid_utf8(s)) return make_error("document " + clip(path) + " is not valid UTF-8 text");
  return s;
}

Status encode_in_pieces(const Tokenizer& tok, std::string_view text, std::vector<int>& out) {
  auto ids = tok.encode(text);
  if (!ids) return make_error(ids.error());
  if (auto st = check_memory((out.size() + ids->size()) * sizeof(int), "the document's token ids", "use a shorter document");
      !st)
    return st;
  out.insert(out.end(), ids->begin(), ids->end());
  return Status::Ok();
}

Result<std::vector<int>> encode_document(const Tokenizer& tok, const std::string& text) {
  const std::string sep = "<|endoftext|>";
  std::vector<int> out;
  size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    size_t at = text.find(sep, start);
    std::string_view part = std::string_view(text).substr(start, at == std::string::npos ? std::string::npos : at - start);
    size_t a = part.find_first_not_of(" \t\r\n"), b = part.find_last_not_of(" \t\r\n");
    if (a != std::string::npos) {
      if (!tok.prefix().empty()) out.insert(out.end(), tok.prefix().begin(), tok.prefix().end());
      else if (!first && tok.eos_id() >= 0) out.push_back(tok.eos_id());
      first = false;
      if (auto st = encode_in_pieces(tok, part.substr(a, b - a + 1), out); !st) return make_error(st.error());
    }
    if (at == std::string::npos) break;
    start = at + sep.size();
  }
  if (out.empty()) return make_error("the document holds no text");
  return out;
}

}  // namespace ls
