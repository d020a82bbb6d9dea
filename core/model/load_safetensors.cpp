#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/model/arch/family.h"
#include "core/model/safetensors.h"
#include "core/position/spec.h"
#include "core/util/files.h"
#include "core/util/json.h"
#include "core/util/memory.h"

namespace ls {
namespace fs = std::filesystem;
using nlohmann::json;

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  return read_regular_file(path, "file", max_bytes);
}

Status read_safetensors(const std::string& path, std::map<std::string, TensorSource>& out,
                        std::vector<std::shared_ptr<MappedFile>>& keep_alive) {
  auto mf = MappedFile::open(path, "safetensors file");
  if (!mf) return make_error(mf.error());
  auto f = mf.value();
  if (f->size() < 8) return make_error(path + ": truncated safetensors file (" + std::to_string(f->size()) + " bytes)");
  uint64_t header_len;
  std::memcpy(&header_len, f->data(), 8);
  if (header_len > f->size() - 8)
    return make_error(path + ": safetensors header length " + std::to_string(header_len) +
                      " runs past the end of the file (" + std::to_string(f->size()) + " bytes)");
  if (header_len > kMaxJsonHeaderBytes)
    return make_error(path + ": safetensors header of " + format_bytes(header_len) + " is larger than the " +
                      format_bytes(kMaxJsonHeaderBytes) + " limit (no real checkpoint has one this large)");
  auto parsed = parse_json(std::string_view(reinterpret_cast<const char*>(f->data()) + 8, header_len),
                           path + ": the safetensors header");
  if (!parsed) return make_error(parsed.error());
  const json& h = parsed.value();
  if (!h.is_object()) return make_error(path + ": the safetensors header is not a JSON object");
  const uint64_t data_start = 8 + header_len, data_size = f->size() - data_start;
  for (auto& [name, t] : h.items()) {
    if (name == "__metadata__") continue;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      return make_error(path + ": tensor " + name + " lacks dtype, shape or data_offsets");
    std::string dt = t["dtype"].is_string() ? t["dtype"].get<std::string>() : "";
    DType dtype;
    if (dt == "F32") dtype = DType::F32;
    else if (dt == "F16") dtype = DType::F16;
    else if (dt == "BF16") dtype = DType::BF16;
    else return make_error(path + ": tensor " + name + " has dtype " + dt + ", not supported (F32, F16, BF16)");
    TensorSource src;
    src.dtype = dtype;
    uint64_t count = 1;
    if (!t["shape"].is_array()) return make_error(path + ": tensor " + name + " has an invalid shape");
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() == 0 || d.get<uint64_t>() > (1ull << 32) ||
          count > (1ull << 40) / d.get<uint64_t>() || src.shape.size() >= 4)
        return make_error(path + ": tensor " + name + " has an invalid shape");
      src.shape.push_back(d.get<uint64_t>());
      count *= d.get<uint64_t>();
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return make_error(path + ": tensor " + name + " has invalid data_offsets");
    uint64_t b = off[0], e = off[1];
    if (b > e || e > data_size)
      return make_error(path + ": tensor " + name + ": bytes " + std::to_string(data_start + b) + " … " +
                        std::to_string(data_start + e) + " run past the end of the file (" +
                        std::to_string(f->size()) + " bytes)");
    if (e - b != dtype_bytes(dtype, count))
      return make_error(path + ": tensor " + name + " holds " + std::to_string(e - b) + " bytes, its shape needs " +
                        std::to_string(dtype_bytes(dtype, count)));
    src.data = f->data() + data_start + b;
    src.bytes = e - b;
    out[name] = src;
  }
  keep_alive.push_back(f);
  return Status::Ok();
}

Status resolve_hf_config(const json& cfg, ModelConfig& c) {
  if (!cfg.is_object()) return make_error("config.json is not a JSON object");
  arch::ConfigReader rd;
  arch::HfName name;
  if (auto it = cfg.find("architectures"); it != cfg.end() && it->is_array() && !it->empty()) {
    if (!(*it)[0].is_string()) return make_error("config.json: architectures[0] is not a string");
    name.architecture = (*it)[0].get<std::string>();
  }
  name.model_type = rd.str(cfg, "model_type", "");
  const std::string& mtype = name.model_type;
  const arch::Family* family = mtype == "phi-msft" ? nullptr : arch::family_for_hf(name);
  if (!family) {
    // Named so a user knows it is a decision, not a parsing slip.
    const bool moe_or_mla = mtype == "deepseek_v2" || mtype == "deepseek_v3" || mtype == "mixtral" ||
                            mtype == "qwen2_moe" || mtype == "gpt_oss" || mtype == "phimoe";
    return make_error("config.json: architecture \"" + name.architecture + "\" / model_type \"" + mtype +
                      "\" is not supported" +
                      (moe_or_mla ? std::string(" (mixture-of-experts and multi-head latent attention models are outside "
                                                "LongScope's engine)")
                                  : std::string("")) +
                      (mtype == "phi-msft" ? std::string(" (Phi's remote-code checkpoint layout: use transformers' "
                                                         "PhiForCausalLM conversion of the model)")
                                           : std::string("")) +
                      " (supported: " + arch::supported_hf_architectures() + ")");
  }
  if (auto st = family->read_hf(cfg, rd, name, c); !st) return st;
  // (Gemma-3's multimodal config has these in text_config, which its reader read.)
  c.vocab_size = rd.integer(cfg, "vocab_size", c.vocab_size);
  c.bos_id = rd.token_id(cfg, "bos_token_id", c.bos_id);
  c.eos_id = rd.token_id(cfg, "eos_token_id", c.eos_id);
  c.name = rd.str(cfg, "_name_or_path", name.architecture);
  if (!rd.error.empty()) return make_error(rd.error);
  return validate_config(c);
}

