// longscope-cli commands that run a model: info, ppl, sweep, attention, generate, nbce.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/model_inputs.h"
#include <filesystem>

#include "core/backends/backends.h"
#include "core/model/describe.h"
#include "core/model/random_model.h"
#include "core/model/weight_builder.h"
#include "core/position/spec.h"

namespace ls::cli {
namespace {

using nlohmann::json;

json nan_to_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::vector<OptionSpec> with(std::vector<OptionSpec> a, const std::vector<OptionSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const OptionSpec kJson{"json", "", "print JSON to stdout"};
const OptionSpec kText{"text", "FILE", "UTF-8 document (stories separated by a line <|endoftext|>; each gets the tokenizer's BOS, if it adds one)"};
const OptionSpec kTokens{"tokens", "FILE", "token ids, whitespace- or JSON-array-separated (no BOS added)"};

// LongRoPE / rope_freqs per-pair factor lists, summarised (count, min, max).
int run_info(const Args& a) {
  auto in = load_model_inputs(a, false);
  if (!in) return usage_error("info", in.error());
  json j = model_description(*in->model);
  j["backend"] = "cpu";
  j["cpu_attention_isa"] = cpu_description().attention_isa;
  j["blas"] = cpu_description().blas;
  // The tokenizer this model gets (--tokenizer, the embedded vocabulary, or a file beside it).
  if (auto tok = Tokenizer::for_model(*in->model, a.get("tokenizer"))) {
    j["tokenizer"] = tok.value()->kind();
    j["tokenizer_source"] = tok.value()->source();
  } else {
    j["tokenizer"] = nullptr;
    j["tokenizer_error"] = tok.error();
  }
  if (a.has("json")) print_json(j);
  else std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int run_tokenize(const Args& a) {
  auto in = load_model_inputs(a, true);
  if (!in) return usage_error("tokenize", in.error());
  auto toks = load_document_tokens(a, in.value());
  if (!toks) return usage_error("tokenize", toks.error());
  if (a.has("json")) {
    // Streamed, not built as one JSON value: a document of millions of tokens would
    // otherwise take ~200 bytes of memory per token.
    std::ostream& o = std::cout;
    o << "{\"n_tokens\":" << toks->size() << ",\"ids\":[";
    for (size_t i = 0; i < toks->size(); ++i) o << (i ? "," : "") << (*toks)[i];
    o << "],\"pieces\":[";
    for (size_t i = 0; i < toks->size(); ++i)
      o << (i ? "," : "") << json(in->tokenizer->piece((*toks)[i])).dump(-1, ' ', false, json::error_handler_t::replace);
    o << "]}\n";
  } else {
    std::cout << toks->size() << " tokens\n";
  }
  return kExitOk;
}

int run_make_random(const Args& a) {
  auto shape = random_model_shape(a.get("shape", "bundled"));
  if (!shape) return usage_error("make-random", shape.error());
  auto seed = a.get_int("seed", 1234, 0, 1LL << 62);
  if (!seed) return usage_error("make-random", seed.error());
  shape->seed = (unsigned long long)seed.value();
  const std::string out = a.get("out"), dtype = a.get("dtype", "BF16"), format = a.get("format", "hf");
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16") return usage_error("make-random", "--dtype: F32, F16 or BF16");
  if (format != "hf" && format != "gguf") return usage_error("make-random", "--format: hf or gguf");
  if (a.has("bundled-vocab")) shape->vocab_size = 512;
  std::error_code ec;
  std::filesystem::create_directories(format == "gguf" ? std::filesystem::path(out).parent_path() : std::filesystem::path(out), ec);
  if (ec) return usage_error("make-random", "cannot create " + out + ": " + ec.message());
  const long long params = random_model_params(shape.value());
  const size_t need = (size_t)params * (dtype == "F32" ? 4 : 2) * 2;  // the weights in memory while writing
  if (size_t avail = available_memory_bytes(); avail && need > avail)
    return usage_error("make-random", "writing " + std::to_string(params) + " parameters needs about " +
                                          std::to_string(need >> 20) + " MiB of memory; " + std::to_string(avail >> 20) +
                                          " MiB are available");
  Status st = Status::Ok();
  if (format == "gguf") {
    std::shared_ptr<EmbeddedVocab> vocab;
    if (shape->vocab_size == 512) {  // the bundled model's embedded vocabulary (tok512)
      auto bundled = load_model(default_model_path());
      if (!bundled) return usage_error("make-random", bundled.error());
      vocab = bundled.value()->vocab;
    }
    const DType type = dtype == "F32" ? DType::F32 : dtype == "F16" ? DType::F16 : DType::BF16;
    st = write_gguf_model(make_random_model(shape.value()), out, type, vocab.get());
  } else {
    st = write_hf_model(make_random_model(shape.value()), out, dtype, params > 2'000'000'000LL ? 4 : 1);
  }
  if (!st) return usage_error("make-random", st.error());
  // A tokenizer copy, so the folder is a complete model (the vocabulary size must match to use it).
  const std::string tok = LONGSCOPE_RESOURCES_DIR "/models/tok512.model";
  if (format == "hf" && shape->vocab_size == 512) std::filesystem::copy_file(tok, out + "/tokenizer.model",
                                                           std::filesystem::copy_options::overwrite_existing, ec);
  if (a.has("json")) print_json({{"out", out}, {"shape", a.get("shape", "bundled")}, {"params", params}, {"dtype", dtype}});
  else std::cout << "wrote " << out << " (" << params << " parameters, " << dtype << ")\n";
  return kExitOk;
}

int run_ppl_cmd(const Args& a) {
  auto doc = load_document_run(a);
  if (!doc) return usage_error("ppl", doc.error());
  const ModelInputs* in = &doc->in;
  const std::vector<int>* toks = &doc->tokens;
  const RunConfig* run = &doc->run;
  auto ctx = a.get_int("ctx", in->model->config.train_len, 1, 1 << 22);
  if (!ctx) return usage_error("ppl", ctx.error());
  auto windows = a.get_int("windows", 0, 0, 1 << 20);
  if (!windows) return usage_error("ppl", windows.error());
  auto r = run_ppl(*run, *toks, (int)ctx.value(), (int)windows.value());
  if (!r) return usage_error("ppl", r.error());
  // The backend that ran (auto resolved), said with every result.
  const std::string backend = resolve_backend(run->backend.kind, run->precision == DType::F64).value();
  if (a.has("json")) {
    print_json({{"method", method_spec_string(run->engine.method)},
                {"backend", backend},
                {"ctx", r->ctx},
                {"windows", r->windows},
                {"train_len", in->model->config.train_len},
                {"n_tokens", r->n_tokens},
                {"nll", r->nll},
                {"mean_nll", r->mean_nll},
                {"ppl", r->ppl},
                {"tokens_per_second", r->tokens_per_second},
                {"definition", "consecutive windows of ctx tokens at positions 0..ctx-1, each scoring the next token; "
                               "windows share one token; NLL in nats"}});
  } else {
    std::cout << "method " << method_spec_string(run->engine.method) << ", ctx " << r->ctx << ", " << r->windows
              << " window(s), " << r->n_tokens << " predictions\nmean NLL " << r->mean_nll << " nats, perplexity "
              << r->ppl << ", " << std::setprecision(4) << r->tokens_per_second << " tokens/s (backend " << backend
              << ")\n";
  }
  return kExitOk;
}

int run_sweep_cmd(const Args& a) {
  auto doc = load_document_run(a);
  if (!doc) return usage_error("sweep", doc.error());
  const ModelInputs* in = &doc->in;
  const std::vector<int>* toks = &doc->tokens;
  const RunConfig* run = &doc->run;
  auto methods = parse_method_list(a.get("methods"));
  if (!methods) return usage_error("sweep", methods.error());
  auto lengths = parse_int_list("--lengths", a.get("lengths"), 1, 1 << 22);
  if (!lengths) return usage_error("sweep", lengths.error());
  const int L = in->model->config.train_len;
  int longest = 0;
  for (int n : lengths.value()) longest = std::max(longest, n);
  std::vector<int> edges;
  if (a.has("buckets")) {
    auto e = parse_int_list("--buckets", a.get("buckets"), 0, 1 << 24);
    if (!e) return usage_error("sweep", e.error());
    edges = e.value();
  } else {
    edges = default_bucket_edges(L, longest);
  }
  for (size_t i = 1; i < edges.size(); ++i)
    if (edges[i] <= edges[i - 1]) return usage_error("sweep", "--buckets must increase");
  auto windows = a.get_int("windows", 0, 0, 1 << 20);
  if (!windows) return usage_error("sweep", windows.error());
  auto scored = a.get_int("scored-tokens", 0, 0, 1 << 24);
  if (!scored) return usage_error("sweep", scored.error());
  if (scored.value() > 0 && windows.value() > 0) return usage_error("sweep", "give --windows or --scored-tokens, not both");
  // --scored-tokens T: each length n scores max(1, T/n) windows, as the app's sweeps do.
  PplSource source;
  if (scored.value() > 0)
    source = [toks, t = (int)scored.value()](const RunConfig& cell, int len) {
      return run_ppl(cell, *toks, len, std::max(1, t / len));
    };
  auto r = run_sweep(*run, methods.value(), lengths.value(), edges, *toks, (int)windows.value(), source);
  if (!r) return usage_error("sweep", r.error());
  json cells = json::array();
  for (const auto& c : r->cells) {
    json b = json::array();
    for (double x : c.bucket_nll) b.push_back(nan_to_null(x));
    cells.push_back({{"method", method_spec_string(c.method)}, {"ctx", c.ctx}, {"windows", c.windows}, {"mean_nll", c.mean_nll},
                     {"bucket_nll", b}});
  }
  if (a.has("json")) {
    print_json({{"train_len", L}, {"buckets", r->edges}, {"results", cells}});
    return kExitOk;
  }
  std::cout << "train_len " << L << "; buckets";
  for (size_t i = 0; i + 1 < edges.size(); ++i) std::cout << " [" << edges[i] << "," << edges[i + 1] << ")";
  std::cout << "\n";
  for (const auto& c : r->cells) {
    std::cout << std::left << std::setw(34) << method_spec_string(c.method) << std::right << " ctx " << std::setw(6) << c.ctx << "  mean "
              << std::fixed << std::setprecision(3) << c.mean_nll << "  buckets";
    for (double x : c.bucket_nll) std::cout << " " << (std::isfinite(x) ? std::to_string(x).substr(0, 5) : "  -  ");
    std::cout << "\n";
  }
  return kExitOk;
}

int run_attention_cmd(const Args& a) {
  auto doc = load_document_run(a);
  if (!doc) return usage_error("attention", doc.error());
  const ModelInputs* in = &doc->in;
  const std::vector<int>* toks = &doc->tokens;
  const RunConfig* run = &doc->run;
  auto ctx = a.get_int("ctx", in->model->config.train_len, 1, 1 << 22);
  auto layer = a.get_int("layer", 0, 0, 1 << 20);
  auto head = a.get_int("head", 0, 0, 1 << 20);
  auto pool = a.get_int("pool", 0, 0, 4096);
  for (auto* r : {&ctx, &layer, &head, &pool})
    if (!*r) return usage_error("attention", r->error());
  std::string mode = a.get("pool-mode", "max");
  if (mode != "max" && mode != "mean") return usage_error("attention", "--pool-mode: expected max or mean");
  auto m = run_attention(*run, *toks, (int)ctx.value(), (int)layer.value(), (int)head.value(),
                         (int)pool.value(), mode == "max" ? PoolMode::Max : PoolMode::Mean);
  if (!m) return usage_error("attention", m.error());
  const int side = m->pooled ? m->pooled : m->n;
  json rows = json::array();
  for (int r = 0; r < side; ++r)
    rows.push_back(std::vector<float>(m->probs.begin() + (size_t)r * side, m->probs.begin() + (size_t)(r + 1) * side));
  json heads = json::array();
  for (const auto& hs : m->heads) heads.push_back({{"mean_entropy", hs.mean_entropy}, {"mean_distance", hs.mean_distance}});
  json j = {{"method", method_spec_string(run->engine.method)}, {"layer", m->layer}, {"head", m->head}, {"heads", heads},
            {"n", m->n}, {"pooled", m->pooled ? json(m->pooled) : json(nullptr)}, {"pool_mode", mode},
            {"mean_distance", m->mean_distance}, {"entropy", m->entropy}, {"attention", rows}};
  if (a.has("json")) print_json(j);
  else std::cout << "layer " << m->layer << " head " << m->head << ", n " << m->n << ", mean attention distance "
                 << m->mean_distance << " tokens\n";
  return kExitOk;
}

int run_generate_cmd(const Args& a) {
  auto in = load_model_inputs(a, !a.has("tokens") || !a.has("ids"));
  if (!in) return usage_error("generate", in.error());
  if (a.has("prompt") && a.has("tokens")) return usage_error("generate", "give --prompt TEXT or --tokens FILE, not both");
  std::vector<int> prompt;
  if (a.has("tokens")) {
    Args b = a;
    b.values_.erase("prompt");
    auto t = load_document_tokens(b, in.value());
    if (!t) return usage_error("generate", t.error());
    prompt = t.value();
  } else {
    prompt = in->tokenizer->prefix();
    if (!a.get("prompt").empty()) {
      auto ids = in->tokenizer->encode(a.get("prompt"));
      if (!ids) return usage_error("generate", ids.error());
      prompt.insert(prompt.end(), ids->begin(), ids->end());
    }
  }
  auto run = load_run_config(a, in.value());
  if (!run) return usage_error("generate", run.error());
  auto n = a.get_int("n", 64, 0, 1 << 20);
  auto temp = a.get_double("temp", 0.0, 0.0, 100.0);
  auto top_p = a.get_double("top-p", 1.0, 0.0, 1.0);
  auto seed = a.get_int("seed", 42, 0, 1LL << 62);
  if (!n) return usage_error("generate", n.error());
  if (!temp) return usage_error("generate", temp.error());
  if (!top_p) return usage_error("generate", top_p.error());
  if (!seed) return usage_error("generate", seed.error());
  auto out = run_generate(run.value(), prompt, (int)n.value(),
                          SampleOptions{temp.value(), top_p.value(), (unsigned long long)seed.value()});
  if (!out) return usage_error("generate", out.error());
  std::string text = in->tokenizer ? in->tokenizer->decode(out.value()) : "";
  if (a.has("json")) {
    print_json({{"method", method_spec_string(run->engine.method)}, {"prompt_ids", prompt}, {"ids", out.value()},
                {"text", text}});
  } else if (a.has("ids")) {
    for (size_t i = 0; i < out->size(); ++i) std::cout << (i ? " " : "") << (*out)[i];
    std::cout << "\n";
  } else {
    std::cout << text << "\n";
  }
  return kExitOk;
}

int run_nbce_cmd(const Args& a) {
  auto in = load_model_inputs(a, true);
  if (!in) return usage_error("nbce", in.error());
  auto run = load_run_config(a, in.value());
  if (!run) return usage_error("nbce", run.error());
  auto text = read_text_file(a.get("context"));
  if (!text) return usage_error("nbce", text.error());
  Result<std::vector<int>> ctx_ids = std::vector<int>();
  if (auto st = encode_in_pieces(*in->tokenizer, text.value(), ctx_ids.value()); !st)
    return usage_error("nbce", st.error());
  auto k = a.get_int("chunks", 4, 1, 1024);
  auto n = a.get_int("n", 64, 1, 1 << 16);
  auto beta = a.get_double("beta", 0.25, 0.0, 100.0);
  if (!k) return usage_error("nbce", k.error());
  if (!n) return usage_error("nbce", n.error());
  if (!beta) return usage_error("nbce", beta.error());
  if ((long long)ctx_ids->size() < k.value())
    return usage_error("nbce", "the context has fewer tokens than --chunks");
  auto q = in->tokenizer->encode(a.get("question"));
  if (!q || q->empty()) return usage_error("nbce", "--question is empty");
  std::vector<int> question = in->tokenizer->prefix();
  question.insert(question.end(), q->begin(), q->end());
  const auto chunks = nbce_chunks(ctx_ids.value(), (int)k.value(), in->tokenizer->prefix());
  NbceOptions o;
  o.prefix = in->tokenizer->prefix();
  o.beta = beta.value();
  auto r = run_nbce(run.value(), chunks, question, (int)n.value(), o);
  if (!r) return usage_error("nbce", r.error());
  std::string out = in->tokenizer->decode(r->tokens);
  if (a.has("json")) print_json({{"ids", r->tokens}, {"chosen_chunk", r->chosen_chunk}, {"text", out}});
  else std::cout << out << "\n";
  return kExitOk;
}

}  // namespace

std::vector<CommandEntry> model_commands() {
  return {
      {{"info", "the resolved configuration of a model (L, rope base, layout, native scaling)", with(kModelOptions, {kJson})},
       run_info},
      {{"make-random", "write a seeded random-weight model (safetensors + config.json) of a real shape",
        {{"shape", "S", "bundled (default), tinyllama-1.1b, llama2-7b, tiny-bloom, tiny-qwen2, tiny-phi3, tiny-gemma2, tiny-gemma3, tiny-neox, tiny-stablelm, tiny-phi2, tiny-mpt, tiny-qwen3, tiny-smollm3, qwen3-0.6b, tiny-mixtral, tiny-qwen2moe, tiny-qwen3moe, tiny-olmoe, tiny-gptoss"},
         {"out", "DIR", "output folder", true}, {"seed", "N", "random seed (default 1234)"},
         {"dtype", "T", "BF16 (default), F16 or F32"},
         {"format", "F", "hf (default: config.json + safetensors in folder OUT) or gguf (file OUT)"},
         {"bundled-vocab", "", "use the bundled 512-piece vocabulary (tok512) and embed it (gguf) or copy it (hf)"},
         kJson}},
       run_make_random},
      {{"tokenize", "token ids of a document, as the model's own tokenizer gives them", with(kModelOptions, {kText, kTokens, kJson})},
       run_tokenize},
      {{"ppl", "per-token NLL and perplexity of a document under a method",
        with(with(kModelOptions, kRunOptions),
             {kText, kTokens, {"ctx", "N", "window length (default L)"},
              {"windows", "K", "at most K windows (default: all)"}, kJson})},
       run_ppl_cmd},
      {{"sweep", "mean NLL per method × context length, and by position bucket",
        with(with(kModelOptions, kRunOptions),
             {kText, kTokens, {"methods", "\"A;B\"", "methods to compare", true},
              {"lengths", "N1,N2,..", "context lengths", true},
              {"buckets", "E0,E1,..", "position bucket edges (default 0,L,4L,16L…)"},
              {"windows", "K", "at most K windows per cell (default: all)"},
              {"scored-tokens", "T", "score about T tokens per length: max(1, T/n) windows at length n (as the app)"}, kJson})},
       run_sweep_cmd},
      {{"attention", "attention probabilities of one layer and head (optionally pooled)",
        with(with(kModelOptions, kRunOptions),
             {kText, kTokens, {"ctx", "N", "tokens (default L)"}, {"layer", "l", "layer (0-based)"},
              {"head", "h", "head (0-based)"}, {"pool", "P", "pool to P×P"}, {"pool-mode", "max|mean", "pooling (default max)"},
              kJson})},
       run_attention_cmd},
      {{"generate", "generate text (greedy at temperature 0)",
        with(with(kModelOptions, kRunOptions),
             {{"prompt", "TEXT", "prompt (BOS added)"}, kTokens, {"n", "K", "tokens to generate (default 64)"},
              {"temp", "T", "temperature (default 0: greedy)"}, {"top-p", "P", "nucleus (default 1)"},
              {"seed", "S", "random seed (default 42)"}, {"ids", "", "print token ids"}, kJson})},
       run_generate_cmd},
      {{"nbce", "NBCE decoding: a long context split in chunks, combined per token (docs/methods.md §4)",
        with(with(kModelOptions, kRunOptions),
             {{"context", "FILE", "context document", true}, {"question", "TEXT", "question", true},
              {"chunks", "K", "number of chunks (default 4)"}, {"beta", "B", "β (default 0.25)"},
              {"n", "K", "tokens to generate (default 64)"}, kJson})},
       run_nbce_cmd},
  };
}

}  // namespace ls::cli
