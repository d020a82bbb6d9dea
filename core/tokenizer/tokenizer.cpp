#include "core/tokenizer/tokenizer.h"

#include "core/tokenizer/bpe.h"

#include <sentencepiece_processor.h>

#include <cctype>
#include <cstring>
#include <exception>
#include <string_view>

#include "core/util/memory.h"
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace ls {
namespace {

// Minimal protobuf encoding of sentencepiece's ModelProto (sentencepiece_model.proto):
// pieces (1: piece, 2: score, 3: type), trainer_spec (3: model_type, 4: vocab_size,
// 35: byte_fallback) and normalizer_spec (1: name, 3: add_dummy_prefix,
// 4: remove_extra_whitespaces, 5: escape_whitespaces). Debian ships no generated
// header for it, and only these fields are needed to rebuild a GGUF vocabulary.
struct ProtoWriter {
  std::string out;
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out += (char)(v | 0x80);
      v >>= 7;
    }
    out += (char)v;
  }
  void tag(int field, int wire) { varint((uint64_t)field << 3 | wire); }
  void bytes(int field, const std::string& s) {
    tag(field, 2);
    varint(s.size());
    out += s;
  }
  void u(int field, uint64_t v) {
    tag(field, 0);
    varint(v);
  }
  void f32(int field, float v) {
    tag(field, 5);
    char b[4];
    std::memcpy(b, &v, 4);
    out.append(b, 4);
  }
};

