#include "core/util/memory.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace ls {

size_t available_memory_bytes() {
  size_t avail = 0;
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  size_t kb = 0;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      break;
    }
  if (const char* lim = std::getenv("LONGSCOPE_MEMORY_LIMIT_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(lim, &end, 10);
    if (end != lim && *end == '\0' && mb > 0 && mb < (1ull << 40)) {
      const size_t cap = (size_t)mb << 20;
      if (!avail || cap < avail) avail = cap;
    }
  }
  return avail;
}

std::string format_bytes(size_t bytes) {
  char buf[32];
  const double b = (double)bytes;
  if (bytes >= (size_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1 << 30));
  else if (bytes >= (size_t{1} << 20)) std::snprintf(buf, sizeof buf, "%.0f MiB", b / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024);
  return buf;
}

Status check_memory(size_t bytes, const std::string& what, const std::string& advice) {
  return check_memory(bytes, available_memory_bytes(), what, advice);
}

Status check_memory(size_t bytes, size_t avail, const std::string& what, const std::string& advice) {
  if (!avail || bytes <= avail / 10 * 9) return Status::Ok();
  return make_error(what + " needs " + format_bytes(bytes) + " of memory, but only " + format_bytes(avail) +
                    " are available" + (advice.empty() ? "" : "; " + advice));
}

}  // namespace ls
