#include "core/model/arch_weights.h"

#include <cstring>

namespace ls {
namespace {

std::string at(const std::string& pattern, int layer) {
  std::string s = pattern;
  auto pos = s.find("{}");
  if (pos != std::string::npos) s.replace(pos, 2, std::to_string(layer));
  return s;
}

// An expert's tensor name: "{x}" replaced by its index.
std::string expert_at(const std::string& pattern, int layer, int expert) {
  std::string s = at(pattern, layer);
  auto pos = s.find("{x}");
  if (pos != std::string::npos) s.replace(pos, 3, std::to_string(expert));
  return s;
}

// Token embedding, and the classifier (tied to the embedding when the file has none).
Status embeddings_and_classifier(WeightBuilder& b, Model& model, const std::string& tok, const std::string& out) {
  const uint64_t d = model.config.dim, V = model.config.vocab_size;
  ModelWeights& w = model.weights;
  LS_TRY_ASSIGN(w.tok_embd, b.get_matrix(tok, {V, d}));
  if (b.has(out)) LS_TRY_ASSIGN(w.output, b.get_matrix(out, {V, d}));
  model.config.tied_embeddings = !w.output;
  if (!w.output) w.output = w.tok_embd;
  w.layers.assign(model.config.n_layers, {});
  return Status::Ok();
}

// Rows first … of a row-major matrix of `cols` columns, as a view (no copy).
Matrix matrix_rows(const Matrix& m, uint64_t first, uint64_t cols) {
  Matrix r = m;
  r.data = static_cast<const uint8_t*>(m.data) + first * dtype_bytes(m.dtype, cols);
  return r;
}

// transformers' gpt-oss experts: gate_up_proj (E, dim, 2·hidden) with gate and up
// columns alternating, down_proj (E, hidden, dim), both input-major, and their biases;
// rebound here as LongScope's (out, in) matrices in fp32 (the model owns them).
Status bind_fused_experts(WeightBuilder& b, const ModelConfig& c, const LlamaTensorNames& n, int l, LayerWeights& L) {
  const uint64_t d = c.dim, hid = c.hidden_dim, E = (uint64_t)c.block.moe.n_experts;
  const float *gu, *gub, *dn, *dnb;
  LS_TRY_ASSIGN(gu, b.get(at(n.exp_gate_up, l), {E, d, 2 * hid}));
  LS_TRY_ASSIGN(gub, b.get(at(n.exp_gate_up_b, l), {E, 2 * hid}));
  LS_TRY_ASSIGN(dn, b.get(at(n.exp_down, l), {E, hid, d}));
  LS_TRY_ASSIGN(dnb, b.get(at(n.exp_down_b, l), {E, d}));
  for (uint64_t e = 0; e < E; ++e) {
    float* g = b.own(hid * d);
    float* u = b.own(hid * d);
    float* o = b.own(d * hid);
    float* bias = b.own(2 * hid);
    const float* src = gu + e * d * 2 * hid;
    for (uint64_t i = 0; i < d; ++i)
      for (uint64_t k = 0; k < hid; ++k) {
        g[k * d + i] = src[i * 2 * hid + 2 * k];
        u[k * d + i] = src[i * 2 * hid + 2 * k + 1];
      }
    for (uint64_t k = 0; k < hid; ++k) bias[k] = gub[e * 2 * hid + 2 * k], bias[hid + k] = gub[e * 2 * hid + 2 * k + 1];
    const float* ds = dn + e * hid * d;
    for (uint64_t k = 0; k < hid; ++k)
      for (uint64_t i = 0; i < d; ++i) o[i * hid + k] = ds[k * d + i];
    L.exp_gate[e] = Matrix{g, DType::F32};
    L.exp_up[e] = Matrix{u, DType::F32};
    L.exp_down[e] = Matrix{o, DType::F32};
    L.exp_gate_b.push_back(bias);
    L.exp_up_b.push_back(bias + hid);
    L.exp_down_b.push_back(dnb + e * d);
  }
  return Status::Ok();
}

// A layer's mixture of experts: the router, E experts (views into stacked tensors,
// or one tensor each), the shared expert and its one-row gate.
Status bind_experts(WeightBuilder& b, const ModelConfig& c, const LlamaTensorNames& n, int l, LayerWeights& L) {
  const uint64_t d = c.dim, hid = c.hidden_dim, E = (uint64_t)c.block.moe.n_experts, sh = c.block.moe.shared_hidden;
  LS_TRY_ASSIGN(L.router, b.get_matrix(at(n.router, l), {E, d}));
  if (!n.router_b.empty()) LS_TRY_ASSIGN(L.router_b, b.get(at(n.router_b, l), {E}));
  L.exp_gate.resize(E), L.exp_up.resize(E), L.exp_down.resize(E);
  if (!n.exp_gate_up.empty()) return bind_fused_experts(b, c, n, l, L);
  if (!n.exp_gate_b.empty()) {  // stacked biases: views per expert
    const float *gb, *ub, *db;
    LS_TRY_ASSIGN(gb, b.get(at(n.exp_gate_b, l), {E, hid}));
    LS_TRY_ASSIGN(ub, b.get(at(n.exp_up_b, l), {E, hid}));
    LS_TRY_ASSIGN(db, b.get(at(n.exp_down_b, l), {E, d}));
    for (uint64_t e = 0; e < E; ++e) {
      L.exp_gate_b.push_back(gb + e * hid);
      L.exp_up_b.push_back(ub + e * hid);
      L.exp_down_b.push_back(db + e * d);
    }
  }
  if (n.stacked_experts) {
    Matrix g, u, dn;
    LS_TRY_ASSIGN(g, b.get_matrix(at(n.exp_gate, l), {E, hid, d}));
    LS_TRY_ASSIGN(u, b.get_matrix(at(n.exp_up, l), {E, hid, d}));
    LS_TRY_ASSIGN(dn, b.get_matrix(at(n.exp_down, l), {E, d, hid}));
    for (uint64_t e = 0; e < E; ++e) {
      L.exp_gate[e] = matrix_rows(g, e * hid, d);
      L.exp_up[e] = matrix_rows(u, e * hid, d);
      L.exp_down[e] = matrix_rows(dn, e * d, hid);
    }
  } else {
    for (uint64_t e = 0; e < E; ++e) {
      LS_TRY_ASSIGN(L.exp_gate[e], b.get_matrix(expert_at(n.exp_gate, l, (int)e), {hid, d}));
      LS_TRY_ASSIGN(L.exp_up[e], b.get_matrix(expert_at(n.exp_up, l, (int)e), {hid, d}));
      LS_TRY_ASSIGN(L.exp_down[e], b.get_matrix(expert_at(n.exp_down, l, (int)e), {d, hid}));
    }
  }
  if (sh == 0) return Status::Ok();
  LS_TRY_ASSIGN(L.sh_gate, b.get_matrix(at(n.sh_gate, l), {sh, d}));
  LS_TRY_ASSIGN(L.sh_up, b.get_matrix(at(n.sh_up, l), {sh, d}));
  LS_TRY_ASSIGN(L.sh_down, b.get_matrix(at(n.sh_down, l), {d, sh}));
  // The shared expert's gate: a vector in GGUF, one row in transformers' files.
  const std::string gate = at(n.sh_router, l);
  const TensorSource* t = b.find(gate);
  const std::vector<uint64_t> shape = t && t->shape.size() == 1 ? std::vector<uint64_t>{d} : std::vector<uint64_t>{1, d};
  const float* w;
  LS_TRY_ASSIGN(w, b.get(gate, shape));
  L.sh_router = Matrix{w, DType::F32};
  return Status::Ok();
}

}  // namespace

Status build_llama_weights(WeightBuilder& b, Model& model, const LlamaTensorNames& n) {
  const ModelConfig& c = model.config;
  const uint64_t d = c.dim, hid = c.hidden_dim;
  const uint64_t q = (uint64_t)c.n_heads * c.head_dim, kv = (uint64_t)c.n_kv_heads * c.head_dim;
  ModelWeights& w = model.weights;
  if (auto st = embeddings_and_classifier(b, model, n.tok_embd, n.output); !st) return st;
  // A norm weight, as 1 + w when the file stores w (Gemma in transformers).
  auto norm = [&](const std::string& name) -> Result<const float*> {
    auto r = b.get(name, {d});
    if (!r || !n.norm_plus_one) return r;
    float* one = b.own(d);
    for (uint64_t i = 0; i < d; ++i) one[i] = 1.0f + r.value()[i];
    return (const float*)one;
  };
  // A vector named by a pattern that may be empty (the model has no such tensor).
  auto vec = [&](const std::string& name, uint64_t len) -> Result<const float*> {
    if (name.empty()) return (const float*)nullptr;
    return b.get(name, {len});
  };
  LS_TRY_ASSIGN(w.out_norm, norm(n.out_norm));
  LS_TRY_ASSIGN(w.out_norm_b, vec(n.out_norm_b, d));
  LS_TRY_ASSIGN(w.output_b, vec(n.output_b, (uint64_t)c.vocab_size));
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[l];
    LS_TRY_ASSIGN(L.attn_norm, norm(at(n.attn_norm, l)));
    LS_TRY_ASSIGN(L.attn_norm_b, vec(at(n.attn_norm_b, l), d));
    if (!n.post_attn_norm.empty()) {
      LS_TRY_ASSIGN(L.post_attn_norm, norm(at(n.post_attn_norm, l)));
      LS_TRY_ASSIGN(L.post_ffn_norm, norm(at(n.post_ffn_norm, l)));
    }
    if (!n.attn_sinks.empty()) LS_TRY_ASSIGN(L.attn_sinks, b.get(at(n.attn_sinks, l), {(uint64_t)c.n_heads}));
    if (!n.q_norm.empty()) {  // per-head norms: head_dim weights (OLMoE's: the whole projection's)
      const bool full = c.block.qk_norm_full;
      for (auto [name, dst, len] : {std::tuple{&n.q_norm, &L.q_norm, full ? q : (uint64_t)c.head_dim},
                                    std::tuple{&n.k_norm, &L.k_norm, full ? kv : (uint64_t)c.head_dim}}) {
        const float* r;
        LS_TRY_ASSIGN(r, b.get(at(*name, l), {len}));
        float* one = b.own(len);
        for (uint64_t i = 0; i < len; ++i) one[i] = (n.norm_plus_one ? 1.0f : 0.0f) + r[i];
        *dst = one;
      }
    }
    if (!n.wqkv.empty()) {  // rows q, then k, then v: views into the one tensor
      Matrix qkv;
      LS_TRY_ASSIGN(qkv, b.get_matrix(at(n.wqkv, l), {q + 2 * kv, d}));
      L.wq = matrix_rows(qkv, 0, d);
      L.wk = matrix_rows(qkv, q, d);
      L.wv = matrix_rows(qkv, q + kv, d);
      if (!n.bqkv.empty()) {  // its bias: q, k, v entries in the same order
        const float* bqkv;
        LS_TRY_ASSIGN(bqkv, b.get(at(n.bqkv, l), {q + 2 * kv}));
        L.bq = bqkv, L.bk = bqkv + q, L.bv = bqkv + q + kv;
      }
    } else {
      LS_TRY_ASSIGN(L.wq, b.get_matrix(at(n.wq, l), {q, d}));
      LS_TRY_ASSIGN(L.wk, b.get_matrix(at(n.wk, l), {kv, d}));
      LS_TRY_ASSIGN(L.wv, b.get_matrix(at(n.wv, l), {kv, d}));
    }
    LS_TRY_ASSIGN(L.wo, b.get_matrix(at(n.wo, l), {d, q}));
    LS_TRY_ASSIGN(L.bo, vec(at(n.bo, l), d));
    if (!n.bq.empty()) {
      LS_TRY_ASSIGN(L.bq, b.get(at(n.bq, l), {q}));
      LS_TRY_ASSIGN(L.bk, b.get(at(n.bk, l), {kv}));
      LS_TRY_ASSIGN(L.bv, b.get(at(n.bv, l), {kv}));
    }
    if (!n.ffn_norm.empty()) {
      LS_TRY_ASSIGN(L.ffn_norm, norm(at(n.ffn_norm, l)));
      LS_TRY_ASSIGN(L.ffn_norm_b, vec(at(n.ffn_norm_b, l), d));
    }
    if (c.block.moe.n_experts > 0) {
      // the experts replace the dense feed-forward (bound below)
    } else if (n.w_gate.empty() && n.w_gate_up.empty()) {  // GELU: up and down only
      LS_TRY_ASSIGN(L.w_up, b.get_matrix(at(n.w_up, l), {hid, d}));
    } else if (!n.w_gate_up.empty()) {  // rows gate, then up (Phi3MLP: gate, up = chunk(2))
      Matrix gu;
      LS_TRY_ASSIGN(gu, b.get_matrix(at(n.w_gate_up, l), {2 * hid, d}));
      L.w_gate = matrix_rows(gu, 0, d);
      L.w_up = matrix_rows(gu, hid, d);
    } else {
      LS_TRY_ASSIGN(L.w_gate, b.get_matrix(at(n.w_gate, l), {hid, d}));
      LS_TRY_ASSIGN(L.w_up, b.get_matrix(at(n.w_up, l), {hid, d}));
    }
    if (c.block.moe.n_experts > 0) {
      if (auto st = bind_experts(b, c, n, l, L); !st) return st;
      continue;
    }
    LS_TRY_ASSIGN(L.b_up, vec(at(n.b_up, l), hid));
    LS_TRY_ASSIGN(L.w_down, b.get_matrix(at(n.w_down, l), {d, hid}));
    LS_TRY_ASSIGN(L.b_down, vec(at(n.b_down, l), d));
  }
  return Status::Ok();
}

