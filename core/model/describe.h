// A loaded model described once, for every place that shows one: `longscope-cli
// info` prints model_description() as JSON, the app's model dock shows model_line().
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/model/model.h"

namespace ls {

// Every resolved value of the model (geometry, positions, layer traits, the training
// length and where it came from, the native method, weights' type), in `info`'s keys.
nlohmann::json model_description(const Model& m);

// One line: name, format, family and its traits, tokenizer, geometry, L (and its
// source), base, pair layout, native method, backend.
std::string model_line(const Model& m, const std::string& tokenizer_kind, const std::string& backend);

}  // namespace ls
