// A loaded model described once, for every place that shows one: `longscope-cli
// info` prints model_description() as JSON, the app's model dock shows model_line().
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model.h"

namespace ls {

// Every resolved value of the model (geometry, positions, layer traits, the training
// length and where it came from, the native method, weights' type), in `info`'s keys.
nlohmann::json model_description(const Model& m);

// One line: name, format, family and its traits, tokenizer, geometry, L (and its
// source), base, pair layout, native method, backend.
std::string model_line(const Model& m, const std::string& tokenizer_kind, const std::string& backend);

// The layers that carry no position (NoPE), and a phrase for them ("position in 27 of
// 36 layers (none in 3, 7, …)"; "" when every layer carries position).
std::vector<int> layers_without_position(const ModelConfig& c);
std::string position_layers_text(const ModelConfig& c);

}  // namespace ls
