#include "core/model/random_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/model/gguf.h"
#include "core/model/safetensors.h"
#include "core/model/weight_builder.h"

namespace ls {
namespace {

std::string L(int l, const std::string& rest) { return "blk." + std::to_string(l) + "." + rest; }

// Interleaved (x[2i], x[2i+1]) rows of one projection → HF half-split (x[i], x[i+d/2]),
// the inverse of llama.cpp's convert permute.
std::vector<float> to_half_split(const std::vector<float>& w, int heads, int hd, int in) {
  std::vector<float> out(w.size());
  const int half = hd / 2;
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int c = 0; c < 2; ++c) {
        const float* src = &w[((size_t)h * hd + 2 * i + c) * in];
        std::copy(src, src + in, &out[((size_t)h * hd + c * half + i) * in]);
      }
  return out;
}

// GGUF's fused (q all heads, k all, v all) rows → HF's per-head (head, {q,k,v}, head_dim)
// (BLOOM, GPT-NeoX); `in` columns per row (1 for a bias).
std::vector<float> to_per_head_qkv(const std::vector<float>& w, int heads, int hd, int in) {
  std::vector<float> out(w.size());
  const size_t d = (size_t)heads * hd;
  for (int h = 0; h < heads; ++h)
    for (int part = 0; part < 3; ++part)
      for (int r = 0; r < hd; ++r) {
        size_t src = (size_t)part * d + (size_t)h * hd + r, dst = ((size_t)h * 3 + part) * hd + r;
        std::copy(&w[src * in], &w[src * in] + in, &out[dst * in]);
      }
  return out;
}

}  // namespace

Result<RandomModelSpec> random_model_shape(const std::string& name) {
  RandomModelSpec s;
  if (name == "bundled") {
    s.dim = 64, s.hidden_dim = 172, s.n_layers = 5, s.n_heads = 8, s.n_kv_heads = 4, s.vocab_size = 512, s.train_len = 512;
  } else if (name == "tinyllama-1.1b") {
    s.dim = 2048, s.hidden_dim = 5632, s.n_layers = 22, s.n_heads = 32, s.n_kv_heads = 4, s.vocab_size = 32000;
    s.train_len = 2048;
  } else if (name == "llama2-7b") {
    s.dim = 4096, s.hidden_dim = 11008, s.n_layers = 32, s.n_heads = 32, s.n_kv_heads = 32, s.vocab_size = 32000;
    s.train_len = 4096;
  } else if (name == "tiny-bloom") {
    s.arch = Arch::Bloom, s.dim = 64, s.hidden_dim = 256, s.n_layers = 2, s.n_heads = 8, s.n_kv_heads = 8;
    s.vocab_size = 512, s.train_len = 256;
  } else if (name == "tiny-qwen2") {  // Qwen2's traits at a test size: GQA, q/k/v biases, base 1e6
    s.dim = 64, s.hidden_dim = 160, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.rope_base = 1e6, s.qkv_bias = true;
  } else if (name == "tiny-phi3") {  // Phi-3's traits at a test size: fused qkv and gate+up, no GQA
    s.dim = 64, s.hidden_dim = 128, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 4, s.vocab_size = 512;
    s.train_len = 256, s.fused = true;
  } else if (name == "tiny-gemma2") {  // Gemma-2's traits: GQA, local layers (window 24), soft caps that bite
    s.dim = 64, s.hidden_dim = 160, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.gemma2 = true, s.window = 24, s.attn_softcap = 2.0, s.final_softcap = 3.0;
  } else if (name == "tiny-gemma3") {  // Gemma-3's traits: q/k norms, five local layers to one global, two bases
    s.dim = 64, s.hidden_dim = 96, s.n_layers = 6, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.gemma2 = s.gemma3 = true, s.window = 24, s.pattern = 6, s.rope_base = 1e6;
    s.local_base = 10000.0, s.linear_factor = 4.0;
  } else if (name == "tiny-neox") {  // GPT-NeoX's traits: a quarter of each head rotary, parallel residual
    s.arch = Arch::NeoX, s.dim = 64, s.hidden_dim = 256, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 4;
    s.vocab_size = 512, s.train_len = 256, s.rot_dim = 4;
  } else if (name == "tiny-stablelm") {  // StableLM 2's traits: SwiGLU, LayerNorm, GQA, q/k/v biases, rotary quarter
    s.arch = Arch::NeoX, s.stablelm = true, s.dim = 64, s.hidden_dim = 160, s.n_layers = 2, s.n_heads = 4;
    s.n_kv_heads = 2, s.vocab_size = 512, s.train_len = 256, s.rot_dim = 4, s.qkv_bias = true;
    s.parallel_residual = false;
  } else if (name == "tiny-phi2") {  // Phi-2's traits: one norm per parallel block, biases, rotary half
    s.arch = Arch::NeoX, s.phi2 = true, s.dim = 64, s.hidden_dim = 256, s.n_layers = 2, s.n_heads = 4;
    s.n_kv_heads = 4, s.vocab_size = 512, s.train_len = 256, s.rot_dim = 8;
  } else if (name == "tiny-mpt") {  // MPT's traits: ALiBi over 6 heads (not a power of two), no biases, tied
    s.arch = Arch::Mpt, s.dim = 96, s.hidden_dim = 384, s.n_layers = 2, s.n_heads = 6, s.n_kv_heads = 6;
    s.vocab_size = 512, s.train_len = 256;
  } else {
    return make_error("unknown shape \"" + name + "\" (accepted: bundled, tinyllama-1.1b, llama2-7b, tiny-bloom, tiny-qwen2, "
                      "tiny-phi3, tiny-gemma2, tiny-gemma3, tiny-neox, tiny-stablelm, tiny-phi2, tiny-mpt)");
  }
  return s;
}

