// The BLAS LongScope's matmuls run on, described for users and benchmarks.
#pragma once

#include <string>

namespace ls {

// e.g. "OpenBLAS Cooperlake kernels", or "OpenBLAS Haswell kernels
// (OPENBLAS_CORETYPE=Haswell in the environment)" when the environment forces them.
std::string blas_description();

}  // namespace ls
