// gpt-oss (OpenAI, 2025): LLaMA-style blocks with q/k/v/o biases, a learned sink
// logit per head joining every softmax, sliding-window (128) and full layers
// alternating (even layers slide), YaRN (×32 over 4096 in the published config), and
// a mixture of experts whose router has a bias, whose top-k logits are softmaxed
// (the renormalised top-k of a softmax), and whose experts are biased clamped SwiGLUs:
// g = min(gate, 7), u = clamp(up, ±7), (u + 1)·g·σ(1.702·g).
// Sources: transformers' modeling_gpt_oss.py and configuration_gpt_oss.py; llama.cpp's
// gguf-py constants (MODEL_ARCH.GPT_OSS: attn_sinks, post_attention_norm,
// ffn_gate_inp, ffn_{gate,up,down}_exps with biases) — newer than b4747.
#include "core/model/arch/family.h"

namespace ls::arch {
namespace {

using json = nlohmann::json;

constexpr double kSwigluLimit = 7.0;  // llama.cpp's constant; transformers' swiglu_limit default

Status read_hf(const json& cfg, ConfigReader& rd, const HfName&, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.family = "gpt-oss";
  read_hf_rms_geometry(cfg, rd, c, 64, 1e-5);
  c.layout = PairLayout::HalfSplit;  // _apply_rotary_emb: first half, second half
  if (!rd.flag(cfg, "attention_bias", true))
    return make_error("config.json: gpt-oss without attention biases is not supported");
  c.block.qkv_bias = true;
  MoeDesc& m = c.block.moe;
  m.n_experts = rd.integer(cfg, "num_local_experts", 32, 1, 4096);
  m.n_used = rd.integer(cfg, "num_experts_per_tok", rd.integer(cfg, "experts_per_token", 4, 1, 4096), 1, 4096);
  if (m.n_used > m.n_experts) return make_error("config.json: num_experts_per_tok exceeds num_local_experts");
  m.renormalise = true;  // softmax over the top-k logits
  m.swiglu_limit = rd.num(cfg, "swiglu_limit", kSwigluLimit);
  if (!(m.swiglu_limit > 0)) return make_error("config.json: swiglu_limit must be positive");
  c.hidden_dim = rd.integer(cfg, "intermediate_size", 0);
  set_local_layers(c, rd.integer(cfg, "sliding_window", 128), 2);  // layers 0, 2, … slide
  if (auto st = check_layer_types(cfg, c); !st) return st;
  json rope_cfg = cfg;
  rope_cfg.erase("sliding_window");  // per layer kind, not the whole model's native method
  return resolve_hf_rope(rope_cfg, rd, c, 150000.0, 1.0);
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.family = "gpt-oss";
  c.block.qkv_bias = true;
  if (auto st = read_gguf_rope(g, a, c, PairLayout::HalfSplit); !st) return st;  // NEOX rope
  if (auto st = read_gguf_norm_eps(g, a, c, true); !st) return st;
  if (auto st = read_gguf_moe(g, a, c); !st) return st;
  if (c.block.moe.n_experts == 0) return make_error(a + ".expert_count is missing or 0");
  c.block.moe.renormalise = true;
  c.block.moe.swiglu_limit = kSwigluLimit;
  int window = 0;
  LS_TRY_ASSIGN(window, g.get_int_in(a + ".attention.sliding_window", 1, INT32_MAX));
  set_local_layers(c, window, 2);
  return Status::Ok();
}

Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor& has) {
  LlamaTensorNames n = llama_names(f, true);
  moe_names(f, c, n);
  if (f == ModelFormat::Gguf) {
    n.bo = "blk.{}.attn_output.bias";
    n.ffn_norm = "blk.{}.post_attention_norm.weight";
    n.attn_sinks = "blk.{}.attn_sinks.weight";
    n.router_b = "blk.{}.ffn_gate_inp.bias";
    n.exp_gate_b = "blk.{}.ffn_gate_exps.bias";
    n.exp_up_b = "blk.{}.ffn_up_exps.bias";
    n.exp_down_b = "blk.{}.ffn_down_exps.bias";
    return TensorNames{n};
  }
  const std::string p = "model.layers.{}.";
  if (has("model.layers.0.mlp.experts.gate_up_proj_blocks"))
    return make_error("gpt-oss's MXFP4 safetensors experts (gate_up_proj_blocks / _scales) are not supported: open "
                      "its GGUF (MXFP4 loads as stored there) or a dequantised bf16 checkpoint");
  n.bo = p + "self_attn.o_proj.bias";
  n.attn_sinks = p + "self_attn.sinks";
  n.router = p + "mlp.router.weight";
  n.router_b = p + "mlp.router.bias";
  n.exp_gate = n.exp_up = "";
  n.exp_gate_up = p + "mlp.experts.gate_up_proj";
  n.exp_gate_up_b = p + "mlp.experts.gate_up_proj_bias";
  n.exp_down = p + "mlp.experts.down_proj";
  n.exp_down_b = p + "mlp.experts.down_proj_bias";
  return TensorNames{n};
}

json hf_config(const RandomModelSpec& s, const std::string&) {
  json cfg = llama_style_hf_config(s, "GptOssForCausalLM", "gpt_oss");
  cfg["head_dim"] = random_head_dim(s);
  cfg["attention_bias"] = true;
  cfg["num_local_experts"] = s.n_experts;
  cfg["num_experts_per_tok"] = s.n_used;
  cfg["experts_per_token"] = s.n_used;
  cfg["intermediate_size"] = s.hidden_dim;
  cfg["sliding_window"] = s.window;
  cfg["swiglu_limit"] = kSwigluLimit;
  json types = json::array();
  for (int l = 0; l < s.n_layers; ++l) types.push_back(l % 2 == 0 ? "sliding_attention" : "full_attention");
  cfg["layer_types"] = types;
  if (s.yarn_factor > 0) cfg["rope_scaling"] = yarn_rope_scaling(s);
  return cfg;
}

void gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  llama_style_gguf_meta(s, a, w, true);
  w.meta.push_back({a + ".attention.sliding_window", {(uint64_t)s.window}});
  gguf_moe_meta(s, a, w);
}

}  // namespace

const Family kGptOss{{"gpt-oss"}, {"GptOssForCausalLM"}, {"gpt_oss"}, {"gpt-oss"},
                     read_hf,     read_gguf,             names,       hf_config, gguf_meta};

}  // namespace ls::arch
