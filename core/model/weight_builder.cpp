#include "core/model/weight_builder.h"

#include "core/util/parallel.h"
#include "core/util/memory.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

size_t element_count(const std::vector<uint64_t>& shape) {
  size_t count = 1;
  for (auto d : shape) count *= d;
  return count;
}

}  // namespace

void set_local_layers(ModelConfig& c, int window, int period) {
  c.block.local_window = window;
  c.block.local_period = window > 0 ? period : 0;
  c.block.layers.clear();
  if (window <= 0 || period <= 0 || c.n_layers < 1 || c.n_layers > 1024) return;  // validate_config refuses the count
  for (int l = 0; l < c.n_layers; ++l) c.block.layers.push_back((l + 1) % period != 0 ? LayerKind::Local : LayerKind::Global);
}

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Bloom: return "bloom";
    case Arch::NeoX: return "gptneox";
    case Arch::Mpt: return "mpt";
  }
  return "?";
}
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

Result<const TensorSource*> WeightBuilder::checked(const std::string& name, const std::vector<uint64_t>& shape) const {
  const TensorSource* t = find(name);
  if (!t) return make_error("tensor " + name + " is missing (expected shape " + shape_str(shape) + ")");
  if (t->shape != shape)
    return make_error("tensor " + name + " has shape " + shape_str(t->shape) + ", the config implies " +
                      shape_str(shape));
  const size_t count = element_count(shape);
  if (count % dtype_block(t->dtype) != 0)
    return make_error("tensor " + name + ": " + std::to_string(count) + " elements is not a whole number of " +
                      dtype_name(t->dtype) + " blocks");
  if (dtype_bytes(t->dtype, count) != t->bytes)
    return make_error("tensor " + name + ": " + std::to_string(t->bytes) + " bytes stored, " +
                      std::to_string(dtype_bytes(t->dtype, count)) + " expected for " + dtype_name(t->dtype) + " " +
                      shape_str(shape));
  return t;
}

Result<Matrix> WeightBuilder::get_matrix(const std::string& name, std::vector<uint64_t> shape) {
  auto t = checked(name, shape);
  if (!t) return make_error(t.error());
  const TensorSource& src = *t.value();
  if ((src.dtype == DType::F16 || src.dtype == DType::BF16) &&
      reinterpret_cast<uintptr_t>(src.data) % alignof(uint16_t) == 0)
    return Matrix{src.data, src.dtype};  // kept as stored
  if (dtype_quantized(src.dtype)) {  // kept as stored: every row whole blocks
    if (shape.back() % dtype_block(src.dtype) != 0)
      return make_error("tensor " + name + ": rows of " + std::to_string(shape.back()) + " elements are not whole " +
                        dtype_name(src.dtype) + " blocks");
    return Matrix{src.data, src.dtype};
  }
  auto f = get(name, std::move(shape));
  if (!f) return make_error(f.error());
  return Matrix{f.value(), DType::F32};
}