namespace {

// Every tensor of the spec's model, in generation order: fill(name, rows, cols, is_norm).
template <typename Emit>
void for_each_tensor(const RandomModelSpec& s, Emit&& emit) {
  auto fill = [&](const std::string& name, size_t rows, size_t cols, bool norm = false) { emit(name, rows, cols, norm); };
  const size_t d = s.dim, hid = s.hidden_dim, hd = s.dim / s.n_heads;
  const size_t q = s.n_heads * hd, kv = s.n_kv_heads * hd;
  fill("token_embd.weight", s.vocab_size, d);
  fill("output_norm.weight", 1, d, true);
  if (s.arch != Arch::Mpt && !s.gemma2) fill("output.weight", s.vocab_size, d);  // MPT, Gemma: tied to the embedding
  if (s.arch == Arch::Bloom) {
    fill("token_embd_norm.weight", 1, d, true);
    fill("token_embd_norm.bias", 1, d);
  }
  const bool biases = s.arch == Arch::Bloom || s.arch == Arch::NeoX;
  const bool split = s.arch == Arch::NeoX && (s.stablelm || s.phi2);  // separate q/k/v, LLaMA-like names
  const bool shared = s.phi2 || (s.stablelm && s.parallel_residual);  // no feed-forward norm
  if (biases) fill("output_norm.bias", 1, d);
  if (s.phi2) fill("output.bias", 1, s.vocab_size);
  for (int l = 0; l < s.n_layers; ++l) {
    fill(L(l, "attn_norm.weight"), 1, d, true);
    if (!shared) fill(L(l, "ffn_norm.weight"), 1, d, true);
    if (s.arch == Arch::Llama || split) {
      fill(L(l, "attn_q.weight"), q, d);
      fill(L(l, "attn_k.weight"), kv, d);
      fill(L(l, "attn_v.weight"), kv, d);
      fill(L(l, "attn_output.weight"), d, q);
      if (s.qkv_bias || s.phi2) {
        fill(L(l, "attn_q.bias"), 1, q);
        fill(L(l, "attn_k.bias"), 1, kv);
        fill(L(l, "attn_v.bias"), 1, kv);
      }
      if (!s.phi2) fill(L(l, "ffn_gate.weight"), hid, d);
      fill(L(l, "ffn_up.weight"), hid, d);
      fill(L(l, "ffn_down.weight"), d, hid);
      if (split) {
        fill(L(l, "attn_norm.bias"), 1, d);
        if (!shared) fill(L(l, "ffn_norm.bias"), 1, d);
      }
      if (s.phi2) {
        fill(L(l, "attn_output.bias"), 1, d);
        fill(L(l, "ffn_up.bias"), 1, hid);
        fill(L(l, "ffn_down.bias"), 1, d);
      }
      if (s.gemma2) {
        fill(L(l, "post_attention_norm.weight"), 1, d, true);
        fill(L(l, "post_ffw_norm.weight"), 1, d, true);
      }
      if (s.gemma3) {
        fill(L(l, "attn_q_norm.weight"), 1, hd, true);
        fill(L(l, "attn_k_norm.weight"), 1, hd, true);
      }
    } else {
      fill(L(l, "attn_qkv.weight"), 3 * d, d);  // GGUF order: q all heads, k all, v all
      fill(L(l, "attn_output.weight"), d, d);
      fill(L(l, "ffn_up.weight"), hid, d);
      fill(L(l, "ffn_down.weight"), d, hid);
      if (biases) {
        fill(L(l, "attn_norm.bias"), 1, d);
        fill(L(l, "ffn_norm.bias"), 1, d);
        fill(L(l, "attn_qkv.bias"), 1, 3 * d);
        fill(L(l, "attn_output.bias"), 1, d);
        fill(L(l, "ffn_up.bias"), 1, hid);
        fill(L(l, "ffn_down.bias"), 1, d);
      }
    }
  }
}

}  // namespace

