// Writes the seed corpora of the fuzz targets into DIR/<target>/ from the bundled
// files (tokenizers, documents, the bundled model's vocabulary), tiny models of
// every format built like the real ones, the method registry, and the minimised
// bad inputs of tests/data/bad.   usage: fuzz_seeds DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/model/model.h"
#include "core/model/random_model.h"
#include "core/position/spec.h"

namespace fs = std::filesystem;
using namespace ls;

namespace {

std::string slurp(const fs::path& p, size_t max = SIZE_MAX) {
  std::ifstream f(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  return s.substr(0, std::min(max, s.size()));
}

void put(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

RandomModelSpec tiny(Arch arch) {
  RandomModelSpec s;
  s.arch = arch;
  s.dim = 16, s.hidden_dim = 32, s.n_layers = 1, s.n_heads = 2, s.n_kv_heads = arch == Arch::Llama ? 1 : 2;
  s.vocab_size = 512, s.train_len = 64;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path out = argv[1], res = LONGSCOPE_RESOURCES_DIR, bad = LONGSCOPE_TEST_DIR "/data/bad";
  const fs::path tmp = out / "tmp";
  for (const char* t : {"tmp", "gguf", "safetensors", "llama2c", "tokenizer_model", "tokenizer_json", "document",
                        "gguf_vocab", "method_spec"})
    fs::create_directories(out / t);
  auto bundled = load_model((res / "models/stories260K.gguf").string());
  if (!bundled || !bundled.value()->vocab) {
    std::fprintf(stderr, "fuzz_seeds: cannot read the bundled model's vocabulary\n");
    return 1;
  }
  const EmbeddedVocab& vocab = *bundled.value()->vocab;

  // gguf: tiny LLaMA (with the bundled vocabulary, F32 and Q8_0) and BLOOM, and the bad files.
  const RandomModel llama = make_random_model(tiny(Arch::Llama)), bloom = make_random_model(tiny(Arch::Bloom));
  bool ok = write_gguf_model(llama, (out / "gguf/tiny_llama.gguf").string(), DType::F32, &vocab).ok();
  ok &= write_gguf_model(llama, (out / "gguf/tiny_llama_q8.gguf").string(), DType::Q8_0).ok();
  ok &= write_gguf_model(bloom, (out / "gguf/tiny_bloom.gguf").string(), DType::F16).ok();
  // The block types of downloaded files: 32-element blocks on a model 32 wide, a Q4_K_M-like
  // mix (Q4_K, Q6_K classifier) on one 256 wide.
  RandomModelSpec b32 = tiny(Arch::Llama), b256 = tiny(Arch::Llama);
  b32.dim = b32.hidden_dim = 32;
  b256.dim = b256.hidden_dim = 256, b256.vocab_size = 32;
  for (DType t : {DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::MXFP4})
    ok &= write_gguf_blocks(make_random_model(b32), (out / "gguf" / (std::string("tiny_") + dtype_name(t) + ".gguf")).string(), t).ok();
  ok &= write_gguf_blocks(make_random_model(b256), (out / "gguf/tiny_q4_k_m.gguf").string(), DType::Q4_K, DType::Q6_K, 15).ok();
  for (const auto& e : fs::directory_iterator(bad))
    if (e.path().extension() == ".gguf") fs::copy_file(e.path(), out / "gguf" / e.path().filename(), fs::copy_options::overwrite_existing);

  // safetensors: config.json, NUL, model.safetensors.
  for (auto [name, m] : {std::pair{"llama", &llama}, {"bloom", &bloom}}) {
    const fs::path d = tmp / name;
    ok &= write_hf_model(*m, d.string(), "F16").ok();
    put(out / "safetensors" / name, slurp(d / "config.json") + std::string(1, '\0') + slurp(d / "model.safetensors"));
  }
  for (const auto& e : fs::directory_iterator(bad))
    if (fs::is_directory(e.path()))
      put(out / "safetensors" / e.path().filename(), slurp(e.path() / "config.json") + std::string(1, '\0'));

  // llama2c
  ok &= write_llama2c(llama, (out / "llama2c/tiny.bin").string()).ok();
  fs::copy_file(bad / "int_min_vocab.bin", out / "llama2c/int_min_vocab.bin", fs::copy_options::overwrite_existing);

  // tokenizer models: the bundled ones.
  put(out / "tokenizer_model/tok512.model", slurp(res / "models/tok512.model"));
  put(out / "tokenizer_model/twins.model", slurp(res / "models/twins/tokenizer.model"));
  for (const auto& e : fs::directory_iterator(bad))
    if (e.path().extension() == ".model")
      fs::copy_file(e.path(), out / "tokenizer_model" / e.path().filename(), fs::copy_options::overwrite_existing);

  // tokenizer.json: small byte-level BPE files in both pre-tokenizer forms.
  put(out / "tokenizer_json/bytelevel.json",
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120a": 4}, "merges": ["a b", "\u0120 a"]},)"
      R"( "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": true}],)"
      R"( "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}})");
  put(out / "tokenizer_json/split.json",
      R"({"model": {"type": "BPE", "ignore_merges": true, "vocab": {"1": 0, "2": 1, "12": 2}, "merges": [["1", "2"]]},)"
      R"( "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\p{N}{1,3}|\s+|[^\s\p{N}]+"}},)"
      R"( {"type": "ByteLevel", "use_regex": false}]}})");

  // Real tokenizers (trimmed, tests/data/tokenizers): Qwen3's NFC and regex,
  // o200k's regex, Llama 2's Metaspace and byte fallback.
  for (const char* m : {"qwen3", "gpt-4o", "llama2"})
    put(out / "tokenizer_json" / (std::string(m) + ".json"), slurp(fs::path(LONGSCOPE_TEST_DIR) / "data/tokenizers" / m / "tokenizer.json"));
  // The hostile ones in tests/data/bad: nested 5000 levels deep, a backtracking
  // regex, no BOS; and the normaliser and pre-tokenizer forms real files use.
  for (const auto& e : fs::directory_iterator(bad))
    if (e.path().extension() == ".json")
      fs::copy_file(e.path(), out / "tokenizer_json" / e.path().filename(), fs::copy_options::overwrite_existing);
  put(out / "tokenizer_json/forms.json",
      R"({"model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>",)"
      R"( "vocab": {"<unk>": 0, "<0x41>": 1, "\u2581": 2, "a": 3, "1": 4, "\u2581a": 5}, "merges": ["\u2581 a"]},)"
      R"( "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Prepend", "prepend": "\u2581"},)"
      R"( {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}, {"type": "Lowercase"}, {"type": "Strip"}]},)"
      R"( "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true},)"
      R"( {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": true}]},)"
      R"( "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<unk>", "type_id": 0}},)"
      R"( {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<unk>": {"id": "<unk>", "ids": [0], "tokens": ["<unk>"]}}},)"
      R"( "added_tokens": [{"id": 6, "content": "<s>", "special": true, "lstrip": true, "rstrip": true, "single_word": true}]})");

  // documents: heads of the bundled ones, and the story separator.
  for (const auto& e : fs::directory_iterator(res / "documents"))
    if (e.path().extension() == ".txt") put(out / "document" / e.path().filename(), slurp(e.path(), 2048));
  put(out / "document/stories.txt", "One day.\n<|endoftext|>\nThe end.\n<|endoftext|>\n");

  // gguf_vocab: the bundled vocabulary, type byte + piece, NUL-separated.
  std::string v;
  for (size_t i = 0; i < vocab.tokens.size(); ++i) v += std::string(1, (char)('0' + vocab.types[i])) + vocab.tokens[i] + '\0';
  put(out / "gguf_vocab/tok512", v);

  // method specs: every method with defaults, and every parameter given once.
  int k = 0;
  for (const MethodInfo& info : method_registry()) {
    std::string spec = info.name, sep = ":";
    for (const ParamInfo& p : info.params) {
      spec += sep + p.key + "=" + (p.default_value.empty() ? "4" : p.default_value);
      sep = ",";
    }
    put(out / "method_spec" / ("s" + std::to_string(k++)), spec);
  }
  fs::remove_all(tmp);
  if (!ok) std::fprintf(stderr, "fuzz_seeds: a tiny model could not be written\n");
  return ok ? 0 : 1;
}
