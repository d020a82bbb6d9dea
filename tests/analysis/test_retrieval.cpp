// Retrieval evaluations: prompts exact in tokens, scoring against the independent
// reference forward, NBCE scoring consistent with NBCE decoding, LongEval parsing,
// the grid's bookkeeping and the retrieval head against the attention map.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <set>

#include "core/analysis/retrieval.h"
#include "core/backends/backends.h"
#include "core/position/spec.h"
#include "tests/engine/reference_forward.h"
#include "tests/engine/test_support.h"

namespace ls {
namespace {

struct Fixture {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tok;
  RunConfig run;
};

Fixture bundled() {
  Fixture f;
  f.model = test::load_ok(test::bundled_gguf());
  auto t = Tokenizer::for_model(*f.model);
  EXPECT_TRUE(t.ok());
  f.tok = t.value();
  f.run.model = f.model;
  f.run.engine.method = f.model->config.native_method;
  return f;
}

// A needle task the bundled model answers: the answer is the story's own next word.
NeedleText answered_needle() {
  NeedleText t;
  t.intro = "";
  t.needle = "Lily liked {key}.";
  t.question = "Once upon a";
  t.answer = "time";
  return t;
}

std::string longeval_path(const char* name) { return std::string(LONGSCOPE_RESOURCES_DIR "/documents/longeval/") + name; }

TEST(Retrieval, PasskeyPromptIsExactInLengthAndDepth) {
  auto f = bundled();
  NeedleText text;
  auto intro = f.tok->encode(text.intro), needle = f.tok->encode("The pass key is 40213. Remember it. 40213 is the pass key.");
  auto question = f.tok->encode(text.question), answer = f.tok->encode("40213");
  for (int length : {200, 333, 1000})
    for (double depth : {0.0, 0.37, 1.0}) {
      auto p = make_needle_prompt(*f.tok, text, "40213", length, depth);
      ASSERT_TRUE(p.ok()) << p.error();
      EXPECT_EQ(p->answer_begin, length);
      EXPECT_EQ(p->tokens.size(), (size_t)length + answer->size());
      EXPECT_EQ(p->tokens[0], f.tok->bos_id());
      const int fill = length - 1 - (int)(intro->size() + needle->size() + question->size());
      EXPECT_EQ(p->needle_begin, 1 + (int)intro->size() + (int)std::lround(depth * fill));
      EXPECT_EQ(std::vector<int>(p->tokens.begin() + p->needle_begin, p->tokens.begin() + p->needle_end), *needle);
      EXPECT_EQ(std::vector<int>(p->tokens.begin() + p->answer_begin, p->tokens.end()), *answer);
      EXPECT_EQ(std::vector<int>(p->tokens.begin() + p->context_end, p->tokens.begin() + p->answer_begin), *question);
    }
  EXPECT_FALSE(make_needle_prompt(*f.tok, text, "1", 50, 0.5).ok());   // shorter than intro + needle + question
  EXPECT_FALSE(make_needle_prompt(*f.tok, text, "1", 300, 1.5).ok());  // depth outside [0, 1]
  EXPECT_FALSE(make_needle_prompt(*f.tok, text, "1", 300, NAN).ok());
}

TEST(Retrieval, NeedleUsesTheDocumentAsHaystack) {
  auto f = bundled();
  auto doc = test::story_tokens(600);
  NeedleText text;
  text.intro = "";
  auto p = make_needle_prompt(*f.tok, text, "777", 400, 0.5, doc);
  ASSERT_TRUE(p.ok()) << p.error();
  // The haystack is the document from its start (BOS skipped), cut around the needle.
  const int before = p->needle_begin - 1;
  for (int i = 0; i < before; ++i) ASSERT_EQ(p->tokens[(size_t)1 + i], doc[(size_t)1 + i]);
  EXPECT_EQ(p->tokens[(size_t)p->needle_end], doc[(size_t)1 + before]);
  auto too_long = make_needle_prompt(*f.tok, text, "777", 5000, 0.5, doc);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().find("the document has"), std::string::npos) << too_long.error();
}

// The key's log-probability and "found" against the independent float64 forward.
TEST(Retrieval, ScoreMatchesTheReferenceForward) {
  auto f = bundled();
  for (const char* spec : {"rope", "rerope:window=128"}) {
    auto m = parse_method_spec(spec);
    ASSERT_TRUE(m.ok());
    f.run.engine.method = m.value();
    auto p = make_needle_prompt(*f.tok, NeedleText{}, "58311", 300, 0.25);
    ASSERT_TRUE(p.ok());
    std::vector<double> nll;
    auto t = score_prompt(f.run, *f.tok, *p, 0, &nll);
    ASSERT_TRUE(t.ok()) << t.error();
    std::vector<int> in(p->tokens.begin(), p->tokens.end() - 1);
    auto logits = test::reference_logits(*f.model, in, m.value());
    double lp = 0;
    bool found = true;
    for (size_t r = (size_t)p->answer_begin - 1; r < in.size(); ++r) {
      double mx = -INFINITY, s = 0;
      size_t arg = 0;
      for (size_t v = 0; v < logits[r].size(); ++v)
        if (logits[r][v] > mx) mx = logits[r][v], arg = v;
      for (double v : logits[r]) s += std::exp(v - mx);
      const int target = p->tokens[r + 1];
      lp += logits[r][(size_t)target] - mx - std::log(s);
      found = found && arg == (size_t)target;
    }
    EXPECT_NEAR(t->logprob, lp, 2e-3 * std::max(1.0, std::abs(lp))) << spec;
    EXPECT_EQ(t->found, found) << spec;
    EXPECT_EQ(nll.size(), in.size());  // the whole prompt's NLL for the document pane
  }
}

// A needle the bundled model answers: the answer is the story's own next word.
TEST(Retrieval, FoundWhenEveryAnswerTokenIsTopOne) {
  auto f = bundled();
  const NeedleText text = answered_needle();
  RetrievalOptions o;
  o.task = RetrievalTask::Needle;
  o.filler_doc = test::story_tokens(400);
  o.text = text;
  o.lengths = {120, 200};
  o.depths = {0.0, 1.0};
  o.seeds = 2;
  auto m = parse_method_spec("rope");
  std::vector<double> progress;
  f.run.progress = [&](double x) { progress.push_back(x); };
  auto g = run_retrieval(f.run, *f.tok, {m.value()}, o);
  ASSERT_TRUE(g.ok()) << g.error();
  ASSERT_EQ(g->cells.size(), 4u);
  for (const auto& c : g->cells) {
    EXPECT_EQ(c.found, 2);
    EXPECT_DOUBLE_EQ(c.accuracy(), 1.0);
    EXPECT_GT(c.mean_logprob(), std::log(0.5));
  }
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  // The passkey is beyond this model: its accuracy is 0, and the key is improbable.
  o.task = RetrievalTask::Passkey;
  o.text = NeedleText{};
  o.lengths = {256};
  o.depths = {0.5};
  auto pk = run_retrieval(f.run, *f.tok, {m.value()}, o);
  ASSERT_TRUE(pk.ok()) << pk.error();
  EXPECT_EQ(pk->cells[0].found, 0);
  EXPECT_LT(pk->cells[0].mean_logprob(), -10.0);
}

// Found means top-1 for every answer token: the model's second choice is not found.
TEST(Retrieval, TheSecondChoiceIsNotFound) {
  auto f = bundled();
  const NeedleText text = answered_needle();
  auto p = make_needle_prompt(*f.tok, text, "1", 150, 0.5, test::story_tokens(400));
  ASSERT_TRUE(p.ok()) << p.error();
  ASSERT_EQ(p->tokens.size(), (size_t)p->answer_begin + 1);  // one answer token
  auto eng = make_engine(f.model, f.run.engine, p->answer_begin, DType::F32);
  ASSERT_TRUE(eng.ok());
  ASSERT_TRUE((*eng)->forward(p->tokens.data(), p->answer_begin).ok());
  std::vector<float> logits;
  ASSERT_TRUE((*eng)->logits(p->answer_begin - 1, logits).ok());
  std::vector<int> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = (int)i;
  std::partial_sort(order.begin(), order.begin() + 2, order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  double mx = logits[(size_t)order[0]], sum = 0;
  for (float v : logits) sum += std::exp(v - mx);
  for (int rank = 0; rank < 2; ++rank) {
    RetrievalPrompt q = *p;
    q.tokens.back() = order[(size_t)rank];
    auto t = score_prompt(f.run, *f.tok, q);
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ(t->found, rank == 0) << rank;
    EXPECT_NEAR(t->logprob, logits[(size_t)order[(size_t)rank]] - mx - std::log(sum), 1e-4);
  }
}

TEST(Retrieval, EveryMethodSeesTheSamePromptsAndCancelStops) {
  auto f = bundled();
  RetrievalOptions o;
  o.lengths = {200, 300};
  o.depths = {0.0, 0.5, 1.0};
  o.seeds = 2;
  o.nbce_chunks = {2};
  auto ms = parse_method_list("rope;ntk:alpha=2");
  ASSERT_TRUE(ms.ok());
  auto g = run_retrieval(f.run, *f.tok, ms.value(), o);
  ASSERT_TRUE(g.ok()) << g.error();
  ASSERT_EQ(g->methods.size(), 3u);
  EXPECT_EQ(g->methods[2], "nbce:k=2");
  ASSERT_EQ(g->cells.size(), 3u * 2 * 3);
  std::set<std::string> keys;
  for (size_t l = 0; l < 2; ++l)
    for (size_t d = 0; d < 3; ++d)
      for (size_t s = 0; s < 2; ++s) {
        const std::string k = g->cell(0, l, d)->trials[s].key;
        keys.insert(k);
        EXPECT_EQ(k.size(), 5u);
        for (size_t m = 1; m < 3; ++m) EXPECT_EQ(g->cell(m, l, d)->trials[s].key, k);
        auto p = make_trial_prompt(*f.tok, o, (int)l, (int)d, (int)s);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->key, k);
      }
  EXPECT_EQ(keys.size(), 12u);  // distinct keys across cells and trials
  std::atomic<bool> cancel{true};
  f.run.engine.cancel = &cancel;
  auto c = run_retrieval(f.run, *f.tok, ms.value(), o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("cancelled"), std::string::npos);
  o.depths = {2.0};
  EXPECT_FALSE(run_retrieval(RunConfig{f.run.model}, *f.tok, ms.value(), o).ok());
}

// NBCE's scoring mode rates the tokens its decoding mode picks as its top-1.
TEST(Retrieval, NbceScoringAgreesWithNbceDecoding) {
  auto f = bundled();
  auto doc = test::story_tokens(300);
  auto chunks = nbce_chunks(std::vector<int>(doc.begin() + 1, doc.end()), 3, f.model->config.bos_id);
  auto q = f.tok->encode("Once upon a time");
  std::vector<int> question = {f.model->config.bos_id};
  question.insert(question.end(), q->begin(), q->end());
  NbceOptions o;
  o.prefix = f.tok->prefix();
  o.temperature = 0;  // greedy on the combined logits
  auto dec = run_nbce(f.run, chunks, question, 6, o);
  ASSERT_TRUE(dec.ok()) << dec.error();
  ASSERT_EQ(dec->tokens.size(), 6u);
  o.forced = dec->tokens;
  auto sc = run_nbce(f.run, chunks, question, 6, o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  EXPECT_EQ(sc->chosen_chunk, dec->chosen_chunk);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(sc->top1[i]) << i;
    EXPECT_LE(sc->logprob[i], 0.0);
    EXPECT_GT(sc->logprob[i], -30.0);
  }
  o.forced[0] = (dec->tokens[0] + 1) % f.model->config.vocab_size;  // not the arg max
  auto other = run_nbce(f.run, chunks, question, 6, o);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->top1[0]);
  EXPECT_LT(other->logprob[0], sc->logprob[0]);
  EXPECT_FALSE(run_nbce(f.run, chunks, question, 5, o).ok());  // one step per forced token
}