RandomModel make_random_model(const RandomModelSpec& s) {
  RandomModel m;
  m.spec = s;
  std::mt19937_64 rng(s.seed);
  for_each_tensor(s, [&](const std::string& name, size_t rows, size_t cols, bool norm) {
    std::vector<float> v(rows * cols);
    if (norm) {
      std::uniform_real_distribution<float> u(0.8f, 1.2f);
      for (auto& x : v) x = u(rng);
    } else {
      std::normal_distribution<float> nd(0.0f, s.scale > 0 ? s.scale : 1.0f / std::sqrt((float)cols));
      for (auto& x : v) x = nd(rng);
    }
    m.t[name] = std::move(v);
  });
  return m;
}

long long random_model_params(const RandomModelSpec& s) {
  long long n = 0;
  for_each_tensor(s, [&](const std::string&, size_t rows, size_t cols, bool) { n += (long long)(rows * cols); });
  return n;
}

Status write_llama2c(const RandomModel& m, const std::string& path) {
  const RandomModelSpec& s = m.spec;
  if (s.arch != Arch::Llama || s.qkv_bias || s.fused || s.gemma2)
    return make_error("llama2.c checkpoints hold LLaMA models only (no biases, no fused projections)");
  std::ofstream f(path, std::ios::binary);
  if (!f) return make_error("cannot write " + path);
  int32_t h[7] = {s.dim, s.hidden_dim, s.n_layers, s.n_heads, s.n_kv_heads, -s.vocab_size, s.train_len};
  f.write(reinterpret_cast<const char*>(h), sizeof(h));
  auto put = [&](const std::string& name) {
    const auto& v = m.t.at(name);
    f.write(reinterpret_cast<const char*>(v.data()), (std::streamsize)(v.size() * 4));
  };
  put("token_embd.weight");
  for (const char* part : {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                           "ffn_norm.weight", "ffn_gate.weight", "ffn_down.weight", "ffn_up.weight"})
    for (int l = 0; l < s.n_layers; ++l) put(L(l, part));
  put("output_norm.weight");
  std::vector<float> freq((size_t)s.train_len * (s.dim / s.n_heads), 0.0f);  // legacy freq_cis tables
  f.write(reinterpret_cast<const char*>(freq.data()), (std::streamsize)(freq.size() * 4));
  put("output.weight");
  return f ? Status::Ok() : Status(make_error("write to " + path + " failed"));
}

