// Mixture-of-experts families: Mixtral (LLaMA blocks whose feed-forward is a mixture
// of 8 SwiGLU experts, 2 per token, weights renormalised), Qwen2-MoE (Qwen2 blocks
// with q/k/v biases; softmax weights not renormalised by default; a shared expert
// gated by sigmoid(x·w)) and Qwen3-MoE (Qwen3 blocks with per-head q/k norms;
// norm_topk_prob) and OLMoE (64 experts, 8 per token, not renormalised; q and k
// RMS-normed over their whole projections, not per head). Every layer is a mixture (configs with decoder_sparse_step ≠ 1 or
// mlp_only_layers are refused).
// Sources: transformers' modeling_mixtral.py, modeling_qwen2_moe.py,
// modeling_qwen3_moe.py, modeling_olmoe.py; llama.cpp b4747 (llama-arch.cpp LLM_TENSOR_FFN_*_EXPS,
// _SHEXP names; llm_build_moe_ffn with norm_w true for llama/Mixtral, false for
// qwen2moe) and, for qwen3moe, newer llama.cpp (norm_w true).
#include "core/model/arch/family.h"

namespace ls::arch {

using json = nlohmann::json;

void moe_names(ModelFormat f, const ModelConfig& c, LlamaTensorNames& n) {
  if (c.block.moe.n_experts == 0) return;
  n.w_gate = n.w_up = n.w_down = "";  // the experts replace the dense feed-forward
  const bool shared = c.block.moe.shared_hidden > 0;
  if (f == ModelFormat::Gguf) {
    n.stacked_experts = true;
    n.router = "blk.{}.ffn_gate_inp.weight";
    n.exp_gate = "blk.{}.ffn_gate_exps.weight";
    n.exp_up = "blk.{}.ffn_up_exps.weight";
    n.exp_down = "blk.{}.ffn_down_exps.weight";
    if (shared) {
      n.sh_router = "blk.{}.ffn_gate_inp_shexp.weight";
      n.sh_gate = "blk.{}.ffn_gate_shexp.weight";
      n.sh_up = "blk.{}.ffn_up_shexp.weight";
      n.sh_down = "blk.{}.ffn_down_shexp.weight";
    }
    return;
  }
  const std::string p = "model.layers.{}.";
  if (c.family == "mixtral") {  // block_sparse_moe: w1 gate, w3 up, w2 down
    n.router = p + "block_sparse_moe.gate.weight";
    n.exp_gate = p + "block_sparse_moe.experts.{x}.w1.weight";
    n.exp_up = p + "block_sparse_moe.experts.{x}.w3.weight";
    n.exp_down = p + "block_sparse_moe.experts.{x}.w2.weight";
    return;
  }
  n.router = p + "mlp.gate.weight";
  n.exp_gate = p + "mlp.experts.{x}.gate_proj.weight";
  n.exp_up = p + "mlp.experts.{x}.up_proj.weight";
  n.exp_down = p + "mlp.experts.{x}.down_proj.weight";
  if (shared) {
    n.sh_router = p + "mlp.shared_expert_gate.weight";
    n.sh_gate = p + "mlp.shared_expert.gate_proj.weight";
    n.sh_up = p + "mlp.shared_expert.up_proj.weight";
    n.sh_down = p + "mlp.shared_expert.down_proj.weight";
  }
}

Status read_gguf_moe(const GgufFile& g, const std::string& a, ModelConfig& c) {
  MoeDesc& m = c.block.moe;
  LS_TRY_ASSIGN(m.n_experts, g.opt_int_in(a + ".expert_count", 0, 0, 4096));
  if (m.n_experts == 0) return Status::Ok();
  LS_TRY_ASSIGN(m.n_used, g.get_int_in(a + ".expert_used_count", 1, m.n_experts));
  if (g.has(a + ".expert_feed_forward_length"))
    LS_TRY_ASSIGN(c.hidden_dim, g.get_int_in(a + ".expert_feed_forward_length", 1, INT32_MAX));
  LS_TRY_ASSIGN(m.shared_hidden, g.opt_int_in(a + ".expert_shared_feed_forward_length", 0, 0, 1 << 20));
  m.renormalise = a != "qwen2moe" && a != "olmoe";  // llama.cpp's norm_w: llama (Mixtral), qwen3moe; not qwen2moe, olmoe
  if (a == "llama") c.family = "mixtral";
  return Status::Ok();
}

void gguf_moe_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  if (s.n_experts == 0) return;
  w.meta.push_back({a + ".expert_count", {(uint64_t)s.n_experts}});
  w.meta.push_back({a + ".expert_used_count", {(uint64_t)s.n_used}});
  if (a != "llama") w.meta.push_back({a + ".expert_feed_forward_length", {(uint64_t)s.hidden_dim}});
  if (s.shared_hidden > 0) w.meta.push_back({a + ".expert_shared_feed_forward_length", {(uint64_t)s.shared_hidden}});
}

