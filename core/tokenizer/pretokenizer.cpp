#include "core/tokenizer/pretokenizer.h"

#include <algorithm>
#include <map>

#include "core/tokenizer/unicode.h"
#include "core/util/files.h"

namespace ls {

namespace {

// The pre-tokenizer regexes of real tokenizers, as their tokenizer.json files
// write them (Hugging Face hub), and those llama.cpp names stand for.
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kGpt2NoTail = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// o200k_base (gpt-4o, gpt-oss).
const char* const kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral's tekken (Mistral NeMo, Pixtral, Ministral).
const char* const kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kFalconPunct = R"([\p{P}\$\+<=>\^~\|`]+)";
const char* const kBloom = R"( ?[^(\s|.,!?…。，、।۔،)]+)";
const char* const kDeepseekV3 =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreFamily {
  std::vector<const char*> names;
  std::vector<const char*> regexes;
  bool ignore_merges, add_bos, nfc = false;
};

const std::vector<PreFamily>& families() {
  static const std::vector<PreFamily> f = {
      {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code",
        "roberta-bpe", "mpt", "olmo", "jais"},
       {kGpt2}, false, false},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3"}, {kLlama3}, true, true},
      {{"dbrx", "smaug-bpe", "chatglm-bpe"}, {kLlama3}, false, false},
      {{"qwen2", "deepseek-r1-qwen"}, {kQwen2}, false, false, true},
      {{"stablelm2", "megrez"}, {kQwen2}, false, false},
      {{"tekken"}, {kTekken}, true, true},
      {{"gpt-4o"}, {kO200k}, true, false},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}, {R"(\p{N})", kGpt2NoTail}, false,
       false},
      {{"falcon"}, {kFalconPunct, kGpt2NoTail, "[0-9][0-9][0-9]"}, false, false},
      {{"bloom", "poro-chat", "gpt3-finnish"}, {kBloom}, false, false},
      {{"viking"}, {kBloom, R"(\p{N})"}, false, false},
      {{"deepseek-coder"}, {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N})"}, false, false},
      {{"deepseek-v3"}, {R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+", kDeepseekV3}, false, false},
  };
  return f;
}

std::string str(const nlohmann::json& o, const char* k, const std::string& fallback = "") {
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : fallback;
}
bool flag(const nlohmann::json& o, const char* k, bool fallback) {
  auto it = o.find(k);
  return it != o.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

Result<PreTokenizer::Behavior> behavior(const std::string& b) {
  using B = PreTokenizer::Behavior;
  if (b == "Removed") return B::Removed;
  if (b == "Isolated") return B::Isolated;
  if (b == "MergedWithPrevious") return B::MergedWithPrevious;
  if (b == "MergedWithNext") return B::MergedWithNext;
  if (b == "Contiguous") return B::Contiguous;
  return make_error("split behaviour \"" + clip(b, 60) + "\" is not one of Removed, Isolated, MergedWithPrevious, "
                    "MergedWithNext, Contiguous");
}

// Spans of a piece (matches and the text between them) turned into pieces by a
// delimiter behaviour, as tokenizers' NormalizedString::split does, one span at a
// time so no list of a long text's spans is ever held.
class SpanSink {
 public:
  SpanSink(PreTokenizer::Behavior b, bool invert, const std::function<Status(size_t, size_t)>& out)
      : b_(b), invert_(invert), out_(out) {}
  Status add(size_t b, size_t e, bool match) {
    using B = PreTokenizer::Behavior;
    if (b == e) return Status::Ok();
    if (invert_) match = !match;
    switch (b_) {
      case B::Isolated: return out_(b, e);
      case B::Removed: return match ? Status::Ok() : out_(b, e);
      case B::MergedWithPrevious:
        // A match joins the piece before it, unless that piece is a match itself.
        if (match && !prev_match_ && has_) {
          pe_ = e;
        } else {
          if (auto st = flush(); !st) return st;
          hold(b, e, match);
        }
        prev_match_ = match;
        return Status::Ok();
      case B::MergedWithNext:
        // A match joins the piece after it, unless that piece is a match itself.
        if (has_) {
          has_ = false;
          if (!match) {
            pe_ = e;
            return out_(pb_, pe_);
          }
          if (auto st = out_(pb_, pe_); !st) return st;
        }
        if (match) return hold(b, e, match), Status::Ok();
        return out_(b, e);
      case B::Contiguous:
        if (has_ && match == pm_) {
          pe_ = e;
          return Status::Ok();
        }
        if (auto st = flush(); !st) return st;
        hold(b, e, match);
        return Status::Ok();
    }
    return Status::Ok();
  }
  Status flush() {
    if (!has_) return Status::Ok();
    has_ = false;
    return out_(pb_, pe_);
  }

 private:
  void hold(size_t b, size_t e, bool m) { has_ = true, pb_ = b, pe_ = e, pm_ = m; }
  PreTokenizer::Behavior b_;
  bool invert_;
  const std::function<Status(size_t, size_t)>& out_;
  bool has_ = false, pm_ = false, prev_match_ = false;
  size_t pb_ = 0, pe_ = 0;
};

}  // namespace

bool is_known_pattern(const std::string& pattern) {
  static const std::vector<std::string> known = [] {
    std::vector<std::string> k = {kGpt2, kLlama3, kQwen2, kO200k, kTekken};
    for (const auto& f : families())
      for (const char* r : f.regexes) k.push_back(r);
    return k;
  }();
  return std::find(known.begin(), known.end(), pattern) != known.end();
}

Result<GgufPre> gguf_pre(const std::string& name) {
  std::string all;
  for (const auto& f : families())
    for (const char* n : f.names) {
      if (name == n)
        return GgufPre{std::vector<std::string>(f.regexes.begin(), f.regexes.end()), f.ignore_merges, f.add_bos, f.nfc};
      all += std::string(all.empty() ? "" : ", ") + n;
    }
  return make_error("byte-level BPE pre-tokenizer \"" + clip(name, 60) + "\" is not known to LongScope (known: " + all + ")");
}

namespace {

Status add_json(std::vector<PreTokenizer::Step>& steps, bool& byte_level, const nlohmann::json& j, int depth) {
  using S = PreTokenizer::Step;
  using K = S::Kind;
  if (!j.is_object()) return make_error("a pre-tokenizer is not an object");
  const std::string type = str(j, "type");
  if (type == "Sequence") {
    auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) return make_error("pre-tokenizer Sequence has no \"pretokenizers\" list");
    if (depth > 8) return make_error("pre-tokenizer Sequences nest too deep");
    for (const auto& c : *it)
      if (auto st = add_json(steps, byte_level, c, depth + 1); !st) return st;
    return Status::Ok();
  }
  S s{K::Split};
  if (type == "Split") {
    auto b = behavior(str(j, "behavior", "Isolated"));
    if (!b) return make_error(b.error());
    s.behavior = b.value();
    s.invert = flag(j, "invert", false);
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object()) return make_error("pre-tokenizer Split has no pattern");
    if (p->contains("Regex") && (*p)["Regex"].is_string()) {
      const std::string re = (*p)["Regex"].get<std::string>();
      auto r = Regex::compile(re, !is_known_pattern(re));
      if (!r) return make_error("pre-tokenizer Split: " + r.error());
      s.regex = r.value();
    } else if (p->contains("String") && (*p)["String"].is_string()) {
      s.literal = (*p)["String"].get<std::string>();
    } else {
      return make_error("pre-tokenizer Split's pattern is neither a String nor a Regex");
    }
  } else if (type == "ByteLevel") {
    s.kind = K::ByteLevel;
    s.add_prefix_space = flag(j, "add_prefix_space", false);  // tokenizers requires the field; absent reads as off
    s.use_regex = flag(j, "use_regex", true);
    if (s.use_regex) s.regex = Regex::compile(kGpt2, false).value();
    byte_level = true;
  } else if (type == "Metaspace") {
    s.kind = K::Metaspace;
    s.replacement = str(j, "replacement", "\xe2\x96\x81");
    if (s.replacement.empty()) return make_error("pre-tokenizer Metaspace has an empty replacement");
    const std::string scheme = str(j, "prepend_scheme", flag(j, "add_prefix_space", true) ? "always" : "never");
    s.prepend = scheme == "first" ? PreTokenizer::Prepend::First : scheme == "never" ? PreTokenizer::Prepend::Never
                                                                                     : PreTokenizer::Prepend::Always;
    s.split = flag(j, "split", true);
  } else if (type == "Digits") {
    s.kind = K::Digits;
    s.individual_digits = flag(j, "individual_digits", false);
  } else if (type == "WhitespaceSplit") {
    s.kind = K::WhitespaceSplit;
  } else if (type == "Whitespace") {
    s.kind = K::Whitespace;
    s.regex = Regex::compile(R"(\w+|[^\w\s]+)", false).value();
  } else if (type == "Punctuation") {
    s.kind = K::Punctuation;
    auto b = behavior(str(j, "behavior", "Isolated"));
    if (!b) return make_error(b.error());
    s.behavior = b.value();
  } else if (type == "BertPreTokenizer") {
    steps.push_back(S{K::WhitespaceSplit});
    s.kind = K::Punctuation;
    s.behavior = PreTokenizer::Behavior::Isolated;
  } else {
    return make_error("pre-tokenizer \"" + clip(type, 60) +
                      "\" is not supported (supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, "
                      "WhitespaceSplit, Punctuation, BertPreTokenizer)");
  }
  steps.push_back(std::move(s));
  return Status::Ok();
}

}  // namespace