Status write_gguf_model(const RandomModel& m, const std::string& path, DType matrix_type, const EmbeddedVocab* vocab,
                        const std::vector<std::pair<std::string, GgufValue>>& extra_meta) {
  const RandomModelSpec& s = m.spec;
  if (s.gemma3 && s.pattern != 6) return make_error("a gemma3 GGUF has llama.cpp's fixed pattern: one global layer in 6");
  const std::string a = s.arch == Arch::Bloom ? "bloom" : s.stablelm ? "stablelm" : s.phi2 ? "phi2"
                        : s.arch == Arch::NeoX ? "gptneox" : s.arch == Arch::Mpt ? "mpt"
                        : s.qkv_bias ? "qwen2" : s.fused ? "phi3" : s.gemma3 ? "gemma3" : s.gemma2 ? "gemma2" : "llama";
  GgufWriter w;
  w.meta.push_back({"general.architecture", {a}});
  w.meta.push_back({"general.name", {std::string("longscope-random-") + a}});
  w.meta.push_back({a + ".context_length", {(uint64_t)s.train_len}});
  w.meta.push_back({a + ".embedding_length", {(uint64_t)s.dim}});
  w.meta.push_back({a + ".feed_forward_length", {(uint64_t)s.hidden_dim}});
  w.meta.push_back({a + ".block_count", {(uint64_t)s.n_layers}});
  w.meta.push_back({a + ".attention.head_count", {(uint64_t)s.n_heads}});
  w.meta.push_back({a + ".attention.head_count_kv", {(uint64_t)s.n_kv_heads}});
  if (s.arch == Arch::Llama || s.arch == Arch::NeoX) {
    w.meta.push_back({a + ".rope.freq_base", {s.rope_base}});
    w.meta.push_back({a + ".rope.dimension_count", {(uint64_t)(s.rot_dim > 0 ? s.rot_dim : s.dim / s.n_heads)}});
  }
  if (s.arch == Arch::Llama) w.meta.push_back({a + ".attention.layer_norm_rms_epsilon", {1e-5}});
  else w.meta.push_back({a + ".attention.layer_norm_epsilon", {1e-5}});
  if (a == "gptneox") w.meta.push_back({a + ".use_parallel_residual", {s.parallel_residual}});
  if (s.arch == Arch::Mpt) w.meta.push_back({a + ".attention.max_alibi_bias", {8.0}});
  if (s.gemma2) {  // the norms are stored as the effective weights (llama.cpp's converter adds the 1)
    w.meta.push_back({a + ".attention.key_length", {(uint64_t)(s.dim / s.n_heads)}});
    w.meta.push_back({a + ".attention.sliding_window", {(uint64_t)s.window}});
    if (!s.gemma3) {
      w.meta.push_back({a + ".attn_logit_softcapping", {s.attn_softcap}});
      w.meta.push_back({a + ".final_logit_softcapping", {s.final_softcap}});
    } else if (s.linear_factor > 0) {
      w.meta.push_back({a + ".rope.scaling.type", {std::string("linear")}});
      w.meta.push_back({a + ".rope.scaling.factor", {s.linear_factor}});
    }
  }
  if (vocab) {
    w.meta.push_back({"tokenizer.ggml.model", {vocab->kind}});
    w.meta.push_back({"tokenizer.ggml.tokens", {vocab->tokens}});
    w.meta.push_back({"tokenizer.ggml.scores", {std::vector<double>(vocab->scores.begin(), vocab->scores.end())}});
    w.meta.push_back({"tokenizer.ggml.token_type", {std::vector<int64_t>(vocab->types.begin(), vocab->types.end())}});
    w.meta.push_back({"tokenizer.ggml.bos_token_id", {(uint64_t)vocab->bos_id}});
    w.meta.push_back({"tokenizer.ggml.eos_token_id", {(uint64_t)vocab->eos_id}});
  }
  w.meta.insert(w.meta.end(), extra_meta.begin(), extra_meta.end());
  const int hd = s.dim / s.n_heads;
  std::map<std::string, std::vector<float>> tensors = m.t;
  if (s.fused)  // Phi-3: one qkv tensor (half-split q/k rows) and one gate+up tensor per layer
    for (int l = 0; l < s.n_layers; ++l) {
      auto take = [&](const std::string& n) { auto v = std::move(tensors.at(L(l, n))); tensors.erase(L(l, n)); return v; };
      std::vector<float> qkv = to_half_split(take("attn_q.weight"), s.n_heads, hd, s.dim);
      auto k = to_half_split(take("attn_k.weight"), s.n_kv_heads, hd, s.dim), v = take("attn_v.weight");
      qkv.insert(qkv.end(), k.begin(), k.end());
      qkv.insert(qkv.end(), v.begin(), v.end());
      std::vector<float> gu = take("ffn_gate.weight"), up = take("ffn_up.weight");
      gu.insert(gu.end(), up.begin(), up.end());
      tensors[L(l, "attn_qkv.weight")] = std::move(qkv);
      tensors[L(l, "ffn_up.weight")] = std::move(gu);
    }
  for (const auto& [name, stored] : tensors) {
    // Qwen2 and Gemma GGUFs keep Hugging Face's half-split q/k rows (llama.cpp runs them as NEOX).
    const bool qk = name.find("attn_q.") != std::string::npos || name.find("attn_k.") != std::string::npos;
    const std::vector<float> data =
        (a == "qwen2" || a == "gemma2" || a == "gemma3") && qk && name.find("_norm") == std::string::npos ? to_half_split(stored, name.find("attn_q.") != std::string::npos ? s.n_heads : s.n_kv_heads, hd,
                                           name.find(".bias") != std::string::npos ? 1 : s.dim)
                           : stored;
    bool is_vec = name.find("norm") != std::string::npos || name.find(".bias") != std::string::npos ||
                  name.rfind("rope_", 0) == 0;
    const auto& sp = m.spec;
    std::vector<uint64_t> shape;
    if (is_vec) shape = {data.size()};
    else if (name == "token_embd.weight" || name == "output.weight") shape = {(uint64_t)sp.vocab_size, (uint64_t)sp.dim};
    else {
      uint64_t in = name.find("ffn_down") != std::string::npos ? sp.hidden_dim
                    : name.find("attn_output") != std::string::npos ? (uint64_t)sp.n_heads * (sp.dim / sp.n_heads)
                                                                     : sp.dim;
      shape = {data.size() / in, in};
    }
    w.tensors.push_back({name, shape, is_vec ? DType::F32 : matrix_type, data});
  }
  return w.write(path);
}