TEST(Retrieval, LongEvalCasesParseAndRender) {
  auto f = bundled();
  auto lines = read_longeval(longeval_path("200_lines.jsonl"), RetrievalTask::LongEvalLines);
  ASSERT_TRUE(lines.ok()) << lines.error();
  ASSERT_EQ(lines->size(), 50u);
  const LongEvalCase& c = lines->front();
  EXPECT_EQ(c.lines.size(), 200u);
  EXPECT_EQ(c.name, "torpid-kid");
  EXPECT_EQ(c.expected, "2416");
  EXPECT_EQ(c.lines[(size_t)c.correct], "line torpid-kid: REGISTER_CONTENT is <2416>");
  for (const auto& lc : *lines) EXPECT_NE(lc.lines[(size_t)lc.correct].find("<" + lc.expected + ">"), std::string::npos);
  for (int length : {256, 1024}) {
    auto p = make_lines_prompt(*f.tok, c, length);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_LE(p->length, length);
    EXPECT_GT(p->length, length - 40);  // filled up to about one line short
    EXPECT_EQ(f.tok->decode(std::vector<int>(p->tokens.begin() + p->needle_begin, p->tokens.begin() + p->needle_end)),
              c.lines[(size_t)c.correct]);
    EXPECT_EQ(f.tok->decode(std::vector<int>(p->tokens.begin() + p->answer_begin, p->tokens.end())), "<2416>");
    EXPECT_NEAR(p->depth, (double)c.correct / 199.0, 0.15);  // the asked line keeps its relative place
  }
  auto topics = read_longeval(longeval_path("1_topics.jsonl"), RetrievalTask::LongEvalTopics);
  ASSERT_TRUE(topics.ok()) << topics.error();
  EXPECT_EQ(topics->front().expected, "The benefits of reading for pleasure");
  auto tp = make_longeval_prompt(*f.tok, topics->front());
  ASSERT_TRUE(tp.ok());
  EXPECT_TRUE(tp->generate);
  EXPECT_GT(tp->needle_end, tp->needle_begin);
  EXPECT_LT(tp->context_end, tp->answer_begin);  // the closing question is NBCE's question
  // Wrong file for the task, and broken lines: one clear error naming the line.
  auto wrong = read_longeval(longeval_path("1_topics.jsonl"), RetrievalTask::LongEvalLines);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().find(":1: "), std::string::npos) << wrong.error();
  const std::string bad = test::temp_dir("longeval") + "/bad.jsonl";
  std::ofstream(bad) << "{\"prompt\": \"x\", \"topics\": [\"a\"]}\n{not json\n";
  auto b = read_longeval(bad, RetrievalTask::LongEvalTopics);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().find(":2: not a JSON object"), std::string::npos) << b.error();
}

