// GGUF v2/v3 container: metadata key/values and tensor descriptors, every
// count, length and offset checked against the file size before use.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/model/mapped_file.h"
#include "core/model/weight_builder.h"

namespace ls {

struct GgufValue {
  // Scalars are widened; arrays keep their element kind.
  std::variant<std::monostate, uint64_t, int64_t, double, bool, std::string, std::vector<std::string>,
               std::vector<double>, std::vector<int64_t>>
      v;
};

struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufValue> meta;
  std::map<std::string, TensorSource> tensors;
  std::shared_ptr<MappedFile> file;

  bool has(const std::string& k) const { return meta.count(k) > 0; }
  // Typed look-ups; a present key of the wrong type is an error.
  Result<int64_t> get_int(const std::string& k) const;
  Result<double> get_float(const std::string& k) const;
  Result<std::string> get_string(const std::string& k) const;
  // An integer key that must lie in [lo, hi] (an int after the check).
  Result<int> get_int_in(const std::string& k, int64_t lo, int64_t hi) const;
  // Optional keys: the fallback when absent; an error when present with the wrong type or range.
  Result<int> opt_int_in(const std::string& k, int fallback, int64_t lo, int64_t hi) const;
  Result<double> opt_float(const std::string& k, double fallback) const;
  Result<std::string> opt_string(const std::string& k, const std::string& fallback) const;
  Result<bool> opt_bool(const std::string& k, bool fallback) const;
};

Result<GgufFile> read_gguf(const std::string& path);

// Writer used by tests and `make-random`: F32/F16 tensors, scalar/string/array metadata.
struct GgufWriter {
  std::vector<std::pair<std::string, GgufValue>> meta;
  // `data` quantised to `dtype` on writing (a dtype_writable type), or, when `raw` is
  // set, those bytes as stored blocks of `dtype` (any type: tests of llama-quantize's).
  struct Tensor {
    std::string name;
    std::vector<uint64_t> shape;
    DType dtype;
    std::vector<float> data;
    std::vector<uint8_t> raw = {};
  };
  std::vector<Tensor> tensors;
  Status write(const std::string& path) const;
};

}  // namespace ls
