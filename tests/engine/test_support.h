// Shared by engine/model tests: bundled model paths, temp folders, test tokens.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/backends/backends.h"
#include "core/model/model.h"
#include "core/position/spec.h"
#include "core/model/random_model.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/files.h"

namespace ls::test {

inline std::string bundled_gguf() { return LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf"; }
inline std::string bundled_bin() { return LONGSCOPE_RESOURCES_DIR "/models/stories260K.bin"; }
inline std::string bundled_tokenizer() { return LONGSCOPE_RESOURCES_DIR "/models/tok512.model"; }

inline std::string temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("longscope_test_" + name + "_" + std::to_string(::getpid()));
  // The first use in this process empties a folder an earlier run with the same pid left.
  static std::set<std::string> made;
  if (made.insert(p.string()).second) std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline std::shared_ptr<const Model> load_ok(const std::string& path, int train_len = 0) {
  LoadOptions o;
  o.train_len_override = train_len;
  auto m = load_model(path, o);
  EXPECT_TRUE(m.ok()) << path << ": " << (m.ok() ? "" : m.error());
  return m.ok() ? m.value() : nullptr;
}

// A file that must not load: one error line holding `part`.
inline void expect_load_error(const std::string& path, const std::string& part) {
  auto r = load_model(path);
  ASSERT_FALSE(r.ok()) << path << " loaded";
  EXPECT_NE(r.error().find(part), std::string::npos) << path << ": " << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos) << "one line: " << r.error();
}

// The first n tokens of the TinyStories excerpt (BOS first), tokenised with tok512.
inline std::vector<int> story_tokens(size_t n) {
  auto tok = Tokenizer::from_file(bundled_tokenizer());
  EXPECT_TRUE(tok.ok());
  std::ifstream f(LONGSCOPE_TEST_DIR "/data/tinystories_excerpt.txt");
  std::stringstream ss;
  ss << f.rdbuf();
  auto ids = encode_document(*tok.value(), ss.str());
  EXPECT_TRUE(ids.ok());
  EXPECT_GE(ids->size(), n);
  return std::vector<int>(ids->begin(), ids->begin() + std::min(n, ids->size()));
}

// The logits of the last token under plain RoPE (ALiBi models: ALiBi).
inline std::vector<float> last_logits(std::shared_ptr<const Model> m, const std::vector<int>& toks) {
  EngineOptions o;
  o.method = arch_alibi(m->config.arch) ? parse_method_spec("alibi").value() : MethodParams{};
  auto e = make_engine(m, o, (int)toks.size());
  EXPECT_TRUE(e.ok());
  EXPECT_TRUE((*e)->forward(toks.data(), (int)toks.size()).ok());
  std::vector<float> out;
  EXPECT_TRUE((*e)->logits((int)toks.size() - 1, out).ok());
  return out;
}

inline double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, (double)std::fabs(a[i] - b[i]));
  return a.size() == b.size() && !a.empty() ? d : INFINITY;
}

}  // namespace ls::test
