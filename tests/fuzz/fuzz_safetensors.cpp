// safetensors + config.json: the input is config.json, a NUL byte, then the
// .safetensors file (the seed generator writes pairs in that form).
#include <cstring>

#include "core/model/model.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  const char* p = (const char*)data;
  const char* nul = (const char*)std::memchr(p, 0, size);
  const size_t cfg_len = nul ? (size_t)(nul - p) : size;
  const std::string dir = fuzz::scratch_dir() + "/st";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  {
    std::ofstream f(dir + "/config.json", std::ios::binary | std::ios::trunc);
    f.write(p, (std::streamsize)cfg_len);
  }
  {
    std::ofstream f(dir + "/model.safetensors", std::ios::binary | std::ios::trunc);
    if (nul) f.write(nul + 1, (std::streamsize)(size - cfg_len - 1));
  }
  auto m = load_model(dir);
  if (!m) LS_FUZZ_CHECK(!m.error().empty() && m.error().find('\n') == std::string::npos);
  return 0;
}
