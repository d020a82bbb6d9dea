// Hostile tokenizer.json files, written by tests and by the tokenizer bench
// (bench_tokenize --write-hostile DIR): each one made a tokenizer slow, hang or crash
// in an earlier LongScope, and must now load and encode in linear time or give one
// clear error.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ls::test {

// GPT-2's byte alphabet: the text of byte b's symbol.
inline std::string byte_symbol_text(int b) {
  int cp = b;
  if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
    int n = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) s += (char)cp;
  else s += (char)(0xC0 | (cp >> 6)), s += (char)(0x80 | (cp & 0x3F));
  return s;
}

// A byte-level BPE tokenizer.json: the 256 byte symbols (ids 0–255) plus `extra`
// tokens, `merges` ("a b"), `added` tokens, and a pre-tokenizer.
inline nlohmann::json byte_level_tokenizer(const std::vector<std::string>& extra = {},
                                           const std::vector<std::string>& merges = {},
                                           const nlohmann::json& added = nlohmann::json::array(),
                                           const nlohmann::json& pre = nullptr) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol_text(b)] = b;
  for (size_t i = 0; i < extra.size(); ++i) vocab[extra[i]] = 256 + (int)i;
  nlohmann::json t;
  t["version"] = "1.0";
  t["added_tokens"] = added;
  t["normalizer"] = nullptr;
  t["pre_tokenizer"] = pre.is_null() ? nlohmann::json{{"type", "ByteLevel"}, {"add_prefix_space", false},
                                                      {"trim_offsets", true}, {"use_regex", true}}
                                     : pre;
  t["post_processor"] = nullptr;
  t["decoder"] = {{"type", "ByteLevel"}};
  t["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"fuse_unk", false},
                {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}};
  return t;
}

// 65,280 special added tokens <|s00000|> … (ids from 256): each byte of a text was
// compared against every one of them.
inline std::string special_token_text(int i) {
  char b[16];
  std::snprintf(b, sizeof b, "<|s%05d|>", i);
  return b;
}
inline nlohmann::json many_specials_tokenizer(int n = 65280) {
  nlohmann::json added = nlohmann::json::array();
  for (int i = 0; i < n; ++i)
    added.push_back({{"id", 256 + i}, {"content", special_token_text(i)}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  return byte_level_tokenizer({}, {}, added);
}

// A merge chain of `n` ranks: "a a" → aa, "aa a" → aaa, …, one token per length up
// to n + 1 (ids 256 …). A word of a's merges through all of it; quadratic merging
// took 11 s per MB.
inline nlohmann::json merge_chain_tokenizer(int n = 510) {
  std::vector<std::string> extra, merges;
  std::string run = "a";
  for (int k = 0; k < n; ++k) {
    merges.push_back(run + " a");
    run += "a";
    extra.push_back(run);
  }
  return byte_level_tokenizer(extra, merges);
}

// A Split pre-tokenizer (then ByteLevel, as real files chain them) whose regex
// backtracks exponentially in the repeat bound on a run of a's with no b (40–47 s on
// 512 bytes, under PCRE2's default match limit).
inline nlohmann::json backtracking_tokenizer() {
  const nlohmann::json split = {{"type", "Split"}, {"pattern", {{"Regex", "(a|aa){1,40}b"}}}, {"behavior", "Isolated"},
                                {"invert", false}};
  const nlohmann::json bytes = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  return byte_level_tokenizer({}, {}, nlohmann::json::array(),
                              {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array({split, bytes})}});
}

// `levels` nested arrays as the value of model.dropout (or, with in_pre, of the
// pre-tokenizer's trim_offsets): a recursive copy of that subtree overflowed the stack.
inline std::string deeply_nested_tokenizer(int levels = 5000, bool in_pre = false) {
  std::string t = byte_level_tokenizer().dump();
  const std::string key = in_pre ? "\"trim_offsets\":true" : "\"dropout\":null";
  const size_t at = t.find(key);
  const std::string nest = std::string((size_t)levels, '[') + std::string((size_t)levels, ']');
  if (at != std::string::npos) t.replace(at, key.size(), key.substr(0, key.find(':') + 1) + nest);
  return t;
}

}  // namespace ls::test
