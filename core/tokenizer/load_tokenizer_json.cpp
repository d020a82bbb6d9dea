// Tokenizer::from_tokenizer_json: a Hugging Face tokenizer.json (model, added tokens,
// normaliser, pre-tokenizer, post-processor) read into the one BPE pipeline.
#include <algorithm>
#include <cstring>
#include <exception>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/normalizer.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_limits.h"
#include "core/tokenizer/unicode.h"
#include "core/util/files.h"
#include "core/util/json.h"
#include "core/util/memory.h"

namespace ls {

using tokenizer_limits::kMaxTokenId;
using tokenizer_limits::kMaxTokenizerBytes;
using tokenizer_limits::kSpace;

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

}  // namespace ls