std::string vocab_model_proto(const EmbeddedVocab& v) {
  ProtoWriter m;
  bool has_bytes = false;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    ProtoWriter p;
    p.bytes(1, v.tokens[i]);
    p.f32(2, v.scores[i]);
    int type = v.types[i] >= 1 && v.types[i] <= 6 ? v.types[i] : 1;
    // SentencePiece wants exactly one UNKNOWN piece: the vocabulary's unk id (Phi-3's
    // GGUF marks <unk> CONTROL and its [PAD…] rows UNKNOWN, as llama.cpp reads them).
    // Other UNKNOWN rows become UNUSED: never produced, ids kept.
    if ((int)i == v.unk_id) type = 2;
    else if (type == 2) type = 5;
    has_bytes |= type == 6;
    p.u(3, (uint64_t)type);
    m.bytes(1, p.out);
  }
  ProtoWriter trainer;
  trainer.u(3, 2);  // BPE: pieces merge by score, as llama's SentencePiece models do
  trainer.u(4, v.tokens.size());
  if (v.unk_id != 0) trainer.u(40, (uint64_t)v.unk_id);  // TrainerSpec.unk_id
  if (has_bytes) trainer.u(35, 1);
  m.bytes(2, trainer.out);
  ProtoWriter norm;
  norm.bytes(1, "identity");
  norm.u(3, 1);
  norm.u(4, 0);
  norm.u(5, 1);
  m.bytes(3, norm.out);
  return m.out;
}

}  // namespace

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_file(const std::string& path) {
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return make_error("tokenizer " + path + " does not exist");
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json") return from_tokenizer_json(path);
  if (ext == ".gguf") {  // the vocabulary of a GGUF (a vocab-only file, or another model of the family)
    auto v = load_gguf_vocab(path);
    if (!v) return make_error("tokenizer " + v.error());
    auto r = from_vocab(*v.value());
    if (!r) return r;
    std::shared_ptr<Tokenizer> made = std::const_pointer_cast<Tokenizer>(r.value());  // made here, not yet shared
    made->source_ = path;
    return std::shared_ptr<const Tokenizer>(made);
  }
  // SentencePiece reports most bad files through its status, but a few (a zero-length
  // piece in a unigram model: its trie builder, darts-clone) throw instead.
  sentencepiece::util::Status st;
  try {
    st = t->sp_->Load(path);
  } catch (const std::exception& e) {
    return make_error("tokenizer " + path + " is not a usable SentencePiece model: " + e.what());
  }
  if (!st.ok()) return make_error("tokenizer " + path + " is not a SentencePiece model: " + st.ToString());
  t->source_ = path;
  return std::shared_ptr<const Tokenizer>(t);
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_vocab(const EmbeddedVocab& v) {
  if (v.tokens.empty()) return make_error("the embedded vocabulary is empty");
  if (v.kind == "gpt2") {  // byte-level BPE (GPT-2, Llama 3, Qwen2, …)
    auto pattern = bpe_pretokenizer(v.pre);
    if (!pattern) return make_error("the model's byte-level BPE tokenizer: " + pattern.error());
    if (v.merges.empty()) return make_error("the model's byte-level BPE vocabulary has no merges (tokenizer.ggml.merges)");
    std::vector<bool> special(v.tokens.size(), false);
    for (size_t i = 0; i < v.types.size() && i < special.size(); ++i) special[i] = v.types[i] == 3 || v.types[i] == 4;
    return bpe_tokenizer(v.tokens, v.merges, special, pattern.value(), bpe_ignores_merges(v.pre), v.bos_id, v.eos_id,
                         "embedded vocabulary", "byte-level BPE (" + v.pre + ")");
  }
  // Only SentencePiece vocabularies rebuild as a SentencePiece model; any other kind
  // would tokenise silently wrong, so it is refused.
  if (v.kind != "llama")
    return make_error("the model's tokenizer is tokenizer.ggml.model = \"" + v.kind +
                      "\", which LongScope cannot read; SentencePiece (\"llama\") and byte-level BPE (\"gpt2\") "
                      "vocabularies are supported");
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  sentencepiece::util::Status st;
  try {
    st = t->sp_->LoadFromSerializedProto(vocab_model_proto(v));
  } catch (const std::exception& e) {
    return make_error(std::string("the embedded vocabulary is not a usable SentencePiece model: ") + e.what());
  }
  if (!st.ok()) return make_error("the embedded vocabulary is not a usable SentencePiece model: " + st.ToString());
  t->source_ = "embedded vocabulary";
  return std::shared_ptr<const Tokenizer>(t);
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::bpe_tokenizer(const std::vector<std::string>& tokens,
                                                                const std::vector<std::string>& merges,
                                                                const std::vector<bool>& special, const std::string& pattern,
                                                                bool ignore_merges, int bos, int eos,
                                                                const std::string& source, const std::string& kind) {
  auto bpe = ByteLevelBpe::create(tokens, merges, special, pattern, ignore_merges);
  if (!bpe) return make_error(source + ": " + bpe.error());
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->bpe_ = bpe.take();
  t->bpe_bos_ = bos;
  t->bpe_eos_ = eos;
  t->source_ = source;
  t->kind_ = kind;
  return std::shared_ptr<const Tokenizer>(t);
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_tokenizer_json(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error("tokenizer " + path + " does not exist");
  if (size > (64u << 20)) return make_error("tokenizer " + path + " is larger than 64 MiB");
  if (auto st = check_memory(size * 8, "reading tokenizer " + path); !st) return make_error(st.error());
  std::ifstream f(path, std::ios::binary);
  auto j = nlohmann::json::parse(f, nullptr, false);
  auto bad = [&](const std::string& why) { return make_error("tokenizer " + path + ": " + why); };
  // Typed reads that never throw: a field of the wrong type reads as absent.
  auto str = [](const nlohmann::json& o, const char* k) {
    return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  auto flag = [](const nlohmann::json& o, const char* k, bool fallback) {
    return o.is_object() && o.contains(k) && o[k].is_boolean() ? o[k].get<bool>() : fallback;
  };
  if (j.is_discarded() || !j.is_object()) return bad("not valid JSON");
  const auto& model = j.contains("model") ? j["model"] : nlohmann::json();
  if (!model.is_object() || str(model, "type") != "BPE")
    return bad("the model is not BPE (only byte-level BPE tokenizer.json files are read; SentencePiece models "
               "come as tokenizer.model)");
  if (!model.contains("vocab") || !model["vocab"].is_object()) return bad("model.vocab is missing");
  std::vector<std::string> tokens;
  std::vector<bool> special;
  auto put = [&](long long id, const std::string& text, bool sp) -> bool {
    if (id < 0 || id >= (1 << 22)) return false;
    if ((size_t)id >= tokens.size()) tokens.resize((size_t)id + 1), special.resize((size_t)id + 1, false);
    tokens[(size_t)id] = text;
    special[(size_t)id] = sp;
    return true;
  };
  for (auto& [text, id] : model["vocab"].items())
    if (!id.is_number_integer() || !put(id.get<long long>(), text, false)) return bad("model.vocab id of \"" + text + "\" is not a token id");
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& t : j["added_tokens"]) {  // matched verbatim in text, as tokenizers does
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string() || !put(t["id"].get<long long>(), t["content"].get<std::string>(), true))
        return bad("an added_tokens entry is not {id, content}");
    }
  std::vector<std::string> merges;
  if (!model.contains("merges") || !model["merges"].is_array()) return bad("model.merges is missing");
  for (const auto& m : model["merges"]) {
    if (m.is_string()) merges.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else return bad("a merge is neither \"a b\" nor [a, b]");
  }
  // The pre-tokenizer: a Split on a regex (Llama 3, Qwen2), or ByteLevel with GPT-2's regex.
  std::string pattern;
  const auto& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nlohmann::json();
  std::vector<nlohmann::json> parts;
  if (str(pre, "type") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array())
    for (const auto& p : pre["pretokenizers"]) parts.push_back(p);
  else if (pre.is_object()) parts.push_back(pre);
  bool byte_level = false;
  for (const auto& p : parts) {
    const std::string type = str(p, "type");
    if (type == "Split" && p.contains("pattern") && p["pattern"].is_object() && p["pattern"].contains("Regex") &&
        p["pattern"]["Regex"].is_string() && pattern.empty()) {
      pattern = p["pattern"]["Regex"].get<std::string>();
    } else if (type == "ByteLevel") {
      byte_level = true;
      if (pattern.empty() && flag(p, "use_regex", true)) pattern = bpe_pretokenizer("gpt-2").value();
    } else {
      return bad("pre-tokenizer \"" + type + "\" is not supported (Split on a regex, then ByteLevel)");
    }
  }
  if (!byte_level || pattern.empty()) return bad("not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer)");
  auto find = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      for (size_t i = 0; i < tokens.size(); ++i)
        if (special[i] && tokens[i] == n) return (int)i;
    return -1;
  };
  const int bos = find({"<|begin_of_text|>", "<s>", "<|endoftext|>"});
  const int eos = find({"<|end_of_text|>", "</s>", "<|endoftext|>"});
  return bpe_tokenizer(tokens, merges, special, pattern, flag(model, "ignore_merges", false), bos, eos, path,
                       "byte-level BPE (tokenizer.json)");
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::for_model(const Model& m, const std::string& explicit_path) {
  namespace fs = std::filesystem;
  Result<std::shared_ptr<const Tokenizer>> r = make_error("");
  if (!explicit_path.empty()) {
    r = from_file(explicit_path);
  } else if (m.vocab) {
    r = from_vocab(*m.vocab);
  } else {
    fs::path p(m.path);
    fs::path dir = fs::is_directory(p) ? p : p.parent_path();
    std::vector<fs::path> tries = {dir / "tokenizer.model", dir / ("tok" + std::to_string(m.config.vocab_size) + ".model"),
                                   dir / "tokenizer.json"};
    for (const auto& t : tries)
      if (fs::exists(t)) {
        r = from_file(t.string());
        break;
      }
    if (!r && r.error().empty())
      return make_error("no tokenizer found for " + m.path + " (looked for " + tries[0].string() + ", " +
                        tries[1].string() + " and " + tries[2].string() + "; pass --tokenizer FILE)");
  }
  if (!r) return r;
  if (r.value()->vocab_size() != m.config.vocab_size)
    return make_error("tokenizer " + r.value()->source() + " has " + std::to_string(r.value()->vocab_size()) +
                      " pieces but the model has a vocabulary of " + std::to_string(m.config.vocab_size) +
                      " (wrong tokenizer for this model)");
  return r;
}

Result<std::vector<int>> Tokenizer::encode(const std::string& text) const {
  if (bpe_) {
    if (!is_valid_utf8(text)) return make_error("tokenizer: the text is not valid UTF-8");
    return bpe_->encode(text);
  }
  std::vector<int> ids;
  auto st = sp_->Encode(text, &ids);
  if (!st.ok()) return make_error("tokenizer: " + st.ToString());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string s;
  if (bpe_) {
    for (int id : ids) s += bpe_->token_bytes(id);
    return s;
  }
  std::vector<int> valid;
  for (int id : ids)
    if (id >= 0 && id < vocab_size()) valid.push_back(id);
  sp_->Decode(valid, &s).IgnoreError();
  return s;
}

std::string Tokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size()) return "";
  if (bpe_) return bpe_->token_bytes(id);  // may be part of a UTF-8 character
  std::string p = sp_->IdToPiece(id);
  // Byte-fallback pieces <0xXX>: ASCII bytes display as themselves (a newline as a newline);
  // bytes of a multi-byte character stay visible as <0xXX>.
  auto hex = [](char ch) { return std::isxdigit((unsigned char)ch) ? (std::isdigit((unsigned char)ch) ? ch - '0' : (std::tolower((unsigned char)ch) - 'a' + 10)) : -1; };
  if (p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>' && hex(p[3]) >= 0 && hex(p[4]) >= 0) {
    const int byte = hex(p[3]) * 16 + hex(p[4]);
    if (byte == '\n' || byte == '\t' || (byte >= 0x20 && byte < 0x7f)) return std::string(1, (char)byte);
  }
  const std::string space = "\xe2\x96\x81";  // U+2581 (SentencePiece's space)
  for (size_t pos; (pos = p.find(space)) != std::string::npos;) p.replace(pos, space.size(), " ");
  return p;
}

