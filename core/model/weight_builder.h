// Shared by the loaders: a named tensor source in some dtype, checked against
// the shape the config expects, turned into an fp32 view (mapped or dequantised).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model/dtype.h"
#include "core/model/model.h"

namespace ls {

struct TensorSource {
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;  // outermost first (rows, cols)
  const uint8_t* data = nullptr;
  size_t bytes = 0;
};

class WeightBuilder {
 public:
  WeightBuilder(Model& model, std::map<std::string, TensorSource> tensors)
      : model_(model), tensors_(std::move(tensors)) {}
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const TensorSource* find(const std::string& name) const;
  // fp32 view of tensor `name` with exactly `shape` (outermost first); errors name the tensor.
  Result<const float*> get(const std::string& name, std::vector<uint64_t> shape);
  // Same, but returns nullptr when absent.
  Result<const float*> get_optional(const std::string& name, std::vector<uint64_t> shape);
  // A matrix with exactly `shape`: F16 / BF16 kept as stored (mapped in place),
  // anything else as an fp32 view (mapped or dequantised).
  Result<Matrix> get_matrix(const std::string& name, std::vector<uint64_t> shape);
  // The tensor `name` if it has exactly `shape` and a consistent size, else the error.
  Result<const TensorSource*> checked(const std::string& name, const std::vector<uint64_t>& shape) const;
  // A fresh fp32 buffer the model owns (for splits such as BLOOM's fused QKV).
  float* own(size_t count);

 private:
  Model& model_;
  std::map<std::string, TensorSource> tensors_;
};

// Checks the resolved config for absurd or inconsistent values.
Status validate_config(const ModelConfig& c);
// Every weight of a loaded model (fp32, or F16 / BF16 as stored), named for messages.
struct WeightView {
  std::string name;
  const void* data;
  DType dtype;
  size_t count;
  bool matrix;  // a Matrix (projections, embedding, classifier), else a norm weight or bias vector
};
std::vector<WeightView> weight_views(const Model& m);
// Index of the first NaN or Inf in p[0, n), or n when all are finite.
size_t first_non_finite(const float* p, size_t n);
// The same for 16-bit floats (F16 or BF16 bit patterns).
size_t first_non_finite(const uint16_t* p, size_t n, DType dtype);
// Checks every weight view for NaN / Inf on `threads` cores (0: all); one error
// naming the first bad tensor and element.
Status validate_weights_finite(const Model& m, int threads = 0);

}  // namespace ls
