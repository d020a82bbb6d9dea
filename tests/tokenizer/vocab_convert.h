// Tokenizer files turned into the other forms a model ships its tokenizer in, for
// tests and the tokenizer bench: the vocabulary llama.cpp's converter writes into a
// GGUF (convert_hf_to_gguf.py, release b4747: get_vocab_base for byte-level BPE,
// _create_vocab_sentencepiece for SentencePiece) and a SentencePiece .model.
#pragma once

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model.h"
#include "tests/files.h"

namespace ls::test {


// The vocabulary llama.cpp's converter writes into a GGUF for a tokenizer.json
// in `dir` (and its tokenizer_config.json), `vocab_size` rows (the model's, padding
// included).
inline EmbeddedVocab gguf_vocab_like_llamacpp(const std::string& dir, const std::string& pre, int vocab_size) {
  const auto j = nlohmann::json::parse(read_all(dir + "/tokenizer.json"));
  const std::string cfg_text = read_all(dir + "/tokenizer_config.json");
  const auto cfg = cfg_text.empty() ? nlohmann::json::object() : nlohmann::json::parse(cfg_text);
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

// A SentencePiece .model holding a vocabulary (pieces, scores, types; BPE; identity
// normaliser; add_dummy_prefix as given), as sentencepiece_model.proto encodes it.
inline std::string spm_model_proto(const EmbeddedVocab& v, bool dummy_prefix) {
  struct W {
    std::string out;
    void varint(uint64_t x) {
      while (x >= 0x80) out += (char)(x | 0x80), x >>= 7;
      out += (char)x;
    }
    void tag(int f, int w) { varint((uint64_t)f << 3 | (uint64_t)w); }
    void bytes(int f, const std::string& s) { tag(f, 2), varint(s.size()), out += s; }
    void u(int f, uint64_t x) { tag(f, 0), varint(x); }
    void f32(int f, float x) {
      tag(f, 5);
      char b[4];
      std::memcpy(b, &x, 4);
      out.append(b, 4);
    }
  } m;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    // One UNKNOWN piece (the unk id); user-defined tokens keep their "▁".
    const int type = (int)i == v.unk_id ? 2 : v.types[i] == 2 ? 5 : v.types[i];
    std::string text = v.tokens[i];
    if (type == 4)
      for (size_t q; (q = text.find(' ')) != std::string::npos;) text.replace(q, 1, "\xe2\x96\x81");
    W p;
    p.bytes(1, text);
    p.f32(2, v.scores[i]);
    p.u(3, (uint64_t)type);
    m.bytes(1, p.out);
  }
  W trainer;
  trainer.u(3, 2);  // BPE
  trainer.u(4, v.tokens.size());
  trainer.u(35, 1);  // byte_fallback
  trainer.u(40, (uint64_t)v.unk_id);
  trainer.u(41, (uint64_t)(v.bos_id < 0 ? 1 : v.bos_id));
  trainer.u(42, (uint64_t)(v.eos_id < 0 ? 2 : v.eos_id));
  m.bytes(2, trainer.out);
  W norm;
  norm.bytes(1, "identity");
  norm.u(3, dummy_prefix ? 1 : 0);
  norm.u(4, 0);
  norm.u(5, 1);
  m.bytes(3, norm.out);
  return m.out;
}

}  // namespace ls::test
