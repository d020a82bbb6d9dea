// Tokenizer speed: LongScope's tokenizer on a text, seconds per encode (the file
// loaded once, outside the timing). bench/bench_tokenizers.py runs it beside the
// reference implementations, interleaved.
//
//   bench_tokenize --tokenizer FILE --text FILE [--bytes N] [--reps N] [--json]
//   bench_tokenize --spm-library FILE.model --text FILE …   (the sentencepiece library on a .model)
//   bench_tokenize --write-spm-model OUT.model --from DIR     (a SentencePiece BPE .model from the
//                  tokenizer.json in DIR, scores from its merge order: Llama 2's, Gemma's)
//   bench_tokenize --write-hostile DIR   (the hostile tokenizers of tests/tokenizer/hostile_tokenizers.h,
//                  NAME.json with a 1 MB NAME.txt each: specials, chain, backtracking)
//
// Prints one JSON line per repetition: {"seconds": s, "ids": n, "fnv1a64": "…"}, or
// {"seconds": s, "error": "…"} (exit 3) when the encode ends in an error; a load
// is timed as {"load_seconds": s}.
#include <CLI/CLI.hpp>
#include <sentencepiece_processor.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "tests/tokenizer/hostile_tokenizers.h"
#include "tests/tokenizer/vocab_convert.h"

namespace {

std::string fnv1a64(const std::vector<int>& ids) {
  unsigned long long h = 0xcbf29ce484222325ull;
  for (int id : ids)
    for (int k = 0; k < 4; ++k) h = (h ^ (((unsigned)id >> (8 * k)) & 0xffu)) * 0x100000001b3ull;
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", h);
  return b;
}

// The hostile tokenizers and a text of `bytes` bytes that makes each one work hardest.
int write_hostile(const std::string& dir, size_t bytes) {
  auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::binary) << text;
    return true;
  };
  std::string specials, chain, backtracking;
  for (int i = 0; specials.size() < bytes; ++i)  // prose, whole special tokens, near misses
    specials += "The cat <|s" + std::to_string(i % 10) + " sat " + ls::test::special_token_text(i * 7919 % 65280) + " on <| the mat. ";
  for (int len = 1; chain.size() < bytes; len = len % 600 + 1) chain += std::string((size_t)len, 'a') + " ";
  while (backtracking.size() < bytes) backtracking += std::string(4000, 'a') + "\n";
  put("specials.json", ls::test::many_specials_tokenizer().dump()) && put("specials.txt", specials.substr(0, bytes));
  put("chain.json", ls::test::merge_chain_tokenizer().dump()) && put("chain.txt", chain.substr(0, bytes));
  put("backtracking.json", ls::test::backtracking_tokenizer().dump()) && put("backtracking.txt", backtracking.substr(0, bytes));
  return 0;
}

int usage() {
  std::fprintf(stderr, "usage: bench_tokenize (--tokenizer FILE | --spm-library FILE.model) --text FILE [--bytes N] [--reps N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer, library, text_path, write_model, from, hostile;
  size_t bytes = 1000000;
  int reps = 1;
  CLI::App app{"Tokenizer speed: LongScope's tokenizer (or the sentencepiece library) on a text"};
  app.add_option("--tokenizer", tokenizer, "tokenizer.json, .model or .gguf");
  app.add_option("--spm-library", library, "a .model, run by the sentencepiece library");
  app.add_option("--text", text_path, "the text");
  app.add_option("--bytes", bytes, "bytes of the text to encode")->check(CLI::Range(size_t{1}, size_t{1} << 32));
  app.add_option("--reps", reps, "encodes")->check(CLI::Range(1, 1000));
  app.add_option("--write-spm-model", write_model, "write a SentencePiece BPE .model (with --from DIR)");
  app.add_option("--from", from, "the folder of the tokenizer.json to convert");
  app.add_option("--write-hostile", hostile, "write the hostile tokenizers and their texts into this folder");
  CLI11_PARSE(app, argc, argv);
  if (!write_model.empty() && !from.empty()) {
    const auto j = nlohmann::json::parse(ls::test::read_all(from + "/tokenizer.json"));
    int n = 0;
    for (auto& [t, id] : j["model"]["vocab"].items()) n = std::max(n, id.get<int>() + 1);
    for (const auto& a : j["added_tokens"]) n = std::max(n, a["id"].get<int>() + 1);
    const auto v = ls::test::gguf_vocab_like_llamacpp(from, "", n);
    std::ofstream(write_model, std::ios::binary) << ls::test::spm_model_proto(v, v.add_space_prefix);
    return 0;
  }
  if (!hostile.empty()) return write_hostile(hostile, bytes);
  if ((tokenizer.empty() == library.empty()) || text_path.empty() || reps < 1) return usage();
  std::ifstream f(text_path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str().substr(0, bytes);
  while (!text.empty() && ((unsigned char)text.back() & 0xC0) == 0x80) text.pop_back();  // whole characters
  if (!text.empty() && ((unsigned char)text.back() & 0xC0) == 0xC0) text.pop_back();
  using clock = std::chrono::steady_clock;
  if (!library.empty()) {
    sentencepiece::SentencePieceProcessor sp;
    if (!sp.Load(library).ok()) return std::fprintf(stderr, "cannot load %s\n", library.c_str()), 1;
    for (int r = 0; r < reps; ++r) {
      std::vector<int> ids;
      const auto t0 = clock::now();
      if (!sp.Encode(text, &ids).ok()) return 1;
      const double s = std::chrono::duration<double>(clock::now() - t0).count();
      std::printf("{\"seconds\": %.6f, \"ids\": %zu, \"fnv1a64\": \"%s\", \"bytes\": %zu}\n", s, ids.size(), fnv1a64(ids).c_str(), text.size());
    }
    return 0;
  }
  const auto l0 = clock::now();
  auto tok = ls::Tokenizer::from_file(tokenizer);
  if (!tok) return std::fprintf(stderr, "%s\n", tok.error().c_str()), 1;
  std::printf("{\"load_seconds\": %.6f}\n", std::chrono::duration<double>(clock::now() - l0).count());
  for (int r = 0; r < reps; ++r) {
    const auto t0 = clock::now();
    auto ids = tok.value()->encode(text);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (!ids) {
      std::printf("{\"seconds\": %.6f, \"error\": %s, \"bytes\": %zu}\n", s, nlohmann::json(ids.error()).dump().c_str(), text.size());
      return 3;
    }
    std::printf("{\"seconds\": %.6f, \"ids\": %zu, \"fnv1a64\": \"%s\", \"bytes\": %zu}\n", s, ids->size(),
                fnv1a64(ids.value()).c_str(), text.size());
  }
  return 0;
}
