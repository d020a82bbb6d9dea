// The LLaMA family: LLaMA 1–3, Mistral, Qwen2 (q/k/v biases), Phi-3 (fused qkv
// and gate+up projections), Qwen3 (q and k RMS-normed per head before the rotation,
// an explicit head_dim) and SmolLM3 (every fourth layer without position: "NoPE").
// RMSNorm, SwiGLU, rotary over the whole head.
// Sources: transformers' modeling_llama.py, modeling_mistral.py, modeling_qwen2.py,
// modeling_phi3.py, modeling_qwen3.py, modeling_smollm3.py; llama.cpp b4747
// (llama-arch.cpp tensor names, llama-model.cpp) and, for qwen3 and smollm3, newer
// llama.cpp (src/models/qwen3.cpp, smollm3.cpp: NEOX rope for qwen3; no rope where
// (layer + 1) % 4 == 0 for smollm3, a constant with no GGUF key).
#include "core/model/arch/family.h"

namespace ls::arch {

using json = nlohmann::json;

LlamaTensorNames llama_names(ModelFormat f, bool qkv_bias, bool fused, bool qk_norm) {
  LlamaTensorNames n;
  if (f == ModelFormat::Gguf) {
    n = {"token_embd.weight", "output_norm.weight", "output.weight",
         "blk.{}.attn_norm.weight", "blk.{}.attn_q.weight", "blk.{}.attn_k.weight", "blk.{}.attn_v.weight",
         "blk.{}.attn_output.weight", "blk.{}.ffn_norm.weight", "blk.{}.ffn_gate.weight", "blk.{}.ffn_up.weight",
         "blk.{}.ffn_down.weight"};
    if (qkv_bias) n.bq = "blk.{}.attn_q.bias", n.bk = "blk.{}.attn_k.bias", n.bv = "blk.{}.attn_v.bias";
    if (fused) n.wqkv = "blk.{}.attn_qkv.weight", n.w_gate_up = "blk.{}.ffn_up.weight";  // llama.cpp's phi3 tensors
    if (qk_norm) n.q_norm = "blk.{}.attn_q_norm.weight", n.k_norm = "blk.{}.attn_k_norm.weight";
  } else {
    const std::string p = "model.layers.{}.";
    n = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
         p + "input_layernorm.weight", p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
         p + "self_attn.v_proj.weight", p + "self_attn.o_proj.weight", p + "post_attention_layernorm.weight",
         p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"};
    if (qkv_bias) n.bq = p + "self_attn.q_proj.bias", n.bk = p + "self_attn.k_proj.bias", n.bv = p + "self_attn.v_proj.bias";
    if (fused) n.wqkv = p + "self_attn.qkv_proj.weight", n.w_gate_up = p + "mlp.gate_up_proj.weight";
    if (qk_norm) n.q_norm = p + "self_attn.q_norm.weight", n.k_norm = p + "self_attn.k_norm.weight";
  }
  if (fused) n.wq = n.wk = n.wv = n.w_gate = n.w_up = "";  // the fused tensors replace them
  return n;
}

json llama_style_hf_config(const RandomModelSpec& s, const std::string& architecture, const std::string& model_type) {
  return {{"architectures", {architecture}}, {"model_type", model_type}, {"hidden_size", s.dim},
          {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers}, {"num_attention_heads", s.n_heads},
          {"num_key_value_heads", s.n_kv_heads}, {"rms_norm_eps", 1e-5}, {"vocab_size", s.vocab_size},
          {"max_position_embeddings", s.train_len}, {"rope_theta", s.rope_base}, {"tie_word_embeddings", false},
          {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "float32"}};
}

json yarn_rope_scaling(const RandomModelSpec& s) {
  return {{"rope_type", "yarn"}, {"factor", s.yarn_factor}, {"original_max_position_embeddings", s.train_len}};
}

void llama_style_gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w, bool head_lengths) {
  gguf_rope_meta(s, a, w);
  w.meta.push_back({a + ".attention.layer_norm_rms_epsilon", {1e-5}});
  if (head_lengths) {
    w.meta.push_back({a + ".attention.key_length", {(uint64_t)random_head_dim(s)}});
    w.meta.push_back({a + ".attention.value_length", {(uint64_t)random_head_dim(s)}});
  }
  if (s.yarn_factor > 0) {
    w.meta.push_back({a + ".rope.scaling.type", {std::string("yarn")}});
    w.meta.push_back({a + ".rope.scaling.factor", {s.yarn_factor}});
    w.meta.push_back({a + ".rope.scaling.original_context_length", {(uint64_t)s.train_len}});
  }
}

void gguf_rope_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  w.meta.push_back({a + ".rope.freq_base", {s.rope_base}});
  w.meta.push_back({a + ".rope.dimension_count", {(uint64_t)(s.rot_dim > 0 ? s.rot_dim : random_head_dim(s))}});
}