Result<const float*> WeightBuilder::get(const std::string& name, std::vector<uint64_t> shape) {
  auto checked_t = checked(name, shape);
  if (!checked_t) return make_error(checked_t.error());
  const TensorSource* t = checked_t.value();
  const size_t count = element_count(shape);
  if (t->dtype == DType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0)
    return reinterpret_cast<const float*>(t->data);  // mapped in place
  // Dequantised copies are the model's largest allocations: checked against the budget first.
  if (auto st = check_memory(count * sizeof(float), "dequantising tensor " + name + " to fp32",
                             "this model is too large for this machine's memory");
      !st)
    return make_error(st.error());
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
  if (!arch_alibi(c.arch)) {
    // At least 4, as core/position requires: NTK's exponent d/(d-2) has no value at d = 2.
    if (c.rot_dim < 4 || c.rot_dim > c.head_dim || c.rot_dim % 2)
      return bad("rotary dimension " + std::to_string(c.rot_dim) + " must be even, at least 4 and at most the head "
                 "dimension " + std::to_string(c.head_dim));
    if (!std::isfinite(c.rope_base) || c.rope_base <= 1.0) return bad("rope base must be > 1");
  }
  // Checked here, before any tensor is read: the blocks with one fused QKV projection
  // of (3·dim, dim) (BLOOM, MPT, GPT-NeoX; not StableLM or Phi, whose q/k/v are separate).
  const bool fused_qkv_block = arch_alibi(c.arch) || c.family == "gptneox";
  if (fused_qkv_block && ((long long)c.n_heads * c.head_dim != c.dim || c.n_kv_heads != c.n_heads))
    return bad(std::string("a ") + arch_name(c.arch) + " model needs heads × head dimension = width and no grouped KV heads (got " +
               std::to_string(c.n_heads) + " × " + std::to_string(c.head_dim) + " vs " + std::to_string(c.dim) + ", " +
               std::to_string(c.n_kv_heads) + " KV heads)");
  if (!(c.norm_eps > 0) || c.norm_eps > 1) return bad("norm epsilon must be in (0, 1]");
  if (const MoeDesc& m = c.block.moe; m.n_experts != 0) {
    if (m.n_experts < 1 || m.n_experts > 4096) return bad(std::to_string(m.n_experts) + " experts is outside [1, 4096]");
    if (m.n_used < 1 || m.n_used > m.n_experts)
      return bad(std::to_string(m.n_used) + " experts per token is outside [1, " + std::to_string(m.n_experts) + "]");
    if (m.shared_hidden < 0 || m.shared_hidden > (1 << 20)) return bad("the shared expert's width is outside [0, 1048576]");
  }
  if (!c.block.layers.empty() && (int)c.block.layers.size() != c.n_layers)
    return bad("the layer kinds cover " + std::to_string(c.block.layers.size()) + " of " + std::to_string(c.n_layers) + " layers");
  if (c.train_len < 1 || c.train_len > (1 << 24))
    return bad("training length " + std::to_string(c.train_len) + " is outside [1, 16777216]");
  return Status::Ok();
}

std::vector<WeightView> weight_views(const Model& m) {
  const ModelConfig& c = m.config;
  const size_t d = c.dim, q = (size_t)c.n_heads * c.head_dim, kv = (size_t)c.n_kv_heads * c.head_dim,
               hid = c.hidden_dim, V = c.vocab_size;
  const ModelWeights& w = m.weights;
  std::vector<WeightView> out;
  auto add = [&](const float* p, size_t n, std::string name) {
    if (p) out.push_back({std::move(name), p, DType::F32, n, false});
  };
  auto add_m = [&](const Matrix& mat, size_t n, std::string name) {
    if (mat) out.push_back({std::move(name), mat.data, mat.dtype, n, true});
  };
  add_m(w.tok_embd, V * d, "the token embedding");
  if (!(w.output == w.tok_embd)) add_m(w.output, V * d, "the output layer");
  add(w.embd_norm, d, "the embedding norm");
  add(w.embd_norm_b, d, "the embedding norm bias");
  add(w.out_norm, d, "the final norm");
  add(w.out_norm_b, d, "the final norm bias");
  add(w.output_b, V, "the output layer bias");
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    const std::string p = "layer " + std::to_string(l) + " ";
    add(L.attn_norm, d, p + "attention norm");
    add(L.attn_norm_b, d, p + "attention norm bias");
    add_m(L.wq, q * d, p + "wq");
    add_m(L.wk, kv * d, p + "wk");
    add_m(L.wv, kv * d, p + "wv");
    add_m(L.wo, d * q, p + "wo");
    add(L.bq, q, p + "q bias");
    add(L.bk, kv, p + "k bias");
    add(L.bv, kv, p + "v bias");
    add(L.bo, d, p + "output bias");
    add(L.ffn_norm, d, p + "ffn norm");
    add(L.ffn_norm_b, d, p + "ffn norm bias");
    add(L.post_attn_norm, d, p + "post-attention norm");
    add(L.post_ffn_norm, d, p + "post-feed-forward norm");
    add(L.q_norm, c.block.qk_norm_full ? q : (size_t)c.head_dim, p + "q norm");
    add(L.k_norm, c.block.qk_norm_full ? kv : (size_t)c.head_dim, p + "k norm");
    add(L.attn_sinks, (size_t)c.n_heads, p + "attention sinks");
    add_m(L.w_gate, hid * d, p + "ffn gate");
    add_m(L.w_up, hid * d, p + "ffn up");
    add_m(L.w_down, d * hid, p + "ffn down");
    add(L.b_up, hid, p + "ffn up bias");
    add(L.b_down, d, p + "ffn down bias");
    const size_t E = L.exp_gate.size(), sh = (size_t)c.block.moe.shared_hidden;
    add_m(L.router, E * d, p + "router");
    add(L.router_b, E, p + "router bias");
    for (size_t e = 0; e < L.exp_gate_b.size(); ++e) {
      const std::string x = p + "expert " + std::to_string(e) + " ";
      add(L.exp_gate_b[e], hid, x + "gate bias");
      add(L.exp_up_b[e], hid, x + "up bias");
      add(L.exp_down_b[e], d, x + "down bias");
    }
    for (size_t e = 0; e < E; ++e) {
      const std::string x = p + "expert " + std::to_string(e) + " ";
      add_m(L.exp_gate[e], hid * d, x + "gate");
      add_m(L.exp_up[e], hid * d, x + "up");
      add_m(L.exp_down[e], d * hid, x + "down");
    }
    add_m(L.sh_gate, sh * d, p + "shared expert gate");
    add_m(L.sh_up, sh * d, p + "shared expert up");
    add_m(L.sh_down, d * sh, p + "shared expert down");
    add_m(L.sh_router, d, p + "shared expert router");
  }
  return out;
}

