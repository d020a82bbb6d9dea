// What the benchmarks share: the median of a set of timings, and the bundled model with
// the token ids of a bundled document.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace ls::bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

struct BundledText {
  std::shared_ptr<const Model> model;  // stories260K
  std::vector<int> tokens;             // tinystories_3.txt through its tokenizer
};

// Exits with a message when a bundled file is missing.
inline BundledText bundled_text() {
  auto model = load_model(LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf");
  auto tok = model ? Tokenizer::for_model(*model.value()) : Result<std::shared_ptr<const Tokenizer>>(make_error("no model"));
  auto text = read_text_file(LONGSCOPE_RESOURCES_DIR "/documents/tinystories_3.txt");
  auto toks = tok && text ? encode_document(*tok.value(), text.value()) : Result<std::vector<int>>(make_error("no text"));
  if (!model || !toks) {
    std::fprintf(stderr, "error: bundled model, tokenizer or document missing\n");
    std::exit(1);
  }
  return {model.value(), toks.take()};
}

}  // namespace ls::bench
