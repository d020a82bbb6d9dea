// Which kernels OpenBLAS runs. OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks
// them for the CPU at start-up (Cooperlake/SkylakeX AVX-512 kernels on AVX-512
// CPUs) unless OPENBLAS_CORETYPE names a family; LongScope never overrides that
// variable, and shows the choice (`longscope-cli info`, bench output) because it
// moves sgemm speed by ~1.5× (bench/README.md).
#include "core/cpu/blas_info.h"

#include <cblas.h>

#include <cstdlib>
#include <string>

namespace ls {

std::string blas_description() {
  const char* core = openblas_get_corename();
  std::string s = std::string("OpenBLAS ") + (core ? core : "?") + " kernels";
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"); forced && *forced)
    s += " (OPENBLAS_CORETYPE=" + std::string(forced) + " in the environment)";
  return s;
}

}  // namespace ls