namespace {

// SmolLM3: which layers carry no position. config.json's no_rope_layers lists 1 (RoPE)
// or 0 (none) per layer; without it every no_rope_layer_interval-th layer has none
// (transformers' SmolLM3Config default, interval 4).
Status read_nope_layers(const json& cfg, ConfigReader& rd, ModelConfig& c) {
  c.block.layers.assign((size_t)std::max(0, c.n_layers), LayerKind::Global);
  auto it = cfg.find("no_rope_layers");
  if (it != cfg.end() && !it->is_null()) {
    if (!it->is_array() || (int)it->size() != c.n_layers)
      return make_error("config.json: no_rope_layers must list one 0 or 1 per layer (" + std::to_string(c.n_layers) + ")");
    for (size_t l = 0; l < it->size(); ++l) {
      const json& v = (*it)[l];
      if (!v.is_number_integer() || (v.get<long long>() != 0 && v.get<long long>() != 1))
        return make_error("config.json: no_rope_layers[" + std::to_string(l) + "] must be 0 or 1");
      if (v.get<long long>() == 0) c.block.layers[l] = LayerKind::NoPosition;
    }
    return Status::Ok();
  }
  const int interval = rd.integer(cfg, "no_rope_layer_interval", 4, 1, 1 << 20);
  for (int l = 0; l < c.n_layers; ++l)
    if ((l + 1) % interval == 0) c.block.layers[(size_t)l] = LayerKind::NoPosition;
  return Status::Ok();
}

// llama.cpp's smollm3 graph: no rope where (layer + 1) % 4 == 0 (a constant, no GGUF key).
void gguf_nope_layers(ModelConfig& c) {
  c.block.layers.assign((size_t)std::max(0, c.n_layers), LayerKind::Global);
  for (int l = 3; l < c.n_layers; l += 4) c.block.layers[(size_t)l] = LayerKind::NoPosition;
}

Status read_hf(const json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.family = name.is("Qwen2ForCausalLM", "qwen2")       ? "qwen2"
             : name.is("Qwen3ForCausalLM", "qwen3")     ? "qwen3"
             : name.is("SmolLM3ForCausalLM", "smollm3") ? "smollm3"
             : name.is("Phi3ForCausalLM", "phi3")       ? "phi3"
             : name.is("MistralForCausalLM", "mistral") ? "mistral"
                                                        : "llama";
  c.fused_projections = c.family == "phi3";  // Phi-3: qkv_proj and gate_up_proj
  c.block.qkv_bias = c.family == "qwen2";    // Qwen2: LLaMA with q/k/v biases
  c.block.qk_norm = c.family == "qwen3";     // Qwen3: per-head q/k RMSNorm before RoPE
  // Qwen3 and SmolLM3 may declare attention biases (attention_bias); none of their
  // published checkpoints has them, and LongScope refuses rather than ignores them.
  if ((c.family == "qwen3" || c.family == "smollm3") && rd.flag(cfg, "attention_bias"))
    return make_error("config.json: " + c.family + " with attention_bias = true is not supported");
  read_hf_rms_geometry(cfg, rd, c);
  c.hidden_dim = rd.integer(cfg, "intermediate_size", 0);
  c.layout = PairLayout::HalfSplit;  // HF rotate_half
  if (c.family == "smollm3")
    if (auto st = read_nope_layers(cfg, rd, c); !st) return st;
  return resolve_hf_rope(cfg, rd, c, 10000.0, 1.0);
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.arch = Arch::Llama;
  c.block.qkv_bias = a == "qwen2";  // LLaMA with q/k/v biases
  c.block.qk_norm = a == "qwen3";   // per-head q/k norms
  c.fused_projections = a == "phi3";  // fused qkv and gate+up
  if (a == "smollm3") gguf_nope_layers(c);
  // llama.cpp's converter permutes LLaMA's (and SmolLM3's) q/k into adjacent pairs;
  // Qwen2, Qwen3 and Phi-3 keep the half-split rows and run with rope type NEOX.
  const bool permuted = a == "llama" || a == "smollm3";
  if (auto st = read_gguf_rope(g, a, c, permuted ? PairLayout::Interleaved : PairLayout::HalfSplit); !st) return st;
  if (a == "llama")  // Mixtral: llama blocks whose feed-forward is a mixture (llama.expert_count)
    if (auto st = read_gguf_moe(g, a, c); !st) return st;
  return read_gguf_norm_eps(g, a, c, true);
}

Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor&) {
  LlamaTensorNames n = llama_names(f, c.block.qkv_bias, c.fused_projections, c.block.qk_norm);
  moe_names(f, c, n);  // GGUF Mixtral
  return TensorNames{n};
}

json hf_config(const RandomModelSpec& s, const std::string& member) {
  if (member == "qwen3" || member == "smollm3") {
    json cfg = member == "qwen3" ? llama_style_hf_config(s, "Qwen3ForCausalLM", "qwen3")
                                 : llama_style_hf_config(s, "SmolLM3ForCausalLM", "smollm3");
    cfg["head_dim"] = random_head_dim(s);
    cfg["attention_bias"] = false;
    if (member == "smollm3") {
      json nope = json::array();
      for (int l = 0; l < s.n_layers; ++l) nope.push_back((l + 1) % s.nope_interval != 0 ? 1 : 0);
      cfg["no_rope_layers"] = nope;
    }
    if (s.yarn_factor > 0) cfg["rope_scaling"] = yarn_rope_scaling(s);
    return cfg;
  }
  return member == "qwen2" ? llama_style_hf_config(s, "Qwen2ForCausalLM", "qwen2")
         : member == "phi3" ? llama_style_hf_config(s, "Phi3ForCausalLM", "phi3")
                            : llama_style_hf_config(s, "LlamaForCausalLM", "llama");
}

void gguf_meta(const RandomModelSpec& s, const std::string& a, GgufWriter& w) {
  llama_style_gguf_meta(s, a, w, a == "qwen3" || a == "smollm3");
  if (a == "llama") gguf_moe_meta(s, a, w);  // Mixtral
}

}  // namespace

const Family kLlama{{"llama", "mistral", "qwen2", "phi3", "qwen3", "smollm3"},
                    {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Phi3ForCausalLM", "Qwen3ForCausalLM",
                     "SmolLM3ForCausalLM"},
                    {"llama", "mistral", "qwen2", "phi3", "qwen3", "smollm3"},
                    {"llama", "qwen2", "phi3", "qwen3", "smollm3"},
                    read_hf, read_gguf, names, hf_config, gguf_meta};

}  // namespace ls::arch
