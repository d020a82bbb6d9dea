// The BLAS LongScope's matmuls run on, described for users and benchmarks.
#pragma once

#include <string>

namespace ls {

// e.g. "OpenBLAS Cooperlake kernels", or "OpenBLAS Haswell kernels
// (OPENBLAS_CORETYPE=Haswell in the environment)" when the environment forces them,
// with a hint when OpenBLAS fell back to kernels older than the CPU runs.
std::string blas_description();
// The same from its parts (tested): OpenBLAS's core name, the variable's value (or
// null) and what the CPU supports.
std::string blas_description(const std::string& core, const char* forced, bool avx2, bool avx512);
// When OpenBLAS runs kernels older than this CPU supports without being told to: the
// OPENBLAS_CORETYPE that selects the CPU's own; "" otherwise.
std::string blas_better_coretype();
bool blas_fallback(const std::string& core, const char* forced, bool avx2, bool avx512);

}  // namespace ls