size_t first_non_finite(const float* p, size_t n) {
  // Branch-free over blocks (the compiler vectorises the OR of exponent tests);
  // only a block that holds a bad value is searched element by element.
  constexpr size_t kBlock = 4096;
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t e = std::min(n, b + kBlock);
    uint32_t bad = 0;
    for (size_t i = b; i < e; ++i) {
      uint32_t bits;
      std::memcpy(&bits, p + i, 4);
      bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      for (size_t i = b; i < e; ++i)
        if (!std::isfinite(p[i])) return i;
  }
  return n;
}

size_t first_non_finite(const uint16_t* p, size_t n, DType dtype) {
  const uint16_t mask = dtype == DType::BF16 ? 0x7f80 : 0x7c00;  // an all-ones exponent: Inf or NaN
  constexpr size_t kBlock = 4096;
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t e = std::min(n, b + kBlock);
    uint32_t bad = 0;
    for (size_t i = b; i < e; ++i) bad |= (uint32_t)((p[i] & mask) == mask);
    if (bad)
      for (size_t i = b; i < e; ++i)
        if ((p[i] & mask) == mask) return i;
  }
  return n;
}

Status validate_weights_finite(const Model& m, int threads) {
  const std::vector<WeightView> views = weight_views(m);
  // Split every tensor into slices of ~1M elements and scan them on all cores.
  struct Slice { size_t view, begin, end; };
  std::vector<Slice> slices;
  constexpr size_t kSlice = size_t{1} << 20;
  for (size_t v = 0; v < views.size(); ++v)
    for (size_t b = 0; b < views[v].count; b += kSlice) slices.push_back({v, b, std::min(views[v].count, b + kSlice)});
  std::vector<size_t> bad(slices.size(), SIZE_MAX);
  parallel_for((int)slices.size(), threads > 0 ? threads : default_threads(), [&](int i) {
    const Slice& s = slices[i];
    const WeightView& v = views[s.view];
    size_t at;
    if (v.dtype == DType::F32) {
      at = first_non_finite(static_cast<const float*>(v.data) + s.begin, s.end - s.begin);
    } else if (dtype_quantized(v.dtype)) {  // widened a piece at a time (slices start on block boundaries)
      at = s.end - s.begin;
      thread_local std::vector<float> buf(4096);
      for (size_t b = s.begin; b < s.end && at == s.end - s.begin; b += buf.size()) {
        const size_t n = std::min(buf.size(), s.end - b);
        dequantize(v.dtype, static_cast<const uint8_t*>(v.data) + dtype_bytes(v.dtype, b), n, buf.data());
        if (size_t k = first_non_finite(buf.data(), n); k < n) at = b - s.begin + k;
      }
    } else {
      at = first_non_finite(static_cast<const uint16_t*>(v.data) + s.begin, s.end - s.begin, v.dtype);
    }
    if (at < s.end - s.begin) bad[i] = s.begin + at;
  });
  for (size_t i = 0; i < slices.size(); ++i)
    if (bad[i] != SIZE_MAX)
      return make_error("weights of " + views[slices[i].view].name + " contain NaN or Inf (element " +
                        std::to_string(bad[i]) + ")");
  return Status::Ok();
}

}  // namespace ls