int Tokenizer::vocab_size() const { return bpe_ ? bpe_->size() : sp_->GetPieceSize(); }
int Tokenizer::bos_id() const { return bpe_ ? bpe_bos_ : sp_->bos_id(); }
int Tokenizer::eos_id() const { return bpe_ ? bpe_eos_ : sp_->eos_id(); }

bool is_valid_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) return false;
    for (int k = 1; k < len; ++k)
      if (((unsigned char)s[i + k] >> 6) != 2) return false;
    i += len;
  }
  return true;
}

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return make_error("document " + path + " does not exist");
  auto size = std::filesystem::file_size(path, ec);
  if (size > max_bytes)
    return make_error("document " + path + " is " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(max_bytes) + "-byte limit");
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb && (unsigned char)s[2] == 0xbf)
    s.erase(0, 3);  // UTF-8 byte-order mark
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) return make_error("document " + path + " is empty");
  if (!is_valid_utf8(s)) return make_error("document " + path + " is not valid UTF-8 text");
  return s;
}

Status encode_in_pieces(const Tokenizer& tok, std::string_view text, std::vector<int>& out) {
  // SentencePiece never merges across a space (split_by_whitespace), and a piece
  // beginning after a space gets the dummy "▁" prefix the space would have given:
  // cutting at a space keeps the ids of whole-document encoding while bounding the
  // memory of one Encode call. A run of kEncodePieceBytes with no space (no real
  // text has one) is cut at a character boundary instead; each such cut adds one
  // "▁" to the ids, the price of bounded memory on text that is not prose.
  while (!text.empty()) {
    size_t cut = text.size();
    size_t next = cut;
    if (text.size() > kEncodePieceBytes) {
      size_t sp = text.rfind(' ', kEncodePieceBytes);
      if (sp != std::string_view::npos && sp > 0) {
        cut = sp;
        next = sp + 1;
      } else {
        cut = kEncodePieceBytes;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
        if (cut == 0) cut = kEncodePieceBytes;
        next = cut;
      }
    }
    auto ids = tok.encode(std::string(text.substr(0, cut)));
    if (!ids) return make_error(ids.error());
    if (auto st = check_memory((out.size() + ids->size()) * sizeof(int), "the document's token ids",
                               "use a shorter document");
        !st)
      return st;
    out.insert(out.end(), ids->begin(), ids->end());
    text.remove_prefix(next);
  }
  return Status::Ok();
}

Result<std::vector<int>> encode_document(const Tokenizer& tok, const std::string& text) {
  const std::string sep = "<|endoftext|>";
  std::vector<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t at = text.find(sep, start);
    std::string part = text.substr(start, at == std::string::npos ? std::string::npos : at - start);
    size_t a = part.find_first_not_of(" \t\r\n"), b = part.find_last_not_of(" \t\r\n");
    if (a != std::string::npos) {
      out.push_back(tok.bos_id());
      if (auto st = encode_in_pieces(tok, std::string_view(part).substr(a, b - a + 1), out); !st) return make_error(st.error());
    }
    if (at == std::string::npos) break;
    start = at + sep.size();
  }
  if (out.empty()) return make_error("the document holds no text");
  return out;
}

}  // namespace ls