Status write_hf_model(const RandomModel& m, const std::string& dir, const std::string& dtype, int shards) {
  namespace fs = std::filesystem;
  const RandomModelSpec& s = m.spec;
  std::error_code ec;
  fs::create_directories(dir, ec);
  DType dt = dtype == "F16" ? DType::F16 : dtype == "BF16" ? DType::BF16 : DType::F32;
  const int hd = s.dim / s.n_heads;
  nlohmann::json cfg;
  std::vector<SafetensorsWriter::Tensor> all;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, std::vector<float> data) {
    all.push_back({name, std::move(shape), dt, std::move(data)});
  };
  const uint64_t d = s.dim, hid = s.hidden_dim, V = s.vocab_size;
  // One BLOOM / GPT-NeoX block (the same tensors; the attention module's name differs).
  auto fused_layer = [&](int l, const std::string& p, const std::string& attn) {
    add(p + "input_layernorm.weight", {d}, m.t.at(L(l, "attn_norm.weight")));
    add(p + "input_layernorm.bias", {d}, m.t.at(L(l, "attn_norm.bias")));
    add(p + attn + ".query_key_value.weight", {3 * d, d}, to_per_head_qkv(m.t.at(L(l, "attn_qkv.weight")), s.n_heads, hd, s.dim));
    add(p + attn + ".query_key_value.bias", {3 * d}, to_per_head_qkv(m.t.at(L(l, "attn_qkv.bias")), s.n_heads, hd, 1));
    add(p + attn + ".dense.weight", {d, d}, m.t.at(L(l, "attn_output.weight")));
    add(p + attn + ".dense.bias", {d}, m.t.at(L(l, "attn_output.bias")));
    add(p + "post_attention_layernorm.weight", {d}, m.t.at(L(l, "ffn_norm.weight")));
    add(p + "post_attention_layernorm.bias", {d}, m.t.at(L(l, "ffn_norm.bias")));
    add(p + "mlp.dense_h_to_4h.weight", {hid, d}, m.t.at(L(l, "ffn_up.weight")));
    add(p + "mlp.dense_h_to_4h.bias", {hid}, m.t.at(L(l, "ffn_up.bias")));
    add(p + "mlp.dense_4h_to_h.weight", {d, hid}, m.t.at(L(l, "ffn_down.weight")));
    add(p + "mlp.dense_4h_to_h.bias", {d}, m.t.at(L(l, "ffn_down.bias")));
  };
  if (s.arch == Arch::Llama) {
    cfg = {{"architectures", {s.qkv_bias ? "Qwen2ForCausalLM" : s.fused ? "Phi3ForCausalLM" : s.gemma2 ? "Gemma2ForCausalLM" : "LlamaForCausalLM"}},
           {"model_type", s.qkv_bias ? "qwen2" : s.fused ? "phi3" : s.gemma2 ? "gemma2" : "llama"}, {"hidden_size", s.dim},
           {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers}, {"num_attention_heads", s.n_heads},
           {"num_key_value_heads", s.n_kv_heads}, {"rms_norm_eps", 1e-5}, {"vocab_size", s.vocab_size},
           {"max_position_embeddings", s.train_len}, {"rope_theta", s.rope_base}, {"tie_word_embeddings", false},
           {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "float32"}};
    add("model.embed_tokens.weight", {V, d}, m.t.at("token_embd.weight"));
    // Gemma stores RMSNorm weights as w with the norm computing x·(1 + w).
    auto nrm = [&](const std::string& name) {
      std::vector<float> v = m.t.at(name);
      if (s.gemma2)
        for (float& x : v) x -= 1.0f;
      return v;
    };
    if (s.gemma3) {
      cfg["architectures"] = {"Gemma3ForCausalLM"};
      cfg["model_type"] = "gemma3_text";
      cfg["sliding_window_pattern"] = s.pattern;
      cfg["rope_local_base_freq"] = s.local_base;
      if (s.linear_factor > 0) cfg["rope_scaling"] = {{"rope_type", "linear"}, {"factor", s.linear_factor}};
    }
    if (s.gemma2) {
      cfg["head_dim"] = hd;
      cfg["query_pre_attn_scalar"] = hd;
      cfg["sliding_window"] = s.window;
      cfg["attn_logit_softcapping"] = s.attn_softcap > 0 ? nlohmann::json(s.attn_softcap) : nlohmann::json(nullptr);
      cfg["final_logit_softcapping"] = s.final_softcap > 0 ? nlohmann::json(s.final_softcap) : nlohmann::json(nullptr);
      cfg["hidden_activation"] = "gelu_pytorch_tanh";
      cfg["tie_word_embeddings"] = true;
    }
    add("model.norm.weight", {d}, nrm("output_norm.weight"));
    if (!s.gemma2) add("lm_head.weight", {V, d}, m.t.at("output.weight"));
    for (int l = 0; l < s.n_layers; ++l) {
      std::string p = "model.layers." + std::to_string(l) + ".";
      const uint64_t q = (uint64_t)s.n_heads * hd, kv = (uint64_t)s.n_kv_heads * hd;
      add(p + "input_layernorm.weight", {d}, nrm(L(l, "attn_norm.weight")));
      if (s.gemma3) {
        add(p + "self_attn.q_norm.weight", {(uint64_t)hd}, nrm(L(l, "attn_q_norm.weight")));
        add(p + "self_attn.k_norm.weight", {(uint64_t)hd}, nrm(L(l, "attn_k_norm.weight")));
      }
      auto wq = to_half_split(m.t.at(L(l, "attn_q.weight")), s.n_heads, hd, s.dim);
      auto wk = to_half_split(m.t.at(L(l, "attn_k.weight")), s.n_kv_heads, hd, s.dim);
      const auto& wv = m.t.at(L(l, "attn_v.weight"));
      if (s.fused) {  // Phi-3's qkv_proj: q rows, k rows, v rows
        wq.insert(wq.end(), wk.begin(), wk.end());
        wq.insert(wq.end(), wv.begin(), wv.end());
        add(p + "self_attn.qkv_proj.weight", {q + 2 * kv, d}, wq);
      } else {
        add(p + "self_attn.q_proj.weight", {q, d}, wq);
        add(p + "self_attn.k_proj.weight", {kv, d}, wk);
        add(p + "self_attn.v_proj.weight", {kv, d}, wv);
      }
      if (s.qkv_bias) {
        add(p + "self_attn.q_proj.bias", {q}, to_half_split(m.t.at(L(l, "attn_q.bias")), s.n_heads, hd, 1));
        add(p + "self_attn.k_proj.bias", {kv}, to_half_split(m.t.at(L(l, "attn_k.bias")), s.n_kv_heads, hd, 1));
        add(p + "self_attn.v_proj.bias", {kv}, m.t.at(L(l, "attn_v.bias")));
      }
      add(p + "self_attn.o_proj.weight", {d, q}, m.t.at(L(l, "attn_output.weight")));
      if (s.gemma2) {
        add(p + "post_attention_layernorm.weight", {d}, nrm(L(l, "post_attention_norm.weight")));
        add(p + "pre_feedforward_layernorm.weight", {d}, nrm(L(l, "ffn_norm.weight")));
        add(p + "post_feedforward_layernorm.weight", {d}, nrm(L(l, "post_ffw_norm.weight")));
      } else {
        add(p + "post_attention_layernorm.weight", {d}, m.t.at(L(l, "ffn_norm.weight")));
      }
      if (s.fused) {  // Phi-3's gate_up_proj: gate rows, then up rows
        auto gu = m.t.at(L(l, "ffn_gate.weight"));
        const auto& up = m.t.at(L(l, "ffn_up.weight"));
        gu.insert(gu.end(), up.begin(), up.end());
        add(p + "mlp.gate_up_proj.weight", {2 * hid, d}, gu);
      } else {
        add(p + "mlp.gate_proj.weight", {hid, d}, m.t.at(L(l, "ffn_gate.weight")));
        add(p + "mlp.up_proj.weight", {hid, d}, m.t.at(L(l, "ffn_up.weight")));
      }
      add(p + "mlp.down_proj.weight", {d, hid}, m.t.at(L(l, "ffn_down.weight")));
    }
  } else if (s.stablelm || s.phi2) {
    // transformers' StableLmForCausalLM / PhiForCausalLM: q/k rows half-split as stored here.
    const uint64_t q = (uint64_t)s.n_heads * hd, kv = (uint64_t)s.n_kv_heads * hd;
    const bool shared = s.phi2 || s.parallel_residual;
    cfg = {{"architectures", {s.phi2 ? "PhiForCausalLM" : "StableLmForCausalLM"}}, {"model_type", s.phi2 ? "phi" : "stablelm"},
           {"hidden_size", s.dim}, {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers},
           {"num_attention_heads", s.n_heads}, {"num_key_value_heads", s.n_kv_heads},
           {"partial_rotary_factor", (double)(s.rot_dim > 0 ? s.rot_dim : hd) / hd}, {"rope_theta", s.rope_base},
           {"max_position_embeddings", s.train_len}, {"layer_norm_eps", 1e-5}, {"hidden_act", s.phi2 ? "gelu_new" : "silu"},
           {"qk_layernorm", false}, {"tie_word_embeddings", false}, {"vocab_size", s.vocab_size}, {"bos_token_id", 0},
           {"eos_token_id", 0}};
    if (s.stablelm) cfg["use_qkv_bias"] = s.qkv_bias, cfg["use_parallel_residual"] = s.parallel_residual;
    const std::string fn = s.phi2 ? "model.final_layernorm." : "model.norm.";
    add("model.embed_tokens.weight", {V, d}, m.t.at("token_embd.weight"));
    add(fn + "weight", {d}, m.t.at("output_norm.weight"));
    add(fn + "bias", {d}, m.t.at("output_norm.bias"));
    add("lm_head.weight", {V, d}, m.t.at("output.weight"));
    if (s.phi2) add("lm_head.bias", {V}, m.t.at("output.bias"));
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {d}, m.t.at(L(l, "attn_norm.weight")));
      add(p + "input_layernorm.bias", {d}, m.t.at(L(l, "attn_norm.bias")));
      const char* part[3] = {"q", "k", "v"};
      for (int i = 0; i < 3; ++i) {
        const uint64_t rows = i == 0 ? q : kv;
        add(p + "self_attn." + part[i] + "_proj.weight", {rows, d}, m.t.at(L(l, std::string("attn_") + part[i] + ".weight")));
        if (s.qkv_bias || s.phi2)
          add(p + "self_attn." + part[i] + "_proj.bias", {rows}, m.t.at(L(l, std::string("attn_") + part[i] + ".bias")));
      }
      add(p + (s.phi2 ? "self_attn.dense.weight" : "self_attn.o_proj.weight"), {d, q}, m.t.at(L(l, "attn_output.weight")));
      if (!shared) {
        add(p + "post_attention_layernorm.weight", {d}, m.t.at(L(l, "ffn_norm.weight")));
        add(p + "post_attention_layernorm.bias", {d}, m.t.at(L(l, "ffn_norm.bias")));
      }
      if (s.phi2) {
        add(p + "self_attn.dense.bias", {d}, m.t.at(L(l, "attn_output.bias")));
        add(p + "mlp.fc1.weight", {hid, d}, m.t.at(L(l, "ffn_up.weight")));
        add(p + "mlp.fc1.bias", {hid}, m.t.at(L(l, "ffn_up.bias")));
        add(p + "mlp.fc2.weight", {d, hid}, m.t.at(L(l, "ffn_down.weight")));
        add(p + "mlp.fc2.bias", {d}, m.t.at(L(l, "ffn_down.bias")));
      } else {
        add(p + "mlp.gate_proj.weight", {hid, d}, m.t.at(L(l, "ffn_gate.weight")));
        add(p + "mlp.up_proj.weight", {hid, d}, m.t.at(L(l, "ffn_up.weight")));
        add(p + "mlp.down_proj.weight", {d, hid}, m.t.at(L(l, "ffn_down.weight")));
      }
    }
  } else if (s.arch == Arch::NeoX) {
    cfg = {{"architectures", {"GPTNeoXForCausalLM"}}, {"model_type", "gpt_neox"}, {"hidden_size", s.dim},
           {"intermediate_size", s.hidden_dim}, {"num_hidden_layers", s.n_layers}, {"num_attention_heads", s.n_heads},
           {"rotary_pct", (double)(s.rot_dim > 0 ? s.rot_dim : hd) / hd}, {"rotary_emb_base", s.rope_base},
           {"max_position_embeddings", s.train_len}, {"layer_norm_eps", 1e-5}, {"hidden_act", "gelu"},
           {"use_parallel_residual", s.parallel_residual}, {"tie_word_embeddings", false}, {"vocab_size", s.vocab_size},
           {"bos_token_id", 0}, {"eos_token_id", 0}};
    add("gpt_neox.embed_in.weight", {V, d}, m.t.at("token_embd.weight"));
    add("gpt_neox.final_layer_norm.weight", {d}, m.t.at("output_norm.weight"));
    add("gpt_neox.final_layer_norm.bias", {d}, m.t.at("output_norm.bias"));
    add("embed_out.weight", {V, d}, m.t.at("output.weight"));
    for (int l = 0; l < s.n_layers; ++l) {
      std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
      fused_layer(l, p, "attention");
    }
  } else if (s.arch == Arch::Mpt) {
    cfg = {{"architectures", {"MptForCausalLM"}}, {"model_type", "mpt"}, {"d_model", s.dim}, {"n_heads", s.n_heads},
           {"n_layers", s.n_layers}, {"expansion_ratio", s.hidden_dim / s.dim}, {"max_seq_len", s.train_len},
           {"vocab_size", s.vocab_size}, {"no_bias", true}, {"layer_norm_epsilon", 1e-5},
           {"attn_config", {{"alibi", true}, {"alibi_bias_max", 8}, {"clip_qkv", nullptr}, {"qk_ln", false},
                            {"softmax_scale", nullptr}}}};
    add("transformer.wte.weight", {V, d}, m.t.at("token_embd.weight"));
    add("transformer.norm_f.weight", {d}, m.t.at("output_norm.weight"));
    for (int l = 0; l < s.n_layers; ++l) {
      std::string p = "transformer.blocks." + std::to_string(l) + ".";
      add(p + "norm_1.weight", {d}, m.t.at(L(l, "attn_norm.weight")));
      add(p + "attn.Wqkv.weight", {3 * d, d}, m.t.at(L(l, "attn_qkv.weight")));  // q, k, v chunks as GGUF
      add(p + "attn.out_proj.weight", {d, d}, m.t.at(L(l, "attn_output.weight")));
      add(p + "norm_2.weight", {d}, m.t.at(L(l, "ffn_norm.weight")));
      add(p + "ffn.up_proj.weight", {hid, d}, m.t.at(L(l, "ffn_up.weight")));
      add(p + "ffn.down_proj.weight", {d, hid}, m.t.at(L(l, "ffn_down.weight")));
    }
  } else {
    cfg = {{"architectures", {"BloomForCausalLM"}}, {"model_type", "bloom"}, {"hidden_size", s.dim},
           {"n_layer", s.n_layers}, {"n_head", s.n_heads}, {"layer_norm_epsilon", 1e-5}, {"vocab_size", s.vocab_size},
           {"seq_length", s.train_len}, {"bos_token_id", 1}, {"eos_token_id", 2}};
    add("transformer.word_embeddings.weight", {V, d}, m.t.at("token_embd.weight"));
    add("transformer.word_embeddings_layernorm.weight", {d}, m.t.at("token_embd_norm.weight"));
    add("transformer.word_embeddings_layernorm.bias", {d}, m.t.at("token_embd_norm.bias"));
    add("transformer.ln_f.weight", {d}, m.t.at("output_norm.weight"));
    add("transformer.ln_f.bias", {d}, m.t.at("output_norm.bias"));
    add("lm_head.weight", {V, d}, m.t.at("output.weight"));
    for (int l = 0; l < s.n_layers; ++l) {
      std::string p = "transformer.h." + std::to_string(l) + ".";
      fused_layer(l, p, "self_attention");
    }
  }
  std::ofstream cf(fs::path(dir) / "config.json");
  cf << cfg.dump(2);
  if (!cf) return make_error("cannot write " + dir + "/config.json");
  shards = std::max(1, shards);
  if (shards == 1) {
    SafetensorsWriter w{all};
    return w.write((fs::path(dir) / "model.safetensors").string());
  }
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (int k = 0; k < shards; ++k) {
    SafetensorsWriter w;
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", k + 1, shards);
    for (size_t i = k; i < all.size(); i += shards) {
      w.tensors.push_back(all[i]);
      index["weight_map"][all[i].name] = name;
    }
    if (auto st = w.write((fs::path(dir) / name).string()); !st) return st;
  }
  std::ofstream jf(fs::path(dir) / "model.safetensors.index.json");
  jf << index.dump(2);
  return jf ? Status::Ok() : Status(make_error("cannot write the safetensors index"));
}

}  // namespace ls
