// load_model: picks the loader by content (magic) or layout (folder), applies
// the user's L, and checks every weight is finite.
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/util/files.h"
#include "core/util/json.h"

#include "core/model/safetensors.h"
#include "core/model/weight_builder.h"

namespace ls {

Result<std::shared_ptr<const Model>> load_model(const std::string& path, const LoadOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  Result<std::shared_ptr<Model>> r = make_error("unrecognised model file " + clip(path));
  const bool is_dir = fs::is_directory(path, ec);
  if (is_dir) {
    r = load_safetensors(path);
  } else {
    // A regular file only: a FIFO, device or socket is refused before anything reads it.
    auto fd = open_regular_file(path, "model");
    if (!fd) return make_error(fd.error());
    char magic[4] = {};
    const ssize_t got = ::read(fd.value(), magic, 4);
    ::close(fd.value());
    if (got < 0) return make_error("model " + clip(path) + " cannot be read");
    const std::string ext = fs::path(path).extension().string();
    if (std::memcmp(magic, "GGUF", 4) == 0) r = load_gguf(path);
    else if (ext == ".safetensors") r = load_safetensors(path);
    else if (ext == ".bin") r = load_llama2c(path);
    else if (ext == ".gguf") r = make_error(path + ": not a GGUF file (bad magic)");
    else
      return make_error(path + ": unknown model format (expected .gguf, .bin (llama2.c), .safetensors or a folder "
                               "with config.json)");
  }
  if (!r) return make_error(r.error());
  Model& m = *r.value();
  // Known checkpoints whose file misstates the training length (resources/models/known_models.json).
  if (!opts.known_models.empty() && !is_dir) {
    auto text = read_small_file(opts.known_models);
    auto parsed = text ? parse_json(text.value(), "known models") : Result<nlohmann::json>(make_error(""));
    const nlohmann::json known = parsed ? parsed.take() : nlohmann::json();  // an unreadable list is ignored
    auto list = known.is_object() ? known.find("models") : known.end();
    if (list != known.end() && list->is_array()) {
      const std::string file = fs::path(path).filename().string();
      const auto bytes = fs::file_size(path, ec);
      for (const auto& k : *list) {
        auto f = k.find("file"), b = k.find("bytes"), t = k.find("train_len"), why = k.find("why");
        if (!k.is_object() || f == k.end() || !f->is_string() || b == k.end() || !b->is_number_unsigned() ||
            t == k.end() || !t->is_number_integer() || *t < 1 || *t > (1 << 24))
          continue;  // an entry this build cannot read is skipped, never trusted
        if (f->get<std::string>() == file && b->get<uint64_t>() == bytes) {
          m.config.train_len = t->get<int>();
          m.config.train_len_source = "LongScope known-model setting (" +
                                      (why != k.end() && why->is_string() ? why->get<std::string>() : "") + ")";
        }
      }
    }
  }
  if (opts.train_len_override > 0) {
    m.config.train_len = opts.train_len_override;
    m.config.train_len_source = "user setting";
  }
  m.config.n_params = 0;  // every weight the model holds, each counted once
  for (const WeightView& v : weight_views(m)) m.config.n_params += (long long)v.count;
  if (auto st = validate_weights_finite(m); !st) return make_error(path + ": " + st.error());
  return std::shared_ptr<const Model>(r.value());
}

}  // namespace ls
