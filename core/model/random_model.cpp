#include "core/model/random_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/model/arch/family.h"
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
  } else if (name == "tiny-qwen3") {  // Qwen3's traits: q/k norms, head_dim ≠ dim / heads, GQA, YaRN ×4
    s.dim = 64, s.hidden_dim = 160, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.rope_base = 1e6, s.qwen3 = true, s.head_dim = 32, s.yarn_factor = 4.0;
  } else if (name == "tiny-smollm3") {  // SmolLM3's traits: every 4th layer without position, GQA
    s.dim = 64, s.hidden_dim = 160, s.n_layers = 4, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.rope_base = 5e6, s.smollm3 = true;
  } else if (name == "tiny-mixtral") {  // Mixtral's traits: 4 experts (2 per token, renormalised), GQA
    s.dim = 64, s.hidden_dim = 96, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.rope_base = 1e6, s.moe = "mixtral", s.n_experts = 4, s.n_used = 2;
  } else if (name == "tiny-qwen2moe") {  // Qwen2-MoE's: q/k/v biases, 4 experts (2 per token, not renormalised), a shared expert
    s.dim = 64, s.hidden_dim = 32, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.rope_base = 1e6, s.qkv_bias = true, s.moe = "qwen2moe", s.n_experts = 4, s.n_used = 2;
    s.shared_hidden = 48;
  } else if (name == "tiny-qwen3moe") {  // Qwen3-MoE's: q/k norms, head_dim ≠ dim / heads, 6 experts (3 per token, renormalised)
    s.dim = 64, s.hidden_dim = 32, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 256, s.rope_base = 1e6, s.head_dim = 32, s.moe = "qwen3moe", s.n_experts = 6, s.n_used = 3;
  } else if (name == "tiny-olmoe") {  // OLMoE's: whole-projection q/k norms, 8 experts (2 per token, not renormalised), MHA
    s.dim = 64, s.hidden_dim = 32, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 4, s.vocab_size = 512;
    s.train_len = 256, s.moe = "olmoe", s.n_experts = 8, s.n_used = 2;
  } else if (name == "tiny-gptoss") {  // gpt-oss's: sinks, biases, sliding/full layers, 4 experts (2 per token), YaRN
    s.dim = 64, s.hidden_dim = 32, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2, s.vocab_size = 512;
    s.train_len = 64, s.rope_base = 150000, s.head_dim = 16, s.qkv_bias = true, s.moe = "gpt-oss", s.n_experts = 4;
    s.n_used = 2, s.window = 8, s.yarn_factor = 4.0;
  } else if (name == "qwen3-0.6b") {  // Qwen3-0.6B's geometry (config.json of Qwen/Qwen3-0.6B)
    s.dim = 1024, s.hidden_dim = 3072, s.n_layers = 28, s.n_heads = 16, s.n_kv_heads = 8, s.vocab_size = 151936;
    s.train_len = 32768, s.rope_base = 1e6, s.qwen3 = true, s.head_dim = 128;
  } else {
    return make_error("unknown shape \"" + name + "\" (accepted: bundled, tinyllama-1.1b, llama2-7b, tiny-bloom, tiny-qwen2, "
                      "tiny-phi3, tiny-gemma2, tiny-gemma3, tiny-neox, tiny-stablelm, tiny-phi2, tiny-mpt, tiny-qwen3, tiny-smollm3, qwen3-0.6b, tiny-mixtral, tiny-qwen2moe, tiny-qwen3moe, tiny-olmoe, tiny-gptoss)");
  }
  return s;
}

