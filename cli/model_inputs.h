// Shared by the model commands: load the model, tokenizer, document tokens,
// method and run settings from the command line, each with a one-line error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "core/analysis/analysis.h"
#include "core/tokenizer/tokenizer.h"

namespace ls::cli {

// The bundled demo model (resources/models).
std::string default_model_path();

struct ModelInputs {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;  // may be null when not needed
};

// --model (default: bundled), --train-len, --tokenizer.
Result<ModelInputs> load_model_inputs(const Args& a, bool need_tokenizer);
// --text FILE (encoded as a document, BOS per story) or --tokens FILE (ids, no BOS added).
Result<std::vector<int>> load_document_tokens(const Args& a, const ModelInputs& in);
// --method (default: the model's native method), --threads, --precision, --backend.
Result<RunConfig> load_run_config(const Args& a, const ModelInputs& in);
// The three steps every document command starts with: model (and tokenizer when
// --text is given), the document's tokens, and the run settings.
struct DocumentRun {
  ModelInputs in;
  std::vector<int> tokens;
  RunConfig run;
};
Result<DocumentRun> load_document_run(const Args& a);

// Parses "256,512,1024".
Result<std::vector<int>> parse_int_list(const std::string& what, const std::string& text, int lo, int hi);

extern const std::vector<OptionSpec> kModelOptions;  // --model, --tokenizer, --train-len
extern const std::vector<OptionSpec> kRunOptions;    // --method, --threads, --precision, --backend

}  // namespace ls::cli
