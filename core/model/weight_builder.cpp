#include "core/model/weight_builder.h"

#include <cmath>
#include <sstream>

namespace ls {
namespace {

std::string shape_str(const std::vector<uint64_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ")";
  return os.str();
}

}  // namespace

const char* arch_name(Arch a) { return a == Arch::Llama ? "llama" : "bloom"; }
const char* layout_name(PairLayout l) { return l == PairLayout::Interleaved ? "interleaved" : "half-split"; }
const char* format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::Llama2c: return "llama2c-bin";
    case ModelFormat::Gguf: return "gguf";
    case ModelFormat::Safetensors: return "safetensors";
  }
  return "?";
}

const TensorSource* WeightBuilder::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

float* WeightBuilder::own(size_t count) {
  model_.owned.emplace_back(count);
  return model_.owned.back().data();
}

Result<const float*> WeightBuilder::get(const std::string& name, std::vector<uint64_t> shape) {
  const TensorSource* t = find(name);
  if (!t) return make_error("tensor " + name + " is missing (expected shape " + shape_str(shape) + ")");
  if (t->shape != shape)
    return make_error("tensor " + name + " has shape " + shape_str(t->shape) + ", the config implies " +
                      shape_str(shape));
  size_t count = 1;
  for (auto d : shape) count *= d;
  if (count % dtype_block(t->dtype) != 0)
    return make_error("tensor " + name + ": " + std::to_string(count) + " elements is not a whole number of " +
                      dtype_name(t->dtype) + " blocks");
  if (dtype_bytes(t->dtype, count) != t->bytes)
    return make_error("tensor " + name + ": " + std::to_string(t->bytes) + " bytes stored, " +
                      std::to_string(dtype_bytes(t->dtype, count)) + " expected for " + dtype_name(t->dtype) + " " +
                      shape_str(shape));
  if (t->dtype == DType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0)
    return reinterpret_cast<const float*>(t->data);  // mapped in place
  float* dst = own(count);
  dequantize(t->dtype, t->data, count, dst);
  return (const float*)dst;
}

Result<const float*> WeightBuilder::get_optional(const std::string& name, std::vector<uint64_t> shape) {
  if (!has(name)) return (const float*)nullptr;
  return get(name, std::move(shape));
}

Status validate_config(const ModelConfig& c) {
  auto bad = [&](const std::string& what) { return Status(make_error("model config: " + what)); };
  if (c.dim < 1 || c.dim > (1 << 16)) return bad("dim " + std::to_string(c.dim) + " is outside [1, 65536]");
  if (c.hidden_dim < 1 || c.hidden_dim > (1 << 18))
    return bad("feed-forward width " + std::to_string(c.hidden_dim) + " is outside [1, 262144]");
  if (c.n_layers < 1 || c.n_layers > 1024) return bad("layer count " + std::to_string(c.n_layers) + " is outside [1, 1024]");
  if (c.n_heads < 1 || c.n_heads > 4096) return bad("head count " + std::to_string(c.n_heads) + " is outside [1, 4096]");
  if (c.n_kv_heads < 1 || c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0)
    return bad("key/value head count " + std::to_string(c.n_kv_heads) + " must divide the head count " +
               std::to_string(c.n_heads));
  if (c.head_dim < 1 || c.head_dim > 4096) return bad("head dimension " + std::to_string(c.head_dim) + " is outside [1, 4096]");
  if (c.vocab_size < 1 || c.vocab_size > (1 << 22))
    return bad("vocabulary size " + std::to_string(c.vocab_size) + " is outside [1, 4194304]");
  if (c.arch == Arch::Llama) {
    if (c.rot_dim < 2 || c.rot_dim > c.head_dim || c.rot_dim % 2)
      return bad("rotary dimension " + std::to_string(c.rot_dim) + " must be even and at most the head dimension " +
                 std::to_string(c.head_dim));
    if (!std::isfinite(c.rope_base) || c.rope_base <= 1.0) return bad("rope base must be > 1");
  }
  if (!(c.norm_eps > 0) || c.norm_eps > 1) return bad("norm epsilon must be in (0, 1]");
  if (c.train_len < 1 || c.train_len > (1 << 24))
    return bad("training length " + std::to_string(c.train_len) + " is outside [1, 16777216]");
  return Status::Ok();
}

long long count_params(const ModelConfig& c) {
  long long d = c.dim, q = (long long)c.n_heads * c.head_dim, kv = (long long)c.n_kv_heads * c.head_dim;
  long long ffn = (c.arch == Arch::Llama ? 3 : 2) * d * c.hidden_dim;
  long long per_layer = d * q + 2 * d * kv + q * d + ffn + 2 * d;
  return (long long)c.vocab_size * d * (c.tied_embeddings ? 1 : 2) + c.n_layers * per_layer + d;
}

Status validate_weights_finite(const Model& m) {
  const ModelConfig& c = m.config;
  const long long d = c.dim, q = (long long)c.n_heads * c.head_dim, kv = (long long)c.n_kv_heads * c.head_dim;
  auto check = [](const float* p, long long n, const std::string& what) -> Status {
    if (!p) return Status::Ok();
    for (long long i = 0; i < n; ++i)
      if (!std::isfinite(p[i]))
        return make_error("weights of " + what + " contain NaN or Inf (element " + std::to_string(i) + ")");
    return Status::Ok();
  };
  const ModelWeights& w = m.weights;
  if (auto s = check(w.tok_embd, (long long)c.vocab_size * d, "the token embedding"); !s) return s;
  if (auto s = check(w.output, (long long)c.vocab_size * d, "the output layer"); !s) return s;
  if (auto s = check(w.out_norm, d, "the final norm"); !s) return s;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    std::string p = "layer " + std::to_string(l) + " ";
    for (auto [ptr, n, name] : {std::tuple{L.wq, q * d, "wq"}, {L.wk, kv * d, "wk"}, {L.wv, kv * d, "wv"},
                                {L.wo, d * q, "wo"}, {L.w_up, d * c.hidden_dim, "ffn up"},
                                {L.w_down, d * c.hidden_dim, "ffn down"}, {L.w_gate, d * c.hidden_dim, "ffn gate"},
                                {L.attn_norm, d, "attention norm"}, {L.ffn_norm, d, "ffn norm"}})
      if (auto s = check(ptr, n, p + name); !s) return s;
  }
  return Status::Ok();
}

}  // namespace ls
