// JSON from files users bring (config.json, index files, tokenizer.json,
// tokenizer_config.json, known models, sessions): parsed with a nesting limit (a
// file nested thousands of levels deep gets an error, not a stack overflow in a
// recursive copy), after a memory check against an estimate that holds for any
// input of that size, and without copying untrusted subtrees afterwards (callers
// read values in place).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/util/status.h"

namespace ls {

inline constexpr int kMaxJsonDepth = 64;  // real configs and tokenizers nest fewer than 10 levels

// An upper bound on the memory a parsed document of `bytes` bytes of JSON text can
// take (every value at least two bytes of text; a value, its slot in its container
// and the container's growth, a map node and a short key per object member).
size_t json_memory_estimate(size_t bytes);

// Called for each parse event with the nesting depth; return false to leave the
// value out of the result (nlohmann::json's parser_callback_t). Lets a reader take
// large arrays (a vocabulary, merges) into its own structures as they are read.
// A hook may throw JsonStop to end the parse with that message.
struct JsonStop {
  std::string message;
};
using JsonHook = std::function<bool(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed)>;

// Parses `text`; `what` names it in errors ("tokenizer x.json"). Errors: not JSON
// (with the byte offset), nested deeper than `max_depth`, more memory than available
// (`memory_estimate` bytes, or json_memory_estimate() when 0: a reader whose hook
// keeps less than the whole document gives its own bound).
Result<nlohmann::json> parse_json(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth,
                                  const JsonHook& hook = nullptr, size_t memory_estimate = 0);

}  // namespace ls
