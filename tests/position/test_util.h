// Shared by the position tests.
#pragma once

#include <gtest/gtest.h>

#include "core/position/spec.h"

namespace ls {

// A method spec that must parse (a failure is reported, plain RoPE returned).
inline MethodParams spec(const char* s) {
  auto r = parse_method_spec(s);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? r.value() : MethodParams{};
}

}  // namespace ls