namespace {

Status read_hf(const json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.family = name.is("MixtralForCausalLM", "mixtral")      ? "mixtral"
             : name.is("Qwen2MoeForCausalLM", "qwen2_moe") ? "qwen2moe"
             : name.is("OlmoeForCausalLM", "olmoe")        ? "olmoe"
                                                           : "qwen3moe";
  const bool mixtral = c.family == "mixtral";
  c.block.qkv_bias = c.family == "qwen2moe";
  c.block.qk_norm = c.family == "qwen3moe" || c.family == "olmoe";
  c.block.qk_norm_full = c.family == "olmoe";
  if (c.family == "olmoe" && !cfg.value("clip_qkv", json()).is_null())
    return make_error("config.json: OLMoE with clip_qkv is not supported");
  read_hf_rms_geometry(cfg, rd, c);
  c.layout = PairLayout::HalfSplit;
  MoeDesc& m = c.block.moe;
  if (mixtral) {
    m.n_experts = rd.integer(cfg, "num_local_experts", 8, 1, 4096);
    m.n_used = rd.integer(cfg, "num_experts_per_tok", 2, 1, 4096);
    c.hidden_dim = rd.integer(cfg, "intermediate_size", 0);
    m.renormalise = true;  // MixtralSparseMoeBlock divides the top-k weights by their sum
  } else {
    m.n_experts = rd.integer(cfg, "num_experts", 60, 1, 4096);
    m.n_used = rd.integer(cfg, "num_experts_per_tok", 4, 1, 4096);
    // OLMoE names each expert's width intermediate_size
    c.hidden_dim = rd.integer(cfg, c.family == "olmoe" ? "intermediate_size" : "moe_intermediate_size", 0);
    m.renormalise = rd.flag(cfg, "norm_topk_prob", false);
    if (c.family == "qwen2moe") m.shared_hidden = rd.integer(cfg, "shared_expert_intermediate_size", 0, 0, 1 << 20);
    if (rd.integer(cfg, "decoder_sparse_step", 1) != 1)
      return make_error("config.json: " + c.family + " with decoder_sparse_step other than 1 (dense layers between "
                        "mixtures) is not supported");
    if (auto it = cfg.find("mlp_only_layers"); it != cfg.end() && it->is_array() && !it->empty())
      return make_error("config.json: " + c.family + " with mlp_only_layers (dense layers) is not supported");
  }
  if (m.n_used > m.n_experts)
    return make_error("config.json: num_experts_per_tok exceeds the number of experts");
  if (c.family != "qwen2moe" && rd.flag(cfg, "attention_bias"))
    return make_error("config.json: " + c.family + " with attention_bias = true is not supported");
  return resolve_hf_rope(cfg, rd, c, mixtral ? 1e6 : 10000.0, 1.0);
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.block.qkv_bias = a == "qwen2moe";
  c.block.qk_norm = a == "qwen3moe" || a == "olmoe";
  c.block.qk_norm_full = a == "olmoe";
  if (auto st = read_gguf_moe(g, a, c); !st) return st;
  if (c.block.moe.n_experts == 0) return make_error(a + ".expert_count is missing or 0");
  if (auto st = read_gguf_rope(g, a, c, PairLayout::HalfSplit); !st) return st;  // NEOX rope
  return read_gguf_norm_eps(g, a, c, true);
}

Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor&) {
  LlamaTensorNames n = llama_names(f, c.block.qkv_bias, false, c.block.qk_norm);
  moe_names(f, c, n);
  return TensorNames{n};
}

json hf_config(const RandomModelSpec& s, const std::string& member) {
  json cfg = member == "mixtral"    ? llama_style_hf_config(s, "MixtralForCausalLM", "mixtral")
             : member == "qwen2moe" ? llama_style_hf_config(s, "Qwen2MoeForCausalLM", "qwen2_moe")
             : member == "olmoe"    ? llama_style_hf_config(s, "OlmoeForCausalLM", "olmoe")
                                    : llama_style_hf_config(s, "Qwen3MoeForCausalLM", "qwen3_moe");
  if (member == "mixtral") {
    cfg["num_local_experts"] = s.n_experts;
  } else if (member == "olmoe") {
    cfg["num_experts"] = s.n_experts;
    cfg["norm_topk_prob"] = false;
    cfg["clip_qkv"] = nullptr;
  } else {
    cfg["num_experts"] = s.n_experts;
    cfg["moe_intermediate_size"] = s.hidden_dim;
    cfg["intermediate_size"] = 4 * s.hidden_dim;  // the dense width transformers also declares (unused)
    cfg["norm_topk_prob"] = member == "qwen3moe";
    cfg["decoder_sparse_step"] = 1;
    cfg["mlp_only_layers"] = json::array();
    cfg["head_dim"] = random_head_dim(s);
    if (member == "qwen2moe") cfg["shared_expert_intermediate_size"] = s.shared_hidden;
  }
  cfg["num_experts_per_tok"] = s.n_used;
  return cfg;
}

void gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  llama_style_gguf_meta(s, a, w, true);
  gguf_moe_meta(s, a, w);
}

}  // namespace

const Family kMoe{{"mixtral", "qwen2moe", "qwen3moe", "olmoe"},
                  {"MixtralForCausalLM", "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM", "OlmoeForCausalLM"},
                  {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe"},
                  {"qwen2moe", "qwen3moe", "olmoe"},
                  read_hf, read_gguf, names, hf_config, gguf_meta};

}  // namespace ls::arch
