// The real tokenizers of tests/data/tokenizers (cut down to what the corpus reaches;
// tools/tokenizers/make_golden.js), the corpus, the golden ids Hugging Face
// tokenizers gave for it, and the vocabularies llama.cpp's converter would write
// into a GGUF from the same files (convert_hf_to_gguf.py: get_vocab_base for
// byte-level BPE, _create_vocab_sentencepiece for SentencePiece).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model.h"

namespace ls::test {

inline const std::string kTokDir = std::string(LONGSCOPE_TEST_DIR) + "/data/tokenizers/";

inline std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct CorpusCase {
  std::string name, text;
};

// tests/data/tokenizers/corpus.json, long documents made by their rule.
inline std::vector<CorpusCase> corpus() {
  const auto j = nlohmann::json::parse(slurp(kTokDir + "corpus.json"));
  std::vector<CorpusCase> out;
  for (const auto& c : j["cases"]) {
    CorpusCase k{c["name"].get<std::string>(), ""};
    if (c.contains("text")) {
      k.text = c["text"].get<std::string>();
    } else if (c.contains("repeat")) {
      for (int i = 0; i < c["times"].get<int>(); ++i) k.text += c["repeat"].get<std::string>();
    } else {
      const std::string all = slurp(std::string(LONGSCOPE_TEST_DIR) + "/../" + c["file"].get<std::string>());
      const size_t b = c["begin"].get<size_t>(), e = c["end"].get<size_t>();
      std::string t = all.substr(b, e - b);
      if (c.value("crlf", false)) {
        std::string r;
        for (size_t i = 0; i < t.size(); ++i) {
          if (t[i] == '\n' && (i == 0 || t[i - 1] != '\r')) r += '\r';
          r += t[i];
        }
        t = r;
      }
      k.text = t;
    }
    out.push_back(k);
  }
  return out;
}

// FNV-1a 64 over each id as 4 little-endian bytes (as make_golden.js).
inline std::string fnv1a64(const std::vector<int>& ids) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int id : ids)
    for (int k = 0; k < 4; ++k) {
      h ^= (uint64_t)(((uint32_t)id >> (8 * k)) & 0xff);
      h *= 0x100000001b3ull;
    }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

struct Golden {
  nlohmann::json j;
  explicit Golden(const std::string& name) : j(nlohmann::json::parse(slurp(kTokDir + name + "/golden.json"))) {}
  std::vector<int> prefix() const { return j["prefix"].get<std::vector<int>>(); }
  std::vector<int> suffix() const { return j["suffix"].get<std::vector<int>>(); }
  // Empty when `ids` are the golden ids of case `name`; else what differs.
  std::string check(const std::string& name, const std::vector<int>& ids) const {
    const auto& c = j["cases"][name];
    if (c.contains("ids")) {
      const auto want = c["ids"].get<std::vector<int>>();
      if (ids == want) return "";
      size_t i = 0;
      while (i < ids.size() && i < want.size() && ids[i] == want[i]) ++i;
      std::ostringstream o;
      o << "first difference at token " << i << " of " << want.size() << " (got " << ids.size() << "): ";
      for (size_t k = i; k < i + 6 && k < ids.size(); ++k) o << ids[k] << " ";
      o << "/ want ";
      for (size_t k = i; k < i + 6 && k < want.size(); ++k) o << want[k] << " ";
      return o.str();
    }
    const auto head = c["head"].get<std::vector<int>>();
    if ((int)ids.size() == c["count"].get<int>() && fnv1a64(ids) == c["fnv1a64"].get<std::string>() &&
        std::vector<int>(ids.begin(), ids.begin() + std::min(ids.size(), head.size())) == head)
      return "";
    return "long document: " + std::to_string(ids.size()) + " ids (want " + std::to_string(c["count"].get<int>()) +
           "), hash " + fnv1a64(ids) + " (want " + c["fnv1a64"].get<std::string>() + ")";
  }
};

// The vocabulary llama.cpp's converter writes into a GGUF for a tokenizer.json
// (and its tokenizer_config.json), `vocab_size` rows (the model's, padding included).
inline EmbeddedVocab gguf_vocab_like_llamacpp(const std::string& name, const std::string& pre, int vocab_size) {
  const auto j = nlohmann::json::parse(slurp(kTokDir + name + "/tokenizer.json"));
  const auto cfg = nlohmann::json::parse(slurp(kTokDir + name + "/tokenizer_config.json"));
  const auto& model = j["model"];
  EmbeddedVocab v;
  std::map<int, std::string> by_id;
  for (auto& [t, id] : model["vocab"].items()) by_id[id.get<int>()] = t;
  std::map<int, nlohmann::json> added;
  for (const auto& a : j["added_tokens"]) added[a["id"].get<int>()] = a;
  const bool spm = pre.empty();
  v.kind = spm ? "llama" : "gpt2";
  v.pre = pre;
  // SentencePiece scores: the pieces a merge forms, by the rank of the first merge
  // that forms them (tokenizer.json keeps the order of the .model's scores).
  std::map<std::string, int> first_merge;
  std::vector<std::string> merges;
  for (size_t r = 0; r < model["merges"].size(); ++r) {
    const auto& m = model["merges"][r];
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ', 1);
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else {
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    }
    first_merge.emplace(a + b, (int)r);
    merges.push_back(a + " " + b);
  }
  for (int i = 0; i < vocab_size; ++i) {
    std::string t;
    int type = 1;
    float score = 0;
    if (added.count(i)) {
      t = added[i]["content"].get<std::string>();
      const bool special = added[i]["special"].get<bool>();
      type = special ? 3 : 4;
      if (!special)  // user-defined tokens "pre-normalised": ▁ written as a space
        for (size_t p; (p = t.find("\xe2\x96\x81")) != std::string::npos;) t.replace(p, 3, " ");
      score = spm ? -1000.0f : 0.0f;
    } else if (by_id.count(i)) {
      t = by_id[i];
      if (spm) {
        if (t.size() == 6 && t.rfind("<0x", 0) == 0) type = 6;
        auto f = first_merge.find(t);
        score = f != first_merge.end() ? -(float)f->second : (t.size() <= 4 ? 0.0f : -1e9f);
      }
    } else {
      t = "[PAD" + std::to_string(i) + "]";
      type = 5;
      score = -10000.0f;
    }
    v.tokens.push_back(t);
    v.types.push_back(type);
    v.scores.push_back(score);
  }
  if (!spm) v.merges = merges;
  auto id_of = [&](const char* key) {
    if (!cfg.contains(key) || cfg[key].is_null()) return -1;
    const std::string s = cfg[key].is_string() ? cfg[key].get<std::string>() : cfg[key]["content"].get<std::string>();
    for (const auto& [id, a] : added)
      if (a["content"] == s) return id;
    return -1;
  };
  v.bos_id = id_of("bos_token");
  v.eos_id = id_of("eos_token");
  v.unk_id = spm ? std::max(0, id_of("unk_token")) : -1;
  if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) v.add_bos = cfg["add_bos_token"].get<bool>();
  if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) v.add_eos = cfg["add_eos_token"].get<bool>();
  // SentencePiece: the tokenizer.json's Prepend("▁") normaliser is add_dummy_prefix.
  v.add_space_prefix = j["normalizer"].dump().find("Prepend") != std::string::npos;
  return v;
}

}  // namespace ls::test