Result<std::shared_ptr<Model>> load_safetensors(const std::string& path) {
  fs::path p(path);
  std::error_code ec;
  const bool is_dir = fs::is_directory(p, ec);
  fs::path dir = is_dir ? p : p.parent_path();
  if (dir.empty()) dir = ".";
  auto model = std::make_shared<Model>();
  model->path = path;
  model->config.format = ModelFormat::Safetensors;
  if (!fs::exists(fs::symlink_status(dir / "config.json", ec)))
    return make_error(clip(path) + ": config.json not found (a Hugging Face model folder holds config.json and "
                      "model.safetensors or its shards)");
  auto cfg_text = read_regular_file((dir / "config.json").string(), "config", kMaxConfigJsonBytes);
  if (!cfg_text) return make_error(cfg_text.error());
  auto cfg_parsed = parse_json(cfg_text.value(), clip((dir / "config.json").string()));
  if (!cfg_parsed) return make_error(cfg_parsed.error());
  const json& cfg = cfg_parsed.value();
  if (!cfg.is_object()) return make_error(clip((dir / "config.json").string()) + " is not a JSON object");
  if (auto st = resolve_hf_config(cfg, model->config); !st) return make_error(path + ": " + st.error());

  std::vector<fs::path> files;
  if (!is_dir) {
    files.push_back(p);
  } else if (fs::exists(fs::symlink_status(dir / "model.safetensors.index.json", ec))) {
    const std::string index = (dir / "model.safetensors.index.json").string();
    auto idx_text = read_regular_file(index, "index", kMaxConfigJsonBytes);
    if (!idx_text) return make_error(idx_text.error());
    auto idx_parsed = parse_json(idx_text.value(), clip(index));
    if (!idx_parsed) return make_error(idx_parsed.error());
    const json& idx = idx_parsed.value();
    auto wm = idx.is_object() ? idx.find("weight_map") : idx.end();
    if (wm == idx.end() || !wm->is_object()) return make_error(clip(index) + " has no weight_map");
    std::set<std::string> shards;
    for (auto it = wm->begin(); it != wm->end(); ++it)
      if (it->is_string()) shards.insert(it->get<std::string>());
    for (const auto& s : shards) {
      if (s.find('/') != std::string::npos || s.find("..") != std::string::npos)
        return make_error("shard name \"" + clip(s, 120) + "\" must be a plain file name");
      files.push_back(dir / s);
    }
  } else if (fs::exists(fs::symlink_status(dir / "model.safetensors", ec))) {
    files.push_back(dir / "model.safetensors");
  } else {
    return make_error(path + ": neither model.safetensors nor model.safetensors.index.json found");
  }
  std::map<std::string, TensorSource> tensors;
  for (const auto& f : files)
    if (auto st = read_safetensors(f.string(), tensors, model->files); !st) return make_error(st.error());

  WeightBuilder b(*model, tensors);
  const arch::Family* family = arch::family_of(model->config.family);
  auto names = family->names(ModelFormat::Safetensors, model->config,
                             [&](const std::string& t) { return tensors.count(t) > 0; });
  if (!names) return make_error(path + ": " + names.error());
  Status st = arch::build_weights(b, *model, names.value());
  if (!st) return make_error(path + ": " + st.error());
  return model;
}

Status SafetensorsWriter::write(const std::string& path) const {
  json h = json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t bytes = dtype_bytes(t.dtype, t.data.size());
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8) hs += ' ';  // keep the data 8-byte aligned
  std::ofstream f(path, std::ios::binary);
  if (!f) return make_error("cannot write " + path);
  uint64_t n = hs.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(hs.data(), (std::streamsize)hs.size());
  for (const auto& t : tensors) {
    if (t.dtype == DType::F32) {
      f.write(reinterpret_cast<const char*>(t.data.data()), (std::streamsize)(t.data.size() * 4));
    } else {
      for (float x : t.data) {
        uint16_t v = t.dtype == DType::F16 ? float_to_half(x) : float_to_bf16(x);
        f.write(reinterpret_cast<const char*>(&v), 2);
      }
    }
  }
  return f ? Status::Ok() : Status(make_error("write to " + path + " failed"));
}

}  // namespace ls
