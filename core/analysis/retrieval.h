// Retrieval evaluations (docs/methods.md §5): passkey retrieval, needle in a
// haystack on any document, and LongEval (LMSYS LongChat) `lines` / `topics`.
//
// A prompt is built from segments, each encoded on its own and the token lists
// concatenated (SentencePiece's dummy prefix stands for the space between
// segments), so its length and the needle's depth are exact in tokens. The
// passkey text is the one used by Landmark Attention and LongLoRA's passkey test:
// an intro, repeated filler, the needle "The pass key is K. Remember it. K is the
// pass key." at depth d, and the question; the answer is the key.
//
// Scoring is teacher-forced: one forward over prompt + answer; the key is
// *found* when every answer token is the model's top-1 prediction (exactly what
// greedy decoding would produce), and its log-probability is Σ log p(answer).
// NBCE scores the same prompts with the context cut into chunks (run_nbce with
// the answer forced), so its accuracy sits beside the position methods'.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/analysis/analysis.h"
#include "core/tokenizer/tokenizer.h"

namespace ls {

// The text of a needle task. Defaults: the passkey task.
struct NeedleText {
  std::string intro = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
                      "I will quiz you about the important information there.";
  std::string filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
  std::string needle = "The pass key is {key}. Remember it. {key} is the pass key.";  // {key} replaced
  std::string question = "What is the pass key? The pass key is";
  std::string answer = "{key}";
};

enum class RetrievalTask { Passkey, Needle, LongEvalLines, LongEvalTopics };
const char* task_name(RetrievalTask t);

struct RetrievalPrompt {
  RetrievalTask task = RetrievalTask::Passkey;
  std::vector<int> tokens;         // BOS, prompt, answer
  int answer_begin = 0;            // tokens[answer_begin …] is the answer (teacher-forced)
  int needle_begin = 0, needle_end = 0;  // the needle's token range (the correct line for LongEval)
  int context_begin = 0, context_end = 0;  // the haystack (what NBCE cuts into chunks)
  std::string key;                 // the expected answer as text
  int length = 0;                  // prompt tokens (without the answer)
  double depth = 0;                // where the needle sits in the haystack, 0 … 1
  bool generate = false;           // LongEval as-is: greedy generation, answer found in the output text
};

// The passkey (filler_doc empty: the standard filler) or needle prompt of exactly
// `length` prompt tokens with the needle at `depth` (0 … 1) of the haystack.
// filler_doc: the document tokens used as haystack (needle in a haystack).
Result<RetrievalPrompt> make_needle_prompt(const Tokenizer& tok, const NeedleText& text, const std::string& key,
                                           int length, double depth, const std::vector<int>& filler_doc = {});

// One LongEval test case (a line of LongChat's *_lines.jsonl / *_topics.jsonl).
struct LongEvalCase {
  RetrievalTask task = RetrievalTask::LongEvalLines;
  int id = 0;
  std::string prompt;                  // LongChat's prompt, as given
  std::string expected;                // the number (lines) or the first topic
  std::vector<std::string> lines;      // lines: "line NAME: REGISTER_CONTENT is <N>", in order
  int correct = -1;                    // lines: index of the asked line
  std::string name;                    // lines: the asked line's name
};
// Reads a LongChat test-case file (JSON lines); errors name the line.
Result<std::vector<LongEvalCase>> read_longeval(const std::string& path, RetrievalTask task);

// LongEval `lines` rendered in a base model's own format at `length` prompt tokens:
// the register's lines around the asked one (kept at its relative place), then
// "The <REGISTER_CONTENT> in line NAME is" and the answer "<N>" (teacher-forced).
Result<RetrievalPrompt> make_lines_prompt(const Tokenizer& tok, const LongEvalCase& c, int length);
// LongChat's prompt as it is (for models that follow instructions): scored by greedy
// generation of up to 48 tokens, found when the expected number / topic occurs in
// the output (LongChat's own check, case-insensitive for topics).
Result<RetrievalPrompt> make_longeval_prompt(const Tokenizer& tok, const LongEvalCase& c);

struct RetrievalTrial {
  std::string key;
  bool found = false;
  double logprob = 0;      // Σ log p(answer tokens) (NaN for generated answers)
  std::string output;      // generated text (LongEval as-is)
};

struct RetrievalCell {
  std::string method;   // method spec, or "nbce:k=K"
  int length = 0;
  double depth = 0;
  int found = 0;
  std::vector<RetrievalTrial> trials;
  double accuracy() const { return trials.empty() ? 0.0 : (double)found / (double)trials.size(); }
  double mean_logprob() const;
};

struct RetrievalOptions {
  RetrievalTask task = RetrievalTask::Passkey;
  std::vector<int> lengths;        // prompt lengths in tokens
  std::vector<double> depths;      // 0 … 1 (LongEval as-is: ignored)
  int seeds = 3;                   // trials per cell (passkey/needle keys; LongEval cases)
  unsigned long long seed = 1234;  // keys are drawn from this seed: every method sees the same prompts
  NeedleText text;                 // passkey / needle text
  std::vector<int> filler_doc;     // needle: the document's tokens
  std::vector<LongEvalCase> cases; // LongEval
  std::vector<int> nbce_chunks;    // NBCE rows to add: one per chunk count K
};

struct RetrievalGrid {
  RetrievalTask task = RetrievalTask::Passkey;
  std::vector<std::string> methods;
  std::vector<int> lengths;
  std::vector<double> depths;
  std::vector<RetrievalCell> cells;  // method-major, then length, then depth
  const RetrievalCell* cell(size_t method, size_t length, size_t depth) const;
};

// The key of trial `s` at (length index li, depth index di): five digits, the
// same for every method.
std::string retrieval_key(unsigned long long seed, int s, int li, int di);
// The prompt of one grid trial (what the app opens when a cell is clicked).
Result<RetrievalPrompt> make_trial_prompt(const Tokenizer& tok, const RetrievalOptions& o, int li, int di, int s);

// Scores one prompt with `run`'s method (nbce_k > 0: NBCE with that many chunks).
// nll (optional) receives the per-token NLL of the whole prompt + answer (entry p
// scores tokens[p+1]) when the method is not NBCE.
Result<RetrievalTrial> score_prompt(const RunConfig& run, const Tokenizer& tok, const RetrievalPrompt& p, int nbce_k = 0,
                                    std::vector<double>* nll = nullptr);

// Every method × length × depth × seed; progress over the whole grid; cancel via
// run.engine.cancel.
Result<RetrievalGrid> run_retrieval(const RunConfig& run, const Tokenizer& tok, const std::vector<MethodParams>& methods,
                                    const RetrievalOptions& o);

// The head that attends most to the needle from the answer position: for every
// layer and head, the attention mass on [needle_begin, needle_end) averaged over
// the rows that predict the answer tokens. `row` gets that head's attention row
// at the query predicting the first answer token.
struct RetrievalHead {
  int layer = 0, head = 0;
  double needle_mass = 0;
  int query = 0;
  std::vector<float> row;  // keys 0 … query
};
Result<RetrievalHead> find_retrieval_head(const RunConfig& run, const RetrievalPrompt& p);

}  // namespace ls
