// Hugging Face safetensors: an 8-byte header length, a JSON header, raw data.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/mapped_file.h"
#include "core/model/weight_builder.h"
#include "core/util/memory.h"

namespace ls {

// Reads a small text file whole (config.json, index.json), refusing one larger than max_bytes.
Result<std::string> read_small_file(const std::string& path, size_t max_bytes = kMaxConfigJsonBytes);

// Reads one .safetensors file's tensor table (views into the mapped file).
Status read_safetensors(const std::string& path, std::map<std::string, TensorSource>& out,
                        std::vector<std::shared_ptr<MappedFile>>& keep_alive);

// Resolves a Hugging Face config.json (LlamaForCausalLM / BloomForCausalLM) as
// docs/methods.md §7 says: rope_scaling or rope_parameters, type or rope_type,
// original_max_position_embeddings at top level or inside, partial_rotary_factor,
// head_dim, rope_theta kept when a scaling dict is present.
Status resolve_hf_config(const nlohmann::json& cfg, ModelConfig& c);

// Writer used by tests and `make-random` (F32, F16 or BF16 tensors).
struct SafetensorsWriter {
  struct Tensor { std::string name; std::vector<uint64_t> shape; DType dtype; std::vector<float> data; };
  std::vector<Tensor> tensors;
  Status write(const std::string& path) const;
};

}  // namespace ls
