// llama2.c legacy checkpoint (karpathy/llama2.c run.c): a 7-int header
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
// vocab_size means a separate classifier), then fp32 tensors in a fixed order.
#include <cstring>

#include "core/model/arch_weights.h"

namespace ls {

Result<std::shared_ptr<Model>> load_llama2c(const std::string& path) {
  auto file = MappedFile::open(path, "model");
  if (!file) return make_error(file.error());
  auto f = file.value();
  if (f->size() < 28)
    return make_error(path + ": truncated llama2.c checkpoint (" + std::to_string(f->size()) +
                      " bytes, the header alone is 28)");
  int32_t h[7];
  std::memcpy(h, f->data(), sizeof(h));
  auto model = std::make_shared<Model>();
  model->path = path;
  model->files.push_back(f);
  ModelConfig& c = model->config;
  c.arch = Arch::Llama;
  c.format = ModelFormat::Llama2c;
  c.name = "llama2.c checkpoint";
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  const bool shared_classifier = h[5] > 0;
  const int64_t vocab = h[5] > 0 ? (int64_t)h[5] : -(int64_t)h[5];  // 64-bit: INT32_MIN has no 32-bit negation
  if (vocab > (1 << 22))
    return make_error(path + ": vocabulary size " + std::to_string(vocab) + " is outside [1, 4194304]");
  c.vocab_size = (int)vocab;
  c.declared_context = h[6];
  c.train_len = h[6];
  c.train_len_source = "llama2.c header seq_len";
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  c.rot_dim = c.head_dim;
  c.rope_base = 10000.0;  // fixed in llama2.c run.c
  c.layout = PairLayout::Interleaved;
  c.norm_eps = 1e-5;
  c.native_method.method = Method::Rope;
  if (c.n_heads > 0 && c.dim % c.n_heads != 0)
    return make_error(path + ": dim " + std::to_string(c.dim) + " is not divisible by the head count " +
                      std::to_string(c.n_heads));
  if (c.train_len < 1) c.train_len = 1;  // reported by validate_config below when absurd
  if (auto st = validate_config(c); !st) return make_error(path + ": " + st.error());
  if (h[6] < 1) return make_error(path + ": header seq_len " + std::to_string(h[6]) + " must be positive");

  // Byte layout, in order. Every size is computed in 64-bit before any access.
  const uint64_t d = c.dim, hid = c.hidden_dim, L = c.n_layers, V = c.vocab_size, hs = c.head_dim;
  const uint64_t q = (uint64_t)c.n_heads * hs, kv = (uint64_t)c.n_kv_heads * hs;
  struct Part { std::string name; uint64_t rows, cols; };
  std::vector<Part> parts = {{"tok", V, d}, {"rms_att", L, d}, {"wq", L * q, d}, {"wk", L * kv, d},
                             {"wv", L * kv, d}, {"wo", L * d, q}, {"rms_ffn", L, d}, {"w1", L * hid, d},
                             {"w2", L * d, hid}, {"w3", L * hid, d}, {"rms_final", 1, d},
                             {"freq_cis", (uint64_t)h[6], hs}};  // legacy real+imag tables, unused
  if (!shared_classifier) parts.push_back({"wcls", V, d});
  uint64_t offset = 28;
  std::map<std::string, const uint8_t*> base;
  for (const auto& p : parts) {
    uint64_t bytes = p.rows * p.cols * 4;
    if (offset + bytes > f->size())
      return make_error(path + ": truncated llama2.c checkpoint: " + p.name + " needs bytes " + std::to_string(offset) +
                        " … " + std::to_string(offset + bytes) + " but the file has " + std::to_string(f->size()));
    base[p.name] = f->data() + offset;
    offset += bytes;
  }
  if (offset != f->size())
    return make_error(path + ": " + std::to_string(f->size() - offset) +
                      " unexpected bytes after the last tensor (wrong header or not a llama2.c checkpoint)");

  // Present each layer slice as a named tensor and assemble with the shared builder.
  std::map<std::string, TensorSource> t;
  auto add = [&](const std::string& name, const uint8_t* p, std::vector<uint64_t> shape) {
    uint64_t n = 1;
    for (auto s : shape) n *= s;
    t[name] = TensorSource{DType::F32, shape, p, n * 4};
  };
  add("tok", base["tok"], {V, d});
  add("norm", base["rms_final"], {d});
  if (!shared_classifier) add("out", base["wcls"], {V, d});
  for (uint64_t l = 0; l < L; ++l) {
    std::string p = "l" + std::to_string(l) + ".";
    add(p + "attn_norm", base["rms_att"] + l * d * 4, {d});
    add(p + "wq", base["wq"] + l * q * d * 4, {q, d});
    add(p + "wk", base["wk"] + l * kv * d * 4, {kv, d});
    add(p + "wv", base["wv"] + l * kv * d * 4, {kv, d});
    add(p + "wo", base["wo"] + l * d * q * 4, {d, q});
    add(p + "ffn_norm", base["rms_ffn"] + l * d * 4, {d});
    add(p + "w1", base["w1"] + l * hid * d * 4, {hid, d});
    add(p + "w2", base["w2"] + l * d * hid * 4, {d, hid});
    add(p + "w3", base["w3"] + l * hid * d * 4, {hid, d});
  }
  LlamaTensorNames names{"tok", "norm", "out", "l{}.attn_norm", "l{}.wq", "l{}.wk", "l{}.wv", "l{}.wo",
                         "l{}.ffn_norm", "l{}.w1", "l{}.w3", "l{}.w2"};
  WeightBuilder b(*model, std::move(t));
  if (auto st = build_llama_weights(b, *model, names); !st) return make_error(path + ": " + st.error());
  return model;
}

}  // namespace ls
