// longscope-cli retrieval commands: passkey, needle, longeval (docs/methods.md §5).
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/model_inputs.h"
#include "core/analysis/retrieval.h"
#include "core/position/spec.h"

namespace ls::cli {
namespace {

using nlohmann::json;

const OptionSpec kJsonOpt{"json", "", "print JSON to stdout"};

std::vector<OptionSpec> retrieval_options(std::vector<OptionSpec> extra) {
  std::vector<OptionSpec> o = kModelOptions;
  o.insert(o.end(), kRunOptions.begin(), kRunOptions.end());
  o.insert(o.end(), {{"methods", "\"A;B\"", "methods to compare (default: --method, or the model's native one)"},
                     {"lengths", "N1,N2,..", "prompt lengths in tokens (default L,2L,4L)"},
                     {"trials", "K", "trials per cell (default 3)"},
                     {"seed", "S", "seed of the keys (default 1234; every method sees the same prompts)"},
                     {"nbce", "K1,K2,..", "add NBCE rows with these chunk counts (run with --method)"}});
  o.insert(o.end(), extra.begin(), extra.end());
  o.push_back(kJsonOpt);
  return o;
}

Result<std::vector<double>> parse_depths(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v >= 0 && v <= 1))
      return make_error("--depths: \"" + item + "\" is not a number in [0, 1]");
    out.push_back(v);
  }
  if (out.empty()) return make_error("--depths: empty list");
  return out;
}

std::string default_longeval_path(RetrievalTask t) {
  return std::string(LONGSCOPE_RESOURCES_DIR) + "/documents/longeval/" +
         (t == RetrievalTask::LongEvalTopics ? "1_topics.jsonl" : "200_lines.jsonl");
}

json grid_json(const RetrievalGrid& g, const ModelConfig& c) {
  json cells = json::array();
  for (const auto& cell : g.cells) {
    json trials = json::array();
    for (const auto& t : cell.trials) {
      json tj = {{"key", t.key}, {"found", t.found},
                 {"logprob", std::isfinite(t.logprob) ? json(t.logprob) : json(nullptr)}};
      if (!t.output.empty()) tj["output"] = t.output;
      trials.push_back(tj);
    }
    const double mlp = cell.mean_logprob();
    cells.push_back({{"method", cell.method}, {"length", cell.length}, {"depth", cell.depth}, {"found", cell.found},
                     {"trials", cell.trials.size()}, {"accuracy", cell.accuracy()},
                     {"mean_logprob", std::isfinite(mlp) ? json(mlp) : json(nullptr)}, {"results", trials}});
  }
  return {{"task", task_name(g.task)}, {"train_len", c.train_len}, {"methods", g.methods},
          {"lengths", g.lengths}, {"depths", g.depths}, {"cells", cells}};
}

void print_grid(const RetrievalGrid& g, const ModelConfig& c) {
  std::cout << task_name(g.task) << " accuracy (found / trials); train_len " << c.train_len << "\n";
  for (size_t m = 0; m < g.methods.size(); ++m) {
    std::cout << g.methods[m] << "\n  length \\ depth";
    for (double d : g.depths) std::cout << std::setw(8) << std::fixed << std::setprecision(2) << d;
    std::cout << "   mean log p(key)\n";
    for (size_t l = 0; l < g.lengths.size(); ++l) {
      std::cout << "  " << std::setw(14) << (g.lengths[l] > 0 ? std::to_string(g.lengths[l]) : "as given");
      double lp = 0;
      int n = 0;
      for (size_t d = 0; d < g.depths.size(); ++d) {
        const RetrievalCell* cell = g.cell(m, l, d);
        std::cout << std::setw(8) << (std::to_string(cell->found) + "/" + std::to_string(cell->trials.size()));
        if (std::isfinite(cell->mean_logprob())) lp += cell->mean_logprob(), ++n;
      }
      if (n) std::cout << "   " << std::setprecision(3) << lp / n;
      std::cout << "\n";
    }
  }
}

// The shared part of the three commands: model, tokenizer, run, methods, lengths, trials.
struct RetrievalSetup {
  ModelInputs in;
  RunConfig run;
  std::vector<MethodParams> methods;
  RetrievalOptions opts;
};