Status build_bloom_weights(WeightBuilder& b, Model& model, const BloomTensorNames& n) {
  const ModelConfig& c = model.config;
  const uint64_t d = c.dim, hid = c.hidden_dim, hd = c.head_dim, H = c.n_heads;
  ModelWeights& w = model.weights;
  // A vector that may be absent: an empty name, or an optional bias the file lacks.
  auto vec = [&](const std::string& name, uint64_t len, bool optional) -> Result<const float*> {
    if (name.empty() || (optional && !b.has(name))) return (const float*)nullptr;
    return b.get(name, {len});
  };
  const bool ob = n.optional_biases;
  if (auto st = embeddings_and_classifier(b, model, n.tok_embd, n.output); !st) return st;
  LS_TRY_ASSIGN(w.embd_norm, vec(n.embd_norm, d, false));
  LS_TRY_ASSIGN(w.embd_norm_b, vec(n.embd_norm_b, d, false));
  LS_TRY_ASSIGN(w.out_norm, b.get(n.out_norm, {d}));
  LS_TRY_ASSIGN(w.out_norm_b, vec(n.out_norm_b, d, ob));
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[l];
    const float *qkv, *qkv_b;
    LS_TRY_ASSIGN(qkv, b.get(at(n.qkv, l), {3 * d, d}));
    LS_TRY_ASSIGN(qkv_b, vec(at(n.qkv_b, l), 3 * d, ob));
    // Split the fused projection into q, k, v (rows of `d` inputs each).
    float* parts[3] = {b.own(d * d), b.own(d * d), b.own(d * d)};
    float* biases[3] = {nullptr, nullptr, nullptr};
    if (qkv_b) biases[0] = b.own(d), biases[1] = b.own(d), biases[2] = b.own(d);
    for (uint64_t h = 0; h < H; ++h)
      for (int part = 0; part < 3; ++part)
        for (uint64_t r = 0; r < hd; ++r) {
          uint64_t src = n.qkv_per_head ? (h * 3 + part) * hd + r : part * d + h * hd + r;
          std::memcpy(parts[part] + (h * hd + r) * d, qkv + src * d, d * sizeof(float));
          if (qkv_b) biases[part][h * hd + r] = qkv_b[src];
        }
    L.wq = Matrix{parts[0], DType::F32};
    L.wk = Matrix{parts[1], DType::F32};
    L.wv = Matrix{parts[2], DType::F32};
    L.bq = biases[0];
    L.bk = biases[1];
    L.bv = biases[2];
    LS_TRY_ASSIGN(L.attn_norm, b.get(at(n.attn_norm, l), {d}));
    LS_TRY_ASSIGN(L.attn_norm_b, vec(at(n.attn_norm_b, l), d, ob));
    LS_TRY_ASSIGN(L.wo, b.get_matrix(at(n.wo, l), {d, d}));
    LS_TRY_ASSIGN(L.bo, vec(at(n.bo, l), d, ob));
    LS_TRY_ASSIGN(L.ffn_norm, b.get(at(n.ffn_norm, l), {d}));
    LS_TRY_ASSIGN(L.ffn_norm_b, vec(at(n.ffn_norm_b, l), d, ob));
    LS_TRY_ASSIGN(L.w_up, b.get_matrix(at(n.w_up, l), {hid, d}));
    LS_TRY_ASSIGN(L.b_up, vec(at(n.b_up, l), hid, ob));
    LS_TRY_ASSIGN(L.w_down, b.get_matrix(at(n.w_down, l), {d, hid}));
    LS_TRY_ASSIGN(L.b_down, vec(at(n.b_down, l), d, ob));
  }
  return Status::Ok();
}

}  // namespace ls