// The retrieval head's row is the attention map's row at the answer position.
TEST(Retrieval, RetrievalHeadRowIsTheAttentionMapRow) {
  auto f = bundled();
  auto p = make_needle_prompt(*f.tok, NeedleText{}, "12345", 220, 0.5);
  ASSERT_TRUE(p.ok());
  auto h = find_retrieval_head(f.run, *p);
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(h->query, p->answer_begin - 1);
  ASSERT_EQ(h->row.size(), (size_t)h->query + 1);
  const int fed = (int)p->tokens.size() - 1;
  auto map = run_attention(f.run, p->tokens, fed, h->layer, h->head, 0, PoolMode::Max);
  ASSERT_TRUE(map.ok()) << map.error();
  double best_other = -1;
  for (int j = 0; j <= h->query; ++j)
    EXPECT_NEAR(h->row[(size_t)j], map->probs[(size_t)h->query * fed + j], 1e-5) << j;
  // No head of any layer puts more mass on the needle (averaged over the answer rows).
  const int rows = fed - h->query;
  for (int layer = 0; layer < f.model->config.n_layers; ++layer)
    for (int head = 0; head < f.model->config.n_heads; ++head) {
      auto m = run_attention(f.run, p->tokens, fed, layer, head, 0, PoolMode::Max);
      ASSERT_TRUE(m.ok());
      double mass = 0;
      for (int q = h->query; q < fed; ++q)
        for (int j = p->needle_begin; j < p->needle_end; ++j) mass += m->probs[(size_t)q * fed + j] / rows;
      if (layer == h->layer && head == h->head) EXPECT_NEAR(mass, h->needle_mass, 1e-5);
      else best_other = std::max(best_other, mass);
    }
  EXPECT_GE(h->needle_mass, best_other - 1e-6);
}

}  // namespace
}  // namespace ls
