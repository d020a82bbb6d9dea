#include "cli/model_inputs.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/backends/backends.h"
#include "core/util/parallel.h"
#include "core/position/spec.h"
#include "core/util/files.h"
#include "core/util/memory.h"

namespace ls::cli {

const std::vector<OptionSpec> kModelOptions = {
    {"model", "M", "model: .gguf, .bin (llama2.c), .safetensors or a folder with config.json (default: bundled stories260K)"},
    {"tokenizer", "T", "tokenizer.json, SentencePiece .model or a .gguf's vocabulary (default: beside the model, or embedded in the GGUF)"},
    {"train-len", "L", "training context length L used by every method (default: the model's)"},
};
const std::vector<OptionSpec> kRunOptions = {
    {"method", "SPEC", "method spec, e.g. yarn:factor=4 (default: the model's native method)"},
    {"threads", "T", "CPU threads (default: all cores)"},
    {"precision", "P", "f32 (default) or f64 (reference runs)"},
    {"kv", "DTYPE", "KV cache storage: same (default: the precision's type), f16 or bf16"},
    {"backend", "B", "cpu (default), cuda (built with a CUDA toolkit, on a machine with a device) or auto"},
};

std::string default_model_path() { return LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf"; }

Result<ModelInputs> load_model_inputs(const Args& a, bool need_tokenizer) {
  ModelInputs in;
  LoadOptions lo;
  auto L = a.get_int("train-len", 0, 1, 1 << 24);
  if (!L) return make_error(L.error());
  lo.train_len_override = (int)L.value();
  auto m = load_model(a.get("model", default_model_path()), lo);
  if (!m) return make_error(m.error());
  in.model = m.value();
  if (need_tokenizer || a.has("tokenizer")) {
    auto t = Tokenizer::for_model(*in.model, a.get("tokenizer"));
    if (!t) return make_error(t.error());
    in.tokenizer = t.value();
  }
  return in;
}

Result<std::vector<int>> load_document_tokens(const Args& a, const ModelInputs& in) {
  if (a.has("text") == a.has("tokens")) return make_error("give exactly one of --text FILE or --tokens FILE");
  if (a.has("text")) {
    auto text = read_text_file(a.get("text"));
    if (!text) return make_error(text.error());
    return encode_document(*in.tokenizer, text.value());
  }
  constexpr size_t kMaxTokenFile = size_t{256} << 20;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(a.get("tokens"), ec);
  if (!ec)
    if (auto st = check_memory((size_t)bytes * 3, "reading token file " + clip(a.get("tokens"))); !st)
      return make_error(st.error());
  auto text = read_regular_file(a.get("tokens"), "token file", kMaxTokenFile);
  if (!text) return make_error(text.error());
  std::string s = text.take();
  for (char& ch : s)
    if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
  std::istringstream is(s);
  std::vector<int> ids;
  std::string word;
  while (is >> word) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(word.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || v < 0 || v >= in.model->config.vocab_size)
      return make_error("token file " + clip(a.get("tokens")) + ": \"" + clip(word, 40) + "\" is not a token id in [0, " +
                        std::to_string(in.model->config.vocab_size) + ")");
    ids.push_back((int)v);
  }
  if (ids.empty()) return make_error("token file " + a.get("tokens") + " holds no token ids");
  return ids;
}

Result<RunConfig> load_run_config(const Args& a, const ModelInputs& in) {
  RunConfig run;
  run.model = in.model;
  if (a.has("method")) {
    auto m = parse_method_spec(a.get("method"));
    if (!m) return make_error(m.error());
    run.engine.method = m.value();
  } else {
    run.engine.method = in.model->config.native_method;
  }
  if (auto st = check_method_for_model(run.engine.method, in.model->config); !st) return make_error(st.error());
  auto t = a.get_int("threads", 0, 0, 1 << 20);
  if (!t) return make_error(t.error());
  if (t.value() > default_threads())
    return make_error("--threads " + std::to_string(t.value()) + ": this machine has " +
                      std::to_string(default_threads()) + " cores; use at most that many (0: all)");
  run.backend.cpu.threads = (int)t.value();
  std::string p = a.get("precision", "f32");
  if (p == "f32") run.precision = DType::F32;
  else if (p == "f64") run.precision = DType::F64;
  else return make_error("--precision: expected f32 or f64, got \"" + p + "\"");
  std::string kv = a.get("kv", "same");
  if (kv == "same") run.engine.kv.reset();
  else if (kv == "f16") run.engine.kv = DType::F16;
  else if (kv == "bf16") run.engine.kv = DType::BF16;
  else return make_error("--kv: expected same, f16 or bf16, got \"" + kv + "\"");
  std::string b = a.get("backend", "cpu");
  if (b != "cpu" && b != "cuda" && b != "auto") return make_error("--backend: expected cpu, cuda or auto, got \"" + b + "\"");
  auto which = resolve_backend(b, run.precision == DType::F64);
  if (!which) return make_error("--backend " + b + ": " + which.error());
  run.backend.kind = b;
  // One command, one cache: every run of the command (sweep cells, methods) shares
  // one backend per request, made on first use.
  static BackendCache backends;
  run.backends = &backends;
  return run;
}

Result<DocumentRun> load_document_run(const Args& a) {
  DocumentRun d;
  auto in = load_model_inputs(a, a.has("text"));
  if (!in) return make_error(in.error());
  d.in = in.take();
  auto toks = load_document_tokens(a, d.in);
  if (!toks) return make_error(toks.error());
  d.tokens = toks.take();
  auto run = load_run_config(a, d.in);
  if (!run) return make_error(run.error());
  d.run = run.take();
  return d;
}

Result<std::vector<int>> parse_int_list(const std::string& what, const std::string& text, int lo, int hi) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
      return make_error(what + ": \"" + item + "\" is not a whole number in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]");
    out.push_back((int)v);
  }
  if (out.empty()) return make_error(what + ": empty list");
  return out;
}

}  // namespace ls::cli
