// The ALiBi family: BLOOM and MPT. LayerNorm, one fused qkv tensor, a GELU
// feed-forward, no rotary dimensions (ALiBi's per-head linear biases). BLOOM: a
// LayerNorm on the embedding, biases everywhere, tanh GELU; qkv per head
// (head, {q,k,v}, head_dim) in transformers. MPT: no biases, exact GELU, Wqkv in
// q, k, v chunks, the classifier tied to the embedding, alibi_bias_max 8.
// Sources: transformers' modeling_bloom.py, modeling_mpt.py; llama.cpp b4747
// (llama-arch.cpp, llama-model.cpp LLM_ARCH_BLOOM / MPT).
#include "core/model/arch/family.h"

namespace ls::arch {
namespace {

using json = nlohmann::json;

Status read_hf(const json& cfg, ConfigReader& rd, const HfName& name, ModelConfig& c) {
  c.rot_dim = 0;
  c.native_method.method = Method::Alibi;
  c.block.norm = NormKind::Layer;
  c.block.ffn = FeedForward::GeluTanh;
  if (name.is("BloomForCausalLM", "bloom")) {
    c.arch = Arch::Bloom;
    c.family = "bloom";
    c.dim = rd.integer(cfg, "hidden_size", rd.num(cfg, "n_embed", 0));
    c.n_layers = rd.integer(cfg, "n_layer", rd.num(cfg, "num_hidden_layers", 0));
    c.n_heads = rd.integer(cfg, "n_head", rd.num(cfg, "num_attention_heads", 0));
    c.n_kv_heads = c.n_heads;
    c.hidden_dim = c.dim <= (1 << 16) ? 4 * c.dim : 0;  // validate_config bounds dim
    c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
    c.norm_eps = rd.num(cfg, "layer_norm_epsilon", 1e-5);
    c.declared_context =
        rd.integer(cfg, "seq_length", rd.num(cfg, "max_position_embeddings", rd.num(cfg, "n_positions", 2048)));
    c.train_len = c.declared_context;
    c.train_len_source = cfg.contains("seq_length") ? "config.json seq_length" : "config.json (default 2048)";
    return Status::Ok();
  }
  c.arch = Arch::Mpt;
  c.family = "mpt";
  c.block.ffn = FeedForward::Gelu;
  c.dim = rd.integer(cfg, "d_model", 0);
  c.n_layers = rd.integer(cfg, "n_layers", 0);
  c.n_heads = rd.integer(cfg, "n_heads", 0);
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.n_heads ? c.dim / c.n_heads : 0;
  const double expansion = rd.num(cfg, "expansion_ratio", 4.0);
  c.hidden_dim = expansion > 0 && expansion <= 64 && c.dim <= (1 << 16) ? (int)(expansion * c.dim) : 0;
  c.norm_eps = rd.num(cfg, "layer_norm_epsilon", 1e-5);
  c.declared_context = rd.integer(cfg, "max_seq_len", 2048);
  c.train_len = c.declared_context;
  c.train_len_source = "config.json max_seq_len";
  const json no_attn = json::object();
  auto ac = cfg.find("attn_config");
  const json& attn = ac != cfg.end() && ac->is_object() ? *ac : no_attn;
  if (attn.contains("alibi") && !rd.flag(attn, "alibi", true))
    return make_error("config.json: an MPT model without ALiBi (learned absolute positions) is not supported");
  if (rd.num(attn, "alibi_bias_max", 8.0) != 8.0)
    return make_error("config.json: MPT alibi_bias_max other than 8 is not supported (LongScope's ALiBi slopes)");
  if (rd.num(attn, "clip_qkv", 0.0) != 0.0 || rd.flag(attn, "qk_ln"))
    return make_error("config.json: MPT clip_qkv and qk_ln are not supported");
  if (rd.num(attn, "softmax_scale", 0.0) != 0.0)
    return make_error("config.json: an MPT softmax_scale other than 1/sqrt(head_dim) is not supported");
  if (rd.num(attn, "kv_n_heads", c.n_heads) != c.n_heads)
    return make_error("config.json: MPT grouped key/value heads (kv_n_heads) are not supported");
  if (!rd.flag(cfg, "no_bias", true))
    return make_error("config.json: an MPT model with biases (no_bias = false) is not supported");
  if (rd.num(cfg, "logit_scale", 0.0) != 0.0) return make_error("config.json: MPT logit_scale is not supported");
  return Status::Ok();
}

Status read_gguf(const GgufFile& g, const std::string& a, ModelConfig& c) {
  c.rot_dim = 0;
  c.block.norm = NormKind::Layer;
  c.block.ffn = FeedForward::GeluTanh;
  if (auto st = read_gguf_norm_eps(g, a, c, false); !st) return st;
  if (a == "bloom") {
    c.arch = Arch::Bloom;
    return Status::Ok();
  }
  // mpt: max_alibi_bias 0 means learned absolute positions (no ALiBi); clamp_kqv
  // clips q, k, v (MPT's clip_qkv). Neither is a method LongScope has.
  c.arch = Arch::Mpt;
  c.block.ffn = FeedForward::Gelu;
  double max_bias = 0.0;
  LS_TRY_ASSIGN(max_bias, g.opt_float(a + ".attention.max_alibi_bias", 0.0));
  if (max_bias != 8.0)
    return make_error("an MPT model with " + a + ".attention.max_alibi_bias = " + std::to_string(max_bias) +
                      " is not supported: LongScope's ALiBi slopes are those of alibi_bias_max 8 (MPT's default)");
  if (g.has(a + ".attention.clamp_kqv"))
    return make_error("an MPT model with " + a + ".attention.clamp_kqv (clip_qkv) is not supported");
  if (g.tensors.count("pos_embd.weight"))
    return make_error("an MPT model with learned absolute position embeddings (pos_embd) is not supported");
  if (g.tensors.count("blk.0.attn_q_norm.weight") || g.tensors.count("blk.0.ffn_act.scales"))
    return make_error("an MPT model with q/k LayerNorms (qk_ln) or AWQ activation scales is not supported");
  return Status::Ok();
}

// llama.cpp's tensors, the same for BLOOM and MPT (MPT's biases and embedding norm absent).
BloomTensorNames gguf_names(bool mpt) {
  BloomTensorNames n{"token_embd.weight", "token_embd_norm.weight", "token_embd_norm.bias", "output_norm.weight",
                     "output_norm.bias", "output.weight", "blk.{}.attn_norm.weight", "blk.{}.attn_norm.bias",
                     "blk.{}.attn_qkv.weight", "blk.{}.attn_qkv.bias", "blk.{}.attn_output.weight",
                     "blk.{}.attn_output.bias", "blk.{}.ffn_norm.weight", "blk.{}.ffn_norm.bias", "blk.{}.ffn_up.weight",
                     "blk.{}.ffn_up.bias", "blk.{}.ffn_down.weight", "blk.{}.ffn_down.bias"};
  if (mpt) n.embd_norm = n.embd_norm_b = "", n.optional_biases = true;  // llama.cpp's MPT: biases optional
  return n;
}

// transformers' BloomForCausalLM (prefix "transformer." or none, as some checkpoints
// store the bare BloomModel).
BloomTensorNames hf_bloom_names(const std::string& p) {
  const std::string h = p + "h.{}.";
  BloomTensorNames n{p + "word_embeddings.weight", p + "word_embeddings_layernorm.weight",
                     p + "word_embeddings_layernorm.bias", p + "ln_f.weight", p + "ln_f.bias", "lm_head.weight",
                     h + "input_layernorm.weight", h + "input_layernorm.bias", h + "self_attention.query_key_value.weight",
                     h + "self_attention.query_key_value.bias", h + "self_attention.dense.weight",
                     h + "self_attention.dense.bias", h + "post_attention_layernorm.weight",
                     h + "post_attention_layernorm.bias", h + "mlp.dense_h_to_4h.weight", h + "mlp.dense_h_to_4h.bias",
                     h + "mlp.dense_4h_to_h.weight", h + "mlp.dense_4h_to_h.bias"};
  n.qkv_per_head = true;
  return n;
}

// transformers' MptForCausalLM (no_bias): Wqkv splits into q, k, v by chunks.
BloomTensorNames hf_mpt_names() {
  const std::string p = "transformer.", h = p + "blocks.{}.";
  BloomTensorNames n;
  n.tok_embd = p + "wte.weight";
  n.out_norm = p + "norm_f.weight";
  n.output = "lm_head.weight";
  n.attn_norm = h + "norm_1.weight";
  n.qkv = h + "attn.Wqkv.weight";
  n.wo = h + "attn.out_proj.weight";
  n.ffn_norm = h + "norm_2.weight";
  n.w_up = h + "ffn.up_proj.weight";
  n.w_down = h + "ffn.down_proj.weight";
  return n;
}

Result<TensorNames> names(ModelFormat f, const ModelConfig& c, const HasTensor& has) {
  const bool mpt = c.arch == Arch::Mpt;
  if (f == ModelFormat::Gguf) return TensorNames{gguf_names(mpt)};
  if (!mpt) return TensorNames{hf_bloom_names(has("word_embeddings.weight") ? "" : "transformer.")};
  if (has("transformer.wpe.weight"))
    return make_error("an MPT model with learned absolute position embeddings (wpe) is not supported");
  return TensorNames{hf_mpt_names()};
}

json hf_config(const RandomModelSpec& s, const std::string& member) {
  if (member == "mpt")
    return {{"architectures", {"MptForCausalLM"}}, {"model_type", "mpt"}, {"d_model", s.dim}, {"n_heads", s.n_heads},
            {"n_layers", s.n_layers}, {"expansion_ratio", s.hidden_dim / s.dim}, {"max_seq_len", s.train_len},
            {"vocab_size", s.vocab_size}, {"no_bias", true}, {"layer_norm_epsilon", 1e-5},
            {"attn_config", {{"alibi", true}, {"alibi_bias_max", 8}, {"clip_qkv", nullptr}, {"qk_ln", false},
                             {"softmax_scale", nullptr}}}};
  return {{"architectures", {"BloomForCausalLM"}}, {"model_type", "bloom"}, {"hidden_size", s.dim},
          {"n_layer", s.n_layers}, {"n_head", s.n_heads}, {"layer_norm_epsilon", 1e-5}, {"vocab_size", s.vocab_size},
          {"seq_length", s.train_len}, {"bos_token_id", 1}, {"eos_token_id", 2}};
}

void gguf_meta(const RandomModelSpec&, const std::string& a, GgufWriter& w) {
  w.meta.push_back({a + ".attention.layer_norm_epsilon", {1e-5}});
  if (a == "mpt") w.meta.push_back({a + ".attention.max_alibi_bias", {8.0}});
}

}  // namespace

const Family kBloom{{"bloom", "mpt"},
                    {"BloomForCausalLM", "MptForCausalLM", "MPTForCausalLM"},
                    {"bloom", "mpt"},
                    {"bloom", "mpt"},
                    read_hf, read_gguf, names, hf_config, gguf_meta};

}  // namespace ls::arch
