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
#include "core/tokenizer/tokenizer_limits.h"
#include "core/tokenizer/unicode.h"
#include "core/util/files.h"
#include "core/util/json.h"
#include "core/util/memory.h"

namespace ls {

namespace {
using tokenizer_limits::kMaxTokenId;
using tokenizer_limits::kMaxTokenizerBytes;
using tokenizer_limits::kSpace;

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