namespace {

// Every tensor of the spec's model, in generation order: fill(name, rows, cols, is_norm).
template <typename Emit>
void for_each_tensor(const RandomModelSpec& s, Emit&& emit) {
  auto fill = [&](const std::string& name, size_t rows, size_t cols, bool norm = false) { emit(name, rows, cols, norm); };
  const size_t d = s.dim, hid = s.hidden_dim, hd = (size_t)random_head_dim(s);
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
  const bool gptoss = s.moe == "gpt-oss";
  for (int l = 0; l < s.n_layers; ++l) {
    fill(L(l, "attn_norm.weight"), 1, d, true);
    if (!shared) fill(L(l, gptoss ? "post_attention_norm.weight" : "ffn_norm.weight"), 1, d, true);
    if (gptoss) {
      fill(L(l, "attn_output.bias"), 1, d);
      fill(L(l, "attn_sinks.weight"), 1, (size_t)s.n_heads);
    }
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
      if (s.n_experts > 0) {  // stacked as llama.cpp stores them: experts outermost
        const size_t E = (size_t)s.n_experts;
        fill(L(l, "ffn_gate_inp.weight"), E, d);
        fill(L(l, "ffn_gate_exps.weight"), E * hid, d);
        fill(L(l, "ffn_up_exps.weight"), E * hid, d);
        fill(L(l, "ffn_down_exps.weight"), E * d, hid);
        if (gptoss) {
          fill(L(l, "ffn_gate_inp.bias"), 1, E);
          fill(L(l, "ffn_gate_exps.bias"), E, hid);
          fill(L(l, "ffn_up_exps.bias"), E, hid);
          fill(L(l, "ffn_down_exps.bias"), E, d);
        }
        if (s.shared_hidden > 0) {
          const size_t sh = (size_t)s.shared_hidden;
          fill(L(l, "ffn_gate_inp_shexp.weight"), 1, d);
          fill(L(l, "ffn_gate_shexp.weight"), sh, d);
          fill(L(l, "ffn_up_shexp.weight"), sh, d);
          fill(L(l, "ffn_down_shexp.weight"), d, sh);
        }
      } else {
        if (!s.phi2) fill(L(l, "ffn_gate.weight"), hid, d);
        fill(L(l, "ffn_up.weight"), hid, d);
        fill(L(l, "ffn_down.weight"), d, hid);
      }
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
      if (s.gemma3 || s.qwen3 || s.moe == "qwen3moe" || s.moe == "olmoe") {  // OLMoE's span the projections
        fill(L(l, "attn_q_norm.weight"), 1, s.moe == "olmoe" ? q : hd, true);
        fill(L(l, "attn_k_norm.weight"), 1, s.moe == "olmoe" ? kv : hd, true);
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

std::vector<uint8_t> random_blocks(DType t, size_t count, float scale, unsigned long long seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> raw(dtype_bytes(t, count));
  for (auto& b : raw) b = (uint8_t)(rng() & 0xff);
  std::uniform_real_distribution<float> u(0.5f, 1.0f);
  for (size_t b = 0; b < count / dtype_block(t); ++b) {
    uint8_t* blk = raw.data() + b * dtype_block_bytes(t);
    if (t == DType::MXFP4) blk[0] = (uint8_t)std::clamp(127 + (int)std::lround(std::log2(scale)) - 2, 1, 254);
    for (size_t off : block_scale_offsets(t)) {
      const uint16_t h = float_to_half(scale * u(rng));
      blk[off] = (uint8_t)(h & 0xff);
      blk[off + 1] = (uint8_t)(h >> 8);
    }
  }
  return raw;
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

namespace {

// The family member a spec is written as (a GGUF architecture name, and the
// family file's member that writes its config.json).
std::string spec_member(const RandomModelSpec& s) {
  if (!s.moe.empty()) return s.moe;
  return s.arch == Arch::Bloom ? "bloom" : s.stablelm ? "stablelm" : s.phi2 ? "phi2" : s.arch == Arch::NeoX ? "gptneox"
         : s.arch == Arch::Mpt ? "mpt" : s.qkv_bias ? "qwen2" : s.fused ? "phi3" : s.gemma3 ? "gemma3"
         : s.gemma2 ? "gemma2" : s.qwen3 ? "qwen3" : s.smollm3 ? "smollm3" : "llama";
}

// The canonical tensors in a file's row order: q/k rows (and biases) half-split
// when `half_split` (transformers' rotate_half, and llama.cpp's files of families
// it runs as NEOX), Phi-3's q/k/v and gate/up fused (q rows, k, v; gate rows, up).
std::map<std::string, std::vector<float>> formatted(const RandomModel& m, bool half_split) {
  const RandomModelSpec& s = m.spec;
  const int hd = random_head_dim(s);
  std::map<std::string, std::vector<float>> t = m.t;
  if (half_split)
    for (auto& [name, v] : t) {
      const bool q = name.find("attn_q.") != std::string::npos, k = name.find("attn_k.") != std::string::npos;
      if (q || k) v = to_half_split(v, q ? s.n_heads : s.n_kv_heads, hd, name.find(".bias") != std::string::npos ? 1 : s.dim);
    }
  if (s.fused)
    for (int l = 0; l < s.n_layers; ++l) {
      auto take = [&](const std::string& n) { auto v = std::move(t.at(L(l, n))); t.erase(L(l, n)); return v; };
      std::vector<float> qkv = take("attn_q.weight"), k = take("attn_k.weight"), v = take("attn_v.weight");
      qkv.insert(qkv.end(), k.begin(), k.end());
      qkv.insert(qkv.end(), v.begin(), v.end());
      std::vector<float> gu = take("ffn_gate.weight"), up = take("ffn_up.weight");
      gu.insert(gu.end(), up.begin(), up.end());
      t[L(l, "attn_qkv.weight")] = std::move(qkv);
      t[L(l, "ffn_up.weight")] = std::move(gu);
    }
  return t;
}

// transformers' gpt-oss experts from the canonical stacked ones: gate_up_proj
// (E, dim, 2·hidden) input-major with gate and up columns alternating, its bias
// (E, 2·hidden) alternating likewise, down_proj (E, hidden, dim) input-major, its bias.
std::vector<SafetensorsWriter::Tensor> gptoss_hf_experts(const RandomModel& m, DType dt) {
  const RandomModelSpec& s = m.spec;
  const size_t E = (size_t)s.n_experts, d = (size_t)s.dim, hid = (size_t)s.hidden_dim;
  std::vector<SafetensorsWriter::Tensor> out;
  for (int l = 0; l < s.n_layers; ++l) {
    const auto &g = m.t.at(L(l, "ffn_gate_exps.weight")), &u = m.t.at(L(l, "ffn_up_exps.weight"));
    const auto &dn = m.t.at(L(l, "ffn_down_exps.weight"));
    const auto &gb = m.t.at(L(l, "ffn_gate_exps.bias")), &ub = m.t.at(L(l, "ffn_up_exps.bias"));
    std::vector<float> gu(E * d * 2 * hid), gub(E * 2 * hid), dp(E * hid * d);
    for (size_t e = 0; e < E; ++e) {
      for (size_t k = 0; k < hid; ++k) {
        for (size_t i = 0; i < d; ++i) {
          gu[(e * d + i) * 2 * hid + 2 * k] = g[(e * hid + k) * d + i];
          gu[(e * d + i) * 2 * hid + 2 * k + 1] = u[(e * hid + k) * d + i];
          dp[(e * hid + k) * d + i] = dn[(e * d + i) * hid + k];
        }
        gub[e * 2 * hid + 2 * k] = gb[e * hid + k];
        gub[e * 2 * hid + 2 * k + 1] = ub[e * hid + k];
      }
    }
    const std::string p = "model.layers." + std::to_string(l) + ".mlp.experts.";
    out.push_back({p + "gate_up_proj", {E, d, 2 * hid}, dt, std::move(gu)});
    out.push_back({p + "gate_up_proj_bias", {E, 2 * hid}, dt, std::move(gub)});
    out.push_back({p + "down_proj", {E, hid, d}, dt, std::move(dp)});
    out.push_back({p + "down_proj_bias", {E, d}, dt, m.t.at(L(l, "ffn_down_exps.bias"))});
  }
  return out;
}

bool is_vector(const std::string& name) {
  return name.find("norm") != std::string::npos || name.find(".bias") != std::string::npos || name.rfind("rope_", 0) == 0 ||
         name.find("attn_sinks") != std::string::npos ||
         name.find("gate_inp_shexp") != std::string::npos;  // llama.cpp's shared-expert gate: one vector
}

// A tensor's shape from its llama.cpp name: vectors for norms, biases and rope
// factors; matrices of `in` columns otherwise.
std::vector<uint64_t> tensor_shape(const RandomModelSpec& s, const std::string& name, size_t size) {
  const uint64_t E = (uint64_t)s.n_experts, d = (uint64_t)s.dim, hid = (uint64_t)s.hidden_dim;
  if (name.find("_exps.bias") != std::string::npos)  // (experts, width)
    return name.find("ffn_down") != std::string::npos ? std::vector<uint64_t>{E, d} : std::vector<uint64_t>{E, hid};
  if (is_vector(name)) return {size};
  if (name.find("_exps.") != std::string::npos) {  // (experts, rows, cols)
    return name.find("ffn_down") != std::string::npos ? std::vector<uint64_t>{E, d, hid} : std::vector<uint64_t>{E, hid, d};
  }
  const uint64_t in = name.find("_shexp.") != std::string::npos && name.find("ffn_down") != std::string::npos
                          ? (uint64_t)s.shared_hidden
                      : name.find("ffn_down") != std::string::npos    ? (uint64_t)s.hidden_dim
                      : name.find("attn_output") != std::string::npos ? (uint64_t)s.n_heads * random_head_dim(s)
                                                                       : (uint64_t)s.dim;
  return {size / in, in};
}

}  // namespace

Status write_gguf_model(const RandomModel& m, const std::string& path, DType matrix_type, const EmbeddedVocab* vocab,
                        const std::vector<std::pair<std::string, GgufValue>>& extra_meta) {
  const RandomModelSpec& s = m.spec;
  if (s.gemma3 && s.pattern != 6) return make_error("a gemma3 GGUF has llama.cpp's fixed pattern: one global layer in 6");
  if (s.smollm3 && s.nope_interval != 4) return make_error("a smollm3 GGUF has llama.cpp's fixed step: no position in every 4th layer");
  const std::string member = spec_member(s);
  const std::string a = member == "mixtral" ? "llama" : member;  // llama.cpp writes Mixtral as llama with experts
  GgufWriter w;
  w.meta.push_back({"general.architecture", {a}});
  w.meta.push_back({"general.name", {std::string("longscope-random-") + a}});
  w.meta.push_back({a + ".context_length", {(uint64_t)s.train_len}});
  w.meta.push_back({a + ".embedding_length", {(uint64_t)s.dim}});
  w.meta.push_back({a + ".feed_forward_length", {(uint64_t)s.hidden_dim}});
  w.meta.push_back({a + ".block_count", {(uint64_t)s.n_layers}});
  w.meta.push_back({a + ".attention.head_count", {(uint64_t)s.n_heads}});
  w.meta.push_back({a + ".attention.head_count_kv", {(uint64_t)s.n_kv_heads}});
  arch::family_of(member)->gguf_meta(s, a, w);
  if (vocab) {
    w.meta.push_back({"tokenizer.ggml.model", {vocab->kind}});
    w.meta.push_back({"tokenizer.ggml.tokens", {vocab->tokens}});
    w.meta.push_back({"tokenizer.ggml.scores", {std::vector<double>(vocab->scores.begin(), vocab->scores.end())}});
    w.meta.push_back({"tokenizer.ggml.token_type", {std::vector<int64_t>(vocab->types.begin(), vocab->types.end())}});
    w.meta.push_back({"tokenizer.ggml.bos_token_id", {(uint64_t)vocab->bos_id}});
    w.meta.push_back({"tokenizer.ggml.eos_token_id", {(uint64_t)vocab->eos_id}});
  }
  w.meta.insert(w.meta.end(), extra_meta.begin(), extra_meta.end());
  // llama.cpp permutes only LLaMA's q/k rows into adjacent pairs; the other
  // LLaMA-style families keep Hugging Face's half-split rows (rope type NEOX).
  for (const auto& [name, data] : formatted(m, s.arch == Arch::Llama && a != "llama" && a != "smollm3")) {
    const std::vector<uint64_t> shape = tensor_shape(s, name, data.size());
    // As llama-quantize does, a matrix whose rows are not whole blocks keeps a plain
    // type (F16 here; stories260K's feed-forward width is 172).
    const DType mt = shape.back() % dtype_block(matrix_type) == 0 ? matrix_type : DType::F16;
    w.tensors.push_back({name, shape, shape.size() == 1 ? DType::F32 : mt, data});
  }
  return w.write(path);
}

Status write_gguf_blocks(const RandomModel& m, const std::string& path, DType t, DType output_type, int file_type,
                         unsigned long long seed) {
  const std::string plain = path + ".f32.tmp";
  if (auto st = write_gguf_model(m, plain); !st) return st;
  auto g = read_gguf(plain);
  std::error_code ec;
  std::filesystem::remove(plain, ec);
  if (!g) return make_error(g.error());
  GgufWriter w;
  for (const auto& [k, v] : g->meta) w.meta.push_back({k, v});
  if (file_type >= 0) w.meta.push_back({"general.file_type", {(uint64_t)file_type}});
  for (const auto& [name, src] : g->tensors) {
    std::vector<float> f(src.bytes / 4);
    std::memcpy(f.data(), src.data, src.bytes);
    if (src.shape.size() == 1 || name.find(".bias") != std::string::npos) {  // vectors and (stacked) biases stay F32
      w.tensors.push_back({name, src.shape, DType::F32, f});
      continue;
    }
    const DType tt = name == "output.weight" && output_type != DType::F64 ? output_type : t;
    if (src.shape.back() % dtype_block(tt) != 0)
      return make_error("tensor " + name + ": rows of " + std::to_string(src.shape.back()) + " are not whole " +
                        dtype_name(tt) + " blocks");
    w.tensors.push_back({name, src.shape, tt, {}, random_blocks(tt, f.size(), name == "token_embd.weight" ? 0.02f : 0.004f, seed++)});
  }
  return w.write(path);
}

Status write_hf_model(const RandomModel& m, const std::string& dir, const std::string& dtype, int shards) {
  namespace fs = std::filesystem;
  const RandomModelSpec& s = m.spec;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const DType dt = dtype == "F16" ? DType::F16 : dtype == "BF16" ? DType::BF16 : DType::F32;
  const std::string member = spec_member(s);
  const arch::Family& family = *arch::family_of(member);
  const nlohmann::json cfg = family.hf_config(s, member);
  // The names come from the family's one table, read as the loaders read it: the
  // llama.cpp column names the canonical tensors, the transformers column renames them.
  ModelConfig c;
  if (auto st = resolve_hf_config(cfg, c); !st) return make_error("the random model's config.json: " + st.error());
  const auto none = [](const std::string&) { return false; };
  auto gguf = family.names(ModelFormat::Gguf, c, none), hf = family.names(ModelFormat::Safetensors, c, none);
  if (!gguf || !hf) return make_error(!gguf ? gguf.error() : hf.error());
  const auto from = arch::table_rows(gguf.value()), to = arch::table_rows(hf.value());
  std::map<std::string, std::pair<std::string, std::string>> rename;  // llama.cpp pattern → (transformers pattern, role)
  for (size_t i = 0; i < from.size(); ++i)
    if (!from[i].second.empty() && !to[i].second.empty()) rename[from[i].second] = {to[i].second, from[i].first};
  const auto* llama_hf = std::get_if<LlamaTensorNames>(&hf.value());
  const auto* fused_hf = std::get_if<BloomTensorNames>(&hf.value());
  const int hd = random_head_dim(s);

  std::vector<SafetensorsWriter::Tensor> all;
  if (member == "gpt-oss") all = gptoss_hf_experts(m, dt);
  for (auto& [name, stored] : formatted(m, s.arch == Arch::Llama)) {
    if (member == "gpt-oss" && name.find("_exps.") != std::string::npos) continue;  // written above
    // "blk.N.rest" → the pattern "blk.{}.rest" and N.
    std::string pattern = name;
    int layer = -1;
    if (name.rfind("blk.", 0) == 0) {
      const size_t dot = name.find('.', 4);
      layer = std::stoi(name.substr(4, dot - 4));
      pattern = "blk.{}" + name.substr(dot);
    }
    auto it = rename.find(pattern);
    if (it == rename.end()) return make_error("the " + member + " name table has no transformers name for " + name);
    std::string out = it->second.first;
    if (layer >= 0) out.replace(out.find("{}"), 2, std::to_string(layer));
    const std::string& role = it->second.second;
    std::vector<float> data = stored;
    if (fused_hf && fused_hf->qkv_per_head && (role == "qkv" || role == "qkv_b"))
      data = to_per_head_qkv(data, s.n_heads, hd, role == "qkv" ? s.dim : 1);
    if (llama_hf && llama_hf->norm_plus_one && role.find("norm") != std::string::npos && role.find("_b") == std::string::npos)
      for (float& x : data) x -= 1.0f;  // transformers' Gemma stores w of x·(1 + w)
    if (role == "exp_gate" || role == "exp_up" || role == "exp_down") {  // transformers: one tensor per expert
      const size_t per = data.size() / (size_t)s.n_experts;
      const std::vector<uint64_t> shape = tensor_shape(s, name, data.size());
      for (int e = 0; e < s.n_experts; ++e) {
        std::string x = out;
        x.replace(x.find("{x}"), 3, std::to_string(e));
        all.push_back({x, {shape[1], shape[2]}, dt, std::vector<float>(data.begin() + (ptrdiff_t)(e * per),
                                                                      data.begin() + (ptrdiff_t)((e + 1) * per))});
      }
      continue;
    }
    // transformers' shared-expert gate is a (1, dim) Linear weight
    const std::vector<uint64_t> shape = role == "sh_router" ? std::vector<uint64_t>{1, (uint64_t)s.dim}
                                                            : tensor_shape(s, name, data.size());
    all.push_back({out, shape, dt, std::move(data)});
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