Result<PreTokenizer> PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (j.is_null()) return p;
  if (auto st = add_json(p.steps_, p.byte_level_, j, 0); !st) return make_error(st.error());
  return p;
}

Result<PreTokenizer> PreTokenizer::from_gguf_pre(const std::string& pre) {
  auto g = gguf_pre(pre);
  if (!g) return make_error(g.error());
  PreTokenizer p;
  for (const auto& re : g->regexes) {
    auto r = Regex::compile(re, false);
    if (!r) return make_error(r.error());
    Step s{Step::Kind::Split};
    s.regex = r.value();
    p.steps_.push_back(std::move(s));
  }
  Step b{Step::Kind::ByteLevel};
  b.add_prefix_space = false;
  b.use_regex = false;
  p.steps_.push_back(b);
  p.byte_level_ = true;
  return p;
}

bool PreTokenizer::metaspace_prepends() const {
  for (const auto& s : steps_)
    if (s.kind == Step::Kind::Metaspace && s.prepend != Prepend::Never) return true;
  return false;
}

Status PreTokenizer::run(std::string_view text, bool at_start, RegexSession& rs, const Emit& emit) const {
  return run_from(0, text, at_start, rs, emit);
}

Status PreTokenizer::run_from(size_t i, std::string_view text, bool at_start, RegexSession& rs, const Emit& emit) const {
  if (text.empty()) return Status::Ok();
  if (i == steps_.size()) return emit(text);
  const Step& s = steps_[i];
  using K = Step::Kind;
  auto next = [&](std::string_view piece, bool start) { return run_from(i + 1, piece, start, rs, emit); };
  // Pieces cut from `src` by `behaviour`, given spans (match or not) of it in order.
  auto split = [&](std::string_view src, Behavior b, bool invert, bool start, auto&& each_span) -> Status {
    const std::function<Status(size_t, size_t)> out = [&](size_t pb, size_t pe) {
      return next(src.substr(pb, pe - pb), start && pb == 0);
    };
    SpanSink sink(b, invert, out);
    if (auto st = each_span([&](size_t sb, size_t se, bool m) { return sink.add(sb, se, m); }); !st) return st;
    return sink.flush();
  };
  // Spans of each match of the step's regex and of the text between; an empty match
  // is skipped and the search goes on one character later (as tokenizers does).
  auto regex_spans = [&](std::string_view src) {
    return [&, src](auto&& add) -> Status {
      auto& m = rs.matcher(*s.regex);
      size_t pos = 0, search = 0, b = 0, e = 0;
      while (search < src.size()) {
        auto found = m.find(src, search, b, e);
        if (!found) return make_error(found.error());
        if (!found.value()) break;
        if (e == b) {
          if (b >= src.size()) break;
          search = b + unicode::seq_len((unsigned char)src[b]);
          continue;
        }
        if (b > pos)
          if (auto st = add(pos, b, false); !st) return st;
        if (auto st = add(b, e, true); !st) return st;
        pos = search = e;
      }
      if (pos < src.size()) return add(pos, src.size(), false);
      return Status::Ok();
    };
  };
  auto literal_spans = [&](std::string_view src, std::string_view pat) {
    return [&, src, pat](auto&& add) -> Status {
      size_t pos = 0;
      if (!pat.empty())
        for (size_t f; (f = src.find(pat, pos)) != std::string_view::npos; pos = f + pat.size()) {
          if (f > pos)
            if (auto st = add(pos, f, false); !st) return st;
          if (auto st = add(f, f + pat.size(), true); !st) return st;
        }
      if (pos < src.size()) return add(pos, src.size(), false);
      return Status::Ok();
    };
  };
  // Each character for which `pred` holds is a match of its own.
  auto char_spans = [&](std::string_view src, bool (*pred)(uint32_t)) {
    return [src, pred](auto&& add) -> Status {
      size_t run = 0;
      for (size_t k = 0; k < src.size();) {
        const size_t at = k;
        const uint32_t cp = unicode::next(src, k);
        if (!pred(cp)) continue;
        if (at > run)
          if (auto st = add(run, at, false); !st) return st;
        if (auto st = add(at, k, true); !st) return st;
        run = k;
      }
      if (run < src.size()) return add(run, src.size(), false);
      return Status::Ok();
    };
  };
  switch (s.kind) {
    case K::Split:
      if (s.regex) return split(text, s.behavior, s.invert, at_start, regex_spans(text));
      return split(text, s.behavior, s.invert, at_start, literal_spans(text, s.literal));
    case K::ByteLevel: {
      std::string with_space;
      std::string_view src = text;
      if (s.add_prefix_space && text[0] != ' ') {
        with_space = " " + std::string(text);
        src = with_space;
      }
      if (!s.use_regex) return next(src, at_start);
      return split(src, Behavior::Isolated, false, at_start, regex_spans(src));
    }
    case K::Metaspace: {
      std::string r;
      r.reserve(text.size() + 3);
      for (char c : text)
        if (c == ' ') r += s.replacement;
        else r += c;
      if (r.compare(0, s.replacement.size(), s.replacement) != 0 &&
          (s.prepend == Prepend::Always || (s.prepend == Prepend::First && at_start)))
        r.insert(0, s.replacement);
      if (!s.split) return next(r, at_start);
      return split(r, Behavior::MergedWithNext, false, at_start, literal_spans(r, s.replacement));
    }
    case K::Digits:
      return split(text, s.individual_digits ? Behavior::Isolated : Behavior::Contiguous, false, at_start,
                   char_spans(text, unicode::is_numeric));
    case K::WhitespaceSplit:
      return split(text, Behavior::Removed, false, at_start, char_spans(text, unicode::is_whitespace));
    case K::Whitespace:
      return split(text, Behavior::Removed, true, at_start, regex_spans(text));
    case K::Punctuation:
      return split(text, s.behavior, false, at_start, char_spans(text, unicode::is_punctuation));
  }
  return Status::Ok();
}

}  // namespace ls
