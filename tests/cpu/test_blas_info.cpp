// What `info` says of the BLAS kernels: the forced variable, and a hint when OpenBLAS
// fell back to kernels older than the CPU runs (bench/README.md §8: 0.3-0.6x).
#include <gtest/gtest.h>

#include "core/cpu/blas_info.h"

namespace ls {
namespace {

TEST(BlasInfo, NamesTheKernelsAndTheFallback) {
  EXPECT_EQ(blas_description("Cooperlake", nullptr, true, true), "OpenBLAS Cooperlake kernels");
  EXPECT_EQ(blas_description("Haswell", "Haswell", true, true),
            "OpenBLAS Haswell kernels (OPENBLAS_CORETYPE=Haswell in the environment)");
  const std::string fallback = blas_description("Prescott", nullptr, true, true);
  EXPECT_NE(fallback.find("older than this CPU runs"), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("OPENBLAS_CORETYPE=SkylakeX"), std::string::npos) << fallback;
  EXPECT_NE(blas_description("Prescott", nullptr, true, false).find("OPENBLAS_CORETYPE=Haswell"), std::string::npos);
  // An old CPU running old kernels, or a choice the user made, gets no hint.
  EXPECT_EQ(blas_description("Prescott", nullptr, false, false), "OpenBLAS Prescott kernels");
  EXPECT_EQ(blas_description("Prescott", "Prescott", true, true),
            "OpenBLAS Prescott kernels (OPENBLAS_CORETYPE=Prescott in the environment)");
  EXPECT_TRUE(blas_fallback("Prescott", nullptr, true, false));
  EXPECT_FALSE(blas_fallback("Prescott", "Prescott", true, true));
  EXPECT_FALSE(blas_fallback("SkylakeX", nullptr, true, true));
}

}  // namespace
}  // namespace ls
