// Which kernels OpenBLAS runs. OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks
// them for the CPU at start-up (Cooperlake/SkylakeX AVX-512 kernels on AVX-512
// CPUs it knows) unless OPENBLAS_CORETYPE names a family; LongScope never overrides
// that variable, and shows the choice (`longscope-cli info`, bench output) because it
// moves sgemm speed by 1.5× to 4× (bench/README.md §3, §8).
#include "core/cpu/blas_info.h"

#include <cblas.h>

#include <cstdlib>
#include <string>

namespace ls {

bool blas_fallback(const std::string& core, const char* forced, bool avx2, bool avx512) {
  // OpenBLAS recognises CPUs by model number; one newer than its release (Debian 12's
  // 0.3.21 on recent Xeons) gets its oldest x86-64 kernels, several times slower.
  const bool old = core == "Prescott" || core == "Core2" || core == "Penryn" || core == "Dunnington" ||
                   core == "Nehalem" || core == "Atom" || core == "Sandybridge";
  return !(forced && *forced) && old && (avx512 || avx2);
}

std::string blas_description(const std::string& core, const char* forced, bool avx2, bool avx512) {
  std::string s = "OpenBLAS " + (core.empty() ? std::string("?") : core) + " kernels";
  if (forced && *forced) return s + " (OPENBLAS_CORETYPE=" + std::string(forced) + " in the environment)";
  if (blas_fallback(core, forced, avx2, avx512))
    s += std::string(" — older than this CPU runs (OpenBLAS does not recognise it); OPENBLAS_CORETYPE=") +
         (avx512 ? "SkylakeX" : "Haswell") + " selects its " + (avx512 ? "AVX-512" : "AVX2") +
         " kernels, several times faster (bench/README.md §8)";
  return s;
}

namespace {

struct Cpu {
  std::string core;
  bool avx2 = false, avx512 = false;
};

Cpu this_cpu() {
  Cpu c;
  const char* core = openblas_get_corename();
  c.core = core ? core : "";
#if defined(__x86_64__) || defined(__i386__)
  c.avx2 = __builtin_cpu_supports("avx2");
  c.avx512 = __builtin_cpu_supports("avx512f");
#endif
  return c;
}

}  // namespace

std::string blas_description() {
  const Cpu c = this_cpu();
  return blas_description(c.core, std::getenv("OPENBLAS_CORETYPE"), c.avx2, c.avx512);
}

std::string blas_better_coretype() {
  const Cpu c = this_cpu();
  if (!blas_fallback(c.core, std::getenv("OPENBLAS_CORETYPE"), c.avx2, c.avx512)) return "";
  return c.avx512 ? "SkylakeX" : "Haswell";
}

}  // namespace ls