Result<RetrievalSetup> load_setup(const Args& a, RetrievalTask task) {
  RetrievalSetup s;
  auto in = load_model_inputs(a, true);
  if (!in) return make_error(in.error());
  s.in = in.take();
  auto run = load_run_config(a, s.in);
  if (!run) return make_error(run.error());
  s.run = run.take();
  s.opts.task = task;
  if (a.has("methods")) {
    auto m = parse_method_list(a.get("methods"));
    if (!m) return make_error(m.error());
    s.methods = m.take();
  } else if (!a.has("nbce")) {
    s.methods = {s.run.engine.method};
  }
  const int L = s.in.model->config.train_len;
  if (a.has("lengths")) {
    auto l = parse_int_list("--lengths", a.get("lengths"), 1, 1 << 22);
    if (!l) return make_error(l.error());
    s.opts.lengths = l.take();
  } else {
    s.opts.lengths = {L, 2 * L, 4 * L};
  }
  auto d = parse_depths(a.get("depths", "0,0.25,0.5,0.75,1"));
  if (!d) return make_error(d.error());
  s.opts.depths = d.take();
  auto trials = a.get_int("trials", 3, 1, 1000);
  if (!trials) return make_error(trials.error());
  s.opts.seeds = (int)trials.value();
  auto seed = a.get_int("seed", 1234, 0, 1LL << 62);
  if (!seed) return make_error(seed.error());
  s.opts.seed = (unsigned long long)seed.value();
  if (a.has("nbce")) {
    auto k = parse_int_list("--nbce", a.get("nbce"), 1, 64);
    if (!k) return make_error(k.error());
    s.opts.nbce_chunks = k.take();
  }
  return s;
}

int report(const Args& a, const std::string& cmd, RetrievalSetup& s) {
  auto g = run_retrieval(s.run, *s.in.tokenizer, s.methods, s.opts);
  if (!g) return usage_error(cmd, g.error());
  if (a.has("json")) print_json(grid_json(*g, s.in.model->config));
  else print_grid(*g, s.in.model->config);
  return kExitOk;
}

int run_passkey_cmd(const Args& a) {
  auto s = load_setup(a, RetrievalTask::Passkey);
  if (!s) return usage_error("passkey", s.error());
  return report(a, "passkey", *s);
}

int run_needle_cmd(const Args& a) {
  auto s = load_setup(a, RetrievalTask::Needle);
  if (!s) return usage_error("needle", s.error());
  auto doc = load_document_tokens(a, s->in);
  if (!doc) return usage_error("needle", doc.error());
  s->opts.filler_doc = doc.take();
  NeedleText& t = s->opts.text;
  t.intro = a.get("intro", "");
  if (a.has("needle")) t.needle = a.get("needle");
  if (a.has("question")) t.question = a.get("question");
  if (a.has("answer")) t.answer = a.get("answer");
  if (a.has("needle") && t.needle.find("{key}") == std::string::npos && !a.has("answer"))
    return usage_error("needle", "a --needle without {key} needs its --answer");
  return report(a, "needle", *s);
}

int run_longeval_cmd(const Args& a) {
  const std::string task_s = a.get("task", "lines");
  RetrievalTask task;
  if (task_s == "lines") task = RetrievalTask::LongEvalLines;
  else if (task_s == "topics") task = RetrievalTask::LongEvalTopics;
  else return usage_error("longeval", "--task: expected lines or topics, got \"" + task_s + "\"");
  auto s = load_setup(a, task);
  if (!s) return usage_error("longeval", s.error());
  auto cases = read_longeval(a.get("cases", default_longeval_path(task)), task);
  if (!cases) return usage_error("longeval", cases.error());
  s->opts.cases = cases.take();
  s->opts.depths = {0.5};  // the case fixes where the asked line sits
  if (a.has("as-is") || task == RetrievalTask::LongEvalTopics) s->opts.lengths = {0};
  return report(a, "longeval", *s);
}

}  // namespace

std::vector<CommandEntry> retrieval_commands() {
  const OptionSpec depths{"depths", "D1,D2,..", "needle depths in [0, 1] (default 0,0.25,0.5,0.75,1)"};
  return {
      {{"passkey", "passkey retrieval accuracy over a depth × length grid, per method (docs/methods.md §5)",
        retrieval_options({depths})},
       run_passkey_cmd},
      {{"needle", "needle in a haystack: a sentence hidden at depth d of your document, per method",
        retrieval_options({depths,
                           {"text", "FILE", "the haystack document", true},
                           {"needle", "TEXT", "the sentence to hide; {key} is replaced by a random key (default: the passkey sentence)"},
                           {"question", "TEXT", "asked after the document (default: the passkey question)"},
                           {"answer", "TEXT", "the expected answer, teacher-forced (default {key})"},
                           {"intro", "TEXT", "text before the document (default none)"}})},
       run_needle_cmd},
      {{"longeval", "LongEval (LongChat) lines / topics accuracy, per method",
        retrieval_options({{"task", "lines|topics", "which test (default lines)"},
                           {"cases", "FILE", "LongChat test cases (default: the bundled 200_lines / 1_topics)"},
                           {"as-is", "", "lines: LongChat's prompt as given, answer generated (instruction models); "
                                         "default: the register in a base model's format at each --lengths"}})},
       run_longeval_cmd},
  };
}

}  // namespace ls::cli
