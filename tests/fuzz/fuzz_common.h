// Shared by the libFuzzer entry points: the loaders take paths (they map files),
// so each input is written to a per-process file under /dev/shm (or /tmp).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/model/model.h"

namespace ls::fuzz {

inline std::string scratch_dir() {
  static const std::string dir = [] {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::exists("/dev/shm", ec) ? "/dev/shm" : "/tmp";
    auto d = base / ("longscope_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d, ec);
    return d.string();
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), (std::streamsize)bytes.size());
  return path;
}

// A finding the sanitizers would not see (a wrong result rather than a crash).
#define LS_FUZZ_CHECK(cond)                                                       \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      __builtin_trap();                                                           \
    }                                                                             \
  } while (0)

// Loads `bytes` as a model file called `name`; a refusal must be one non-empty line.
inline std::shared_ptr<const Model> load_scratch_model(const std::string& name, const uint8_t* data, size_t size) {
  LoadOptions o;
  o.known_models = "";
  auto m = load_model(write_scratch(name, {(const char*)data, size}), o);
  if (m) return m.value();
  LS_FUZZ_CHECK(!m.error().empty() && m.error().find('\n') == std::string::npos);
  return nullptr;
}

}  // namespace ls::fuzz
