// The real tokenizers of tests/data/tokenizers (cut down to what the corpus reaches;
// tools/tokenizers/make_golden.js), the corpus, and the golden ids Hugging Face
// tokenizers gave for it.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model.h"
#include "tests/tokenizer/vocab_convert.h"

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

}  // namespace ls::test
