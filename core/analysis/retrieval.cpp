#include "core/analysis/retrieval.h"

#include "core/backends/backends.h"
#include "core/util/files.h"
#include "core/util/json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/position/spec.h"
#include "core/util/memory.h"

namespace ls {

namespace {

constexpr int kMaxPromptTokens = 1 << 22;
constexpr int kGenerateTokens = 48;  // LongEval as-is: tokens generated for the answer

// Same texts as tools/train/train.py's retrieval rows.
const char* kLinesIntro = "Below is a record of lines I want you to remember.";
const char* kLinesQuestion = "The <REGISTER_CONTENT> in line {name} is";
const char* kLinesAnswer = "<{value}>";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

Result<std::vector<int>> encode_segment(const Tokenizer& tok, const std::string& text) {
  if (text.empty()) return std::vector<int>{};
  return tok.encode(text);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = (char)std::tolower((unsigned char)ch);
  return s;
}

unsigned long long splitmix64(unsigned long long x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// `number` occurs in `text` as a whole number (no digit right before or after it).
bool contains_number(const std::string& text, const std::string& number) {
  for (size_t at = text.find(number); at != std::string::npos; at = text.find(number, at + 1)) {
    const bool left = at == 0 || !std::isdigit((unsigned char)text[at - 1]);
    const size_t end = at + number.size();
    if (left && (end == text.size() || !std::isdigit((unsigned char)text[end]))) return true;
  }
  return false;
}

bool is_longeval(RetrievalTask t) { return t == RetrievalTask::LongEvalLines || t == RetrievalTask::LongEvalTopics; }

}  // namespace

const char* task_name(RetrievalTask t) {
  switch (t) {
    case RetrievalTask::Passkey: return "passkey";
    case RetrievalTask::Needle: return "needle";
    case RetrievalTask::LongEvalLines: return "lines";
    case RetrievalTask::LongEvalTopics: return "topics";
  }
  return "?";
}

double RetrievalCell::mean_logprob() const {
  double s = 0;
  int n = 0;
  for (const auto& t : trials)
    if (std::isfinite(t.logprob)) s += t.logprob, ++n;
  return n ? s / n : NAN;
}

const RetrievalCell* RetrievalGrid::cell(size_t m, size_t l, size_t d) const {
  const size_t i = (m * lengths.size() + l) * depths.size() + d;
  return m < methods.size() && l < lengths.size() && d < depths.size() && i < cells.size() ? &cells[i] : nullptr;
}

std::string retrieval_key(unsigned long long seed, int s, int li, int di) {
  const unsigned long long h = splitmix64(seed ^ splitmix64(((unsigned long long)s << 40) ^ ((unsigned long long)li << 20) ^ (unsigned)di));
  return std::to_string(10000 + h % 90000);
}

Result<RetrievalPrompt> make_needle_prompt(const Tokenizer& tok, const NeedleText& text, const std::string& key,
                                           int length, double depth, const std::vector<int>& filler_doc) {
  if (!(depth >= 0.0 && depth <= 1.0)) return make_error("depth must be in [0, 1]");
  if (length < 1 || length > kMaxPromptTokens)
    return make_error("prompt length " + std::to_string(length) + " is outside [1, " + std::to_string(kMaxPromptTokens) + "]");
  if (text.needle.empty() || text.question.empty() || text.answer.empty())
    return make_error("the needle, the question and the answer must not be empty");
  auto intro = encode_segment(tok, text.intro);
  auto needle = encode_segment(tok, replace_all(text.needle, "{key}", key));
  auto question = encode_segment(tok, text.question);
  auto answer = encode_segment(tok, replace_all(text.answer, "{key}", key));
  for (auto* r : {&intro, &needle, &question, &answer})
    if (!*r) return make_error(r->error());
  const long long fixed = (long long)tok.prefix().size() + (long long)intro->size() + (long long)needle->size() +
                          (long long)question->size();
  const long long fill = length - fixed;
  if (fill < 0)
    return make_error("a prompt of " + std::to_string(length) + " tokens cannot hold the intro, needle and question (" +
                      std::to_string(fixed) + " tokens)");
  std::vector<int> hay;
  if (filler_doc.empty()) {
    auto unit = encode_segment(tok, text.filler);
    if (!unit) return make_error(unit.error());
    if (unit->empty() && fill > 0) return make_error("the filler text is empty");
    hay.reserve((size_t)fill);
    while ((long long)hay.size() < fill) hay.insert(hay.end(), unit->begin(), unit->end());
    hay.resize((size_t)fill);
  } else {
    const auto& pre = tok.prefix();
    const size_t skip = filler_doc.size() >= pre.size() && std::equal(pre.begin(), pre.end(), filler_doc.begin()) ? pre.size() : 0;
    if ((long long)(filler_doc.size() - skip) < fill)
      return make_error("the document has " + std::to_string(filler_doc.size() - skip) + " tokens; a " +
                        std::to_string(length) + "-token prompt needs " + std::to_string(fill) + " of it (choose a shorter length)");
    hay.assign(filler_doc.begin() + (long)skip, filler_doc.begin() + (long)skip + fill);
  }
  const size_t at = (size_t)std::llround(depth * (double)fill);
  RetrievalPrompt p;
  p.task = filler_doc.empty() ? RetrievalTask::Passkey : RetrievalTask::Needle;
  p.key = key;
  p.length = length;
  p.depth = depth;
  auto& t = p.tokens;
  t.reserve((size_t)length + answer->size());
  t.insert(t.end(), tok.prefix().begin(), tok.prefix().end());
  p.context_begin = (int)t.size();
  t.insert(t.end(), intro->begin(), intro->end());
  t.insert(t.end(), hay.begin(), hay.begin() + (long)at);
  p.needle_begin = (int)t.size();
  t.insert(t.end(), needle->begin(), needle->end());
  p.needle_end = (int)t.size();
  t.insert(t.end(), hay.begin() + (long)at, hay.end());
  p.context_end = (int)t.size();
  t.insert(t.end(), question->begin(), question->end());
  p.answer_begin = (int)t.size();
  t.insert(t.end(), answer->begin(), answer->end());
  return p;
}

Result<std::vector<LongEvalCase>> read_longeval(const std::string& path, RetrievalTask task) {
  if (!is_longeval(task)) return make_error("read_longeval reads LongEval lines or topics");
  if (const std::string why = why_not_regular(path); !why.empty())
    return make_error("cannot open LongEval file " + clip(path) + ": it " + why);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open " + clip(path));
  std::vector<LongEvalCase> out;
  std::string line;
  size_t total = 0;
  for (int no = 1; std::getline(in, line); ++no) {
    total += line.size();
    if (total > (64u << 20)) return make_error(path + ": larger than 64 MiB");
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(no) + ": ";
    auto parsed = parse_json(line, "the line");
    if (!parsed || !parsed.value().is_object())
      return make_error(where + "not a JSON object" + (parsed ? std::string() : " (" + parsed.error() + ")"));
    const nlohmann::json& j = parsed.value();
    LongEvalCase c;
    c.task = task;
    c.id = (int)out.size();
    if (!j.contains("prompt") || !j["prompt"].is_string()) return make_error(where + "no \"prompt\" string");
    c.prompt = j["prompt"].get<std::string>();
    if (task == RetrievalTask::LongEvalTopics) {
      if (!j.contains("topics") || !j["topics"].is_array() || j["topics"].empty() || !j["topics"][0].is_string())
        return make_error(where + "no \"topics\" list (is this a lines file?)");
      c.expected = j["topics"][0].get<std::string>();
      if (j.contains("test_id") && j["test_id"].is_number_integer()) c.id = j["test_id"].get<int>();
    } else {
      if (!j.contains("expected_number") || !j["expected_number"].is_number_integer() || !j.contains("random_idx") ||
          !j["random_idx"].is_array() || j["random_idx"].empty() || !j["random_idx"][0].is_string())
        return make_error(where + "no \"expected_number\" / \"random_idx\" (is this a topics file?)");
      c.expected = std::to_string(j["expected_number"].get<long long>());
      c.name = j["random_idx"][0].get<std::string>();
      size_t at = 0;
      while ((at = c.prompt.find("line ", at)) != std::string::npos) {
        const size_t end = c.prompt.find('\n', at);
        std::string l = c.prompt.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? c.prompt.size() : end;
        if (l.find(": REGISTER_CONTENT is <") == std::string::npos) continue;
        if (l.compare(5, c.name.size() + 1, c.name + ":") == 0) c.correct = (int)c.lines.size();
        c.lines.push_back(l);
      }
      if (c.correct < 0) return make_error(where + "the asked line \"" + c.name + "\" is not in the record");
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) return make_error(path + ": no test cases");
  return out;
}

Result<RetrievalPrompt> make_lines_prompt(const Tokenizer& tok, const LongEvalCase& c, int length) {
  if (c.task != RetrievalTask::LongEvalLines || c.lines.empty() || c.correct < 0)
    return make_error("a LongEval lines case is needed");
  if (length < 1 || length > kMaxPromptTokens) return make_error("prompt length outside [1, " + std::to_string(kMaxPromptTokens) + "]");
  auto intro = encode_segment(tok, kLinesIntro);
  auto question = encode_segment(tok, replace_all(kLinesQuestion, "{name}", c.name));
  auto answer = encode_segment(tok, replace_all(kLinesAnswer, "{value}", c.expected));
  for (auto* r : {&intro, &question, &answer})
    if (!*r) return make_error(r->error());
  std::vector<std::vector<int>> lines;
  for (const auto& l : c.lines) {
    auto e = tok.encode(l);
    if (!e) return make_error(e.error());
    lines.push_back(e.take());
  }
  const long long room = length - (long long)tok.prefix().size() - (long long)intro->size() - (long long)question->size();
  const int total = (int)lines.size();
  const double rel = total > 1 ? (double)c.correct / (total - 1) : 0.0;
  // The longest run of lines [a, a+k) that fits, the asked line at the same relative place.
  int best_a = -1, best_k = 0;
  for (int k = 1; k <= total; ++k) {
    int a = c.correct - (int)std::lround(rel * (k - 1));
    a = std::clamp(a, 0, total - k);
    long long used = 0;
    for (int i = a; i < a + k; ++i) used += (long long)lines[(size_t)i].size();
    if (used > room) break;
    best_a = a, best_k = k;
  }
  if (best_k == 0) return make_error("a prompt of " + std::to_string(length) + " tokens cannot hold one line and the question");
  RetrievalPrompt p;
  p.task = RetrievalTask::LongEvalLines;
  p.key = c.expected;
  auto& t = p.tokens;
  t.insert(t.end(), tok.prefix().begin(), tok.prefix().end());
  p.context_begin = (int)t.size();
  t.insert(t.end(), intro->begin(), intro->end());
  for (int i = best_a; i < best_a + best_k; ++i) {
    if (i == c.correct) p.needle_begin = (int)t.size();
    t.insert(t.end(), lines[(size_t)i].begin(), lines[(size_t)i].end());
    if (i == c.correct) p.needle_end = (int)t.size();
  }
  p.context_end = (int)t.size();
  t.insert(t.end(), question->begin(), question->end());
  p.answer_begin = (int)t.size();
  p.length = p.answer_begin;
  p.depth = best_k > 1 ? (double)(c.correct - best_a) / (best_k - 1) : 0.0;
  t.insert(t.end(), answer->begin(), answer->end());
  return p;
}

Result<RetrievalPrompt> make_longeval_prompt(const Tokenizer& tok, const LongEvalCase& c) {
  if (c.prompt.empty()) return make_error("the LongEval case has no prompt");
  auto enc = tok.encode(c.prompt);
  if (!enc) return make_error(enc.error());
  RetrievalPrompt p;
  p.task = c.task;
  p.key = c.expected;
  p.generate = true;
  const int pre = (int)tok.prefix().size();
  p.tokens = tok.prefix();
  p.tokens.insert(p.tokens.end(), enc->begin(), enc->end());
  p.answer_begin = (int)p.tokens.size();
  p.length = p.answer_begin;
  // The needle (the asked line, or the first topic's opening) and the question, located
  // by encoding the text before them: exact up to one token at the boundary.
  const std::string needle = c.task == RetrievalTask::LongEvalLines ? "line " + c.name + ":" : c.expected;
  const size_t at = c.task == RetrievalTask::LongEvalLines ? c.prompt.find(needle) : lower(c.prompt).find(lower(needle));
  if (at != std::string::npos) {
    auto before = tok.encode(c.prompt.substr(0, at));
    auto with = tok.encode(c.prompt.substr(0, at + (c.task == RetrievalTask::LongEvalLines ? c.lines[(size_t)c.correct].size()
                                                                                        : needle.size())));
    if (before && with) {
      p.needle_begin = pre + (int)before->size();
      p.needle_end = pre + (int)with->size();
      p.depth = (double)at / (double)c.prompt.size();
    }
  }
  const std::string end_mark = c.task == RetrievalTask::LongEvalLines ? "Now the record is over" : "Now the record ends";
  const size_t q = c.prompt.rfind(end_mark);
  p.context_begin = pre;
  p.context_end = p.answer_begin;
  if (q != std::string::npos)
    if (auto before = tok.encode(c.prompt.substr(0, q))) p.context_end = pre + (int)before->size();
  return p;
}

Result<RetrievalPrompt> make_trial_prompt(const Tokenizer& tok, const RetrievalOptions& o, int li, int di, int s) {
  if (li < 0 || li >= (int)o.lengths.size() || di < 0 || di >= (int)o.depths.size() || s < 0)
    return make_error("no such grid trial");
  switch (o.task) {
    case RetrievalTask::Passkey:
      return make_needle_prompt(tok, o.text, retrieval_key(o.seed, s, li, di), o.lengths[(size_t)li], o.depths[(size_t)di]);
    case RetrievalTask::Needle:
      if (o.filler_doc.empty()) return make_error("needle in a haystack needs a document");
      return make_needle_prompt(tok, o.text, retrieval_key(o.seed, s, li, di), o.lengths[(size_t)li], o.depths[(size_t)di],
                                o.filler_doc);
    case RetrievalTask::LongEvalLines:
    case RetrievalTask::LongEvalTopics: {
      if (o.cases.empty()) return make_error("LongEval needs test cases");
      const LongEvalCase& c = o.cases[(size_t)s % o.cases.size()];
      if (o.lengths[(size_t)li] <= 0 || c.task == RetrievalTask::LongEvalTopics) return make_longeval_prompt(tok, c);
      return make_lines_prompt(tok, c, o.lengths[(size_t)li]);
    }
  }
  return make_error("unknown task");
}

Result<RetrievalTrial> score_prompt(const RunConfig& run, const Tokenizer& tok, const RetrievalPrompt& p, int nbce_k,
                                    std::vector<double>* nll_out) {
  RetrievalTrial tr;
  tr.key = p.key;
  const int n = (int)p.tokens.size();
  const int n_answer = n - p.answer_begin;
  if (p.answer_begin < 1 || (!p.generate && n_answer < 1)) return make_error("the prompt has no answer to score");
  if (nbce_k > 0) {
    if (p.context_end <= p.context_begin) return make_error("NBCE needs a context before the question");
    std::vector<int> context(p.tokens.begin() + p.context_begin, p.tokens.begin() + p.context_end);
    const int k = std::min<int>(nbce_k, (int)context.size());
    std::vector<int> question = tok.prefix();
    question.insert(question.end(), p.tokens.begin() + p.context_end, p.tokens.begin() + p.answer_begin);
    NbceOptions o;
    o.prefix = tok.prefix();
    int steps = kGenerateTokens;
    if (!p.generate) {
      o.forced.assign(p.tokens.begin() + p.answer_begin, p.tokens.end());
      steps = n_answer;
    }
    RunConfig r = run;
    r.progress = nullptr;
    auto res = run_nbce(r, nbce_chunks(context, k, tok.prefix()), question, steps, o);
    if (!res) return make_error(res.error());
    if (p.generate) {
      tr.output = tok.decode(res->tokens);
      tr.logprob = NAN;
    } else {
      tr.found = std::all_of(res->top1.begin(), res->top1.end(), [](char c) { return c != 0; });
      for (double lp : res->logprob) tr.logprob += lp;
    }
  } else if (p.generate) {
    SampleOptions greedy;
    RunConfig r = run;
    r.progress = nullptr;
    auto out = run_generate(r, p.tokens, kGenerateTokens, greedy);
    if (!out) return make_error(out.error());
    tr.output = tok.decode(*out);
    tr.logprob = NAN;
  } else {
    auto eng = make_engine(run.model, run.engine, n, run.precision, run.backend, run.backends);
    if (!eng) return make_error(eng.error());
    if (auto st = (*eng)->forward(p.tokens.data(), n - 1); !st) return make_error(st.error());
    const int first = nll_out ? 0 : p.answer_begin - 1;
    const int rows = n - 1 - first;
    std::vector<double> nll((size_t)rows);
    std::vector<int> rank((size_t)rows);
    if (auto st = (*eng)->nll(first, rows, p.tokens.data() + first + 1, nll.data(), rank.data()); !st)
      return make_error(st.error());
    tr.found = true;
    for (int r = p.answer_begin - 1 - first; r < rows; ++r) {
      tr.logprob -= nll[(size_t)r];
      tr.found = tr.found && rank[(size_t)r] == 0;
    }
    if (nll_out) *nll_out = std::move(nll);
  }
  if (p.generate)
    tr.found = p.task == RetrievalTask::LongEvalTopics ? lower(tr.output).find(lower(p.key)) != std::string::npos
                                                       : contains_number(tr.output, p.key);
  return tr;
}

Result<RetrievalGrid> run_retrieval(const RunConfig& run_in, const Tokenizer& tok, const std::vector<MethodParams>& methods,
                                    const RetrievalOptions& o) {
  SharedBackends shared(run_in);  // every prompt on one backend
  const RunConfig& run = shared.run;
  if (methods.empty() && o.nbce_chunks.empty()) return make_error("choose at least one method");
  if (o.lengths.empty()) return make_error("choose at least one length");
  if (o.depths.empty()) return make_error("choose at least one depth");
  if (o.seeds < 1 || o.seeds > 1000) return make_error("trials per cell must be in [1, 1000]");
  for (double d : o.depths)
    if (!(d >= 0 && d <= 1)) return make_error("depths must be in [0, 1]");
  for (int len : o.lengths)
    if (len > kMaxPromptTokens || (len < 1 && !is_longeval(o.task)))
      return make_error("length " + std::to_string(len) + " is outside [1, " + std::to_string(kMaxPromptTokens) + "]");
  for (int k : o.nbce_chunks)
    if (k < 1 || k > 64) return make_error("NBCE chunk counts must be in [1, 64]");
  for (const auto& m : methods)
    if (auto st = check_method_for_model(m, run.model->config); !st) return make_error(st.error());
  RetrievalGrid g;
  g.task = o.task;
  g.lengths = o.lengths;
  g.depths = o.depths;
  for (const auto& m : methods) g.methods.push_back(method_spec_string(m));
  const std::string nbce_base = method_spec_string(run.engine.method);  // NBCE's rows run with the run's method
  for (int k : o.nbce_chunks)
    g.methods.push_back("nbce:k=" + std::to_string(k) + (nbce_base == "rope" ? "" : " (" + nbce_base + ")"));
  // Every prompt once, shared by every method (the same keys and haystacks).
  std::vector<RetrievalPrompt> prompts;
  for (size_t li = 0; li < o.lengths.size(); ++li)
    for (size_t di = 0; di < o.depths.size(); ++di)
      for (int s = 0; s < o.seeds; ++s) {
        auto p = make_trial_prompt(tok, o, (int)li, (int)di, s);
        if (!p) return make_error(p.error());
        prompts.push_back(p.take());
      }
  const double total = (double)g.methods.size() * (double)prompts.size();
  size_t done = 0;
  for (size_t mi = 0; mi < g.methods.size(); ++mi) {
    const bool nbce = mi >= methods.size();
    RunConfig r = run;
    if (!nbce) r.engine.method = methods[mi];
    const int k = nbce ? o.nbce_chunks[mi - methods.size()] : 0;
    size_t pi = 0;
    for (size_t li = 0; li < o.lengths.size(); ++li)
      for (size_t di = 0; di < o.depths.size(); ++di) {
        RetrievalCell cell;
        cell.method = g.methods[mi];
        cell.length = o.lengths[li];
        cell.depth = o.depths[di];
        for (int s = 0; s < o.seeds; ++s, ++pi) {
          if (run.engine.cancel && run.engine.cancel->load()) return make_error("cancelled");
          auto t = score_prompt(r, tok, prompts[pi], k);
          if (!t && t.error() == "cancelled") return make_error(t.error());  // not a failure of this cell
          if (!t) return make_error(cell.method + " at " + std::to_string(prompts[pi].length) + " tokens: " + t.error());
          cell.found += t->found ? 1 : 0;
          cell.trials.push_back(t.take());
          if (run.progress) run.progress((double)++done / total);
        }
        g.cells.push_back(std::move(cell));
      }
  }
  return g;
}

Result<RetrievalHead> find_retrieval_head(const RunConfig& run_in, const RetrievalPrompt& p) {
  SharedBackends shared(run_in);
  const RunConfig& run = shared.run;
  const ModelConfig& c = run.model->config;
  const int n = (int)p.tokens.size();
  if (p.answer_begin < 1 || p.answer_begin > n) return make_error("the prompt has no answer position");
  if (p.needle_end <= p.needle_begin) return make_error("the prompt's needle was not located");
  const int q_first = p.answer_begin - 1;
  const int q_last = p.generate ? q_first : n - 2;  // rows that predict answer tokens
  const int fed = q_last + 1;
  RetrievalHead best;
  best.needle_mass = -1;
  for (int layer = 0; layer < c.n_layers; ++layer) {
    std::vector<double> mass((size_t)c.n_heads, 0.0);
    std::vector<std::vector<float>> rows((size_t)c.n_heads);
    std::mutex mu;
    AttentionObserver obs;
    obs.layer = layer;
    obs.head = -1;
    obs.on_row = [&](int h, int m, const float* pr, int nk) {
      if (m < q_first || m > q_last) return;
      double s = 0;
      for (int j = p.needle_begin; j < std::min(p.needle_end, nk); ++j) s += pr[j];
      std::lock_guard<std::mutex> lock(mu);
      mass[(size_t)h] += s / (q_last - q_first + 1);
      if (m == q_first) rows[(size_t)h].assign(pr, pr + nk);
    };
    RunConfig r = run;
    r.engine.observer = &obs;
    auto eng = make_engine(r.model, r.engine, fed, r.precision, r.backend, r.backends);
    if (!eng) return make_error(eng.error());
    if (auto st = (*eng)->forward(p.tokens.data(), fed); !st) return make_error(st.error());
    for (int h = 0; h < c.n_heads; ++h)
      if (mass[(size_t)h] > best.needle_mass) {
        best.layer = layer;
        best.head = h;
        best.needle_mass = mass[(size_t)h];
        best.row = rows[(size_t)h];
      }
    if (run.progress) run.progress((layer + 1.0) / c.n_layers);
  }
  best.query = q_first;
  return best;
}

}  // namespace ls
