// longscope-cli commands that load a model (info, ppl, sweep, attention, generate, nbce).
#include "cli/commands.h"

namespace ls::cli {

std::vector<CommandEntry> model_commands() { return {}; }

}  // namespace ls::cli
