// Method specs as users type them. A spec that parses must give finite tables
// (frequencies, relative positions, slopes) for ordinary model geometries.
#include <cmath>

#include "core/position/spec.h"
#include "core/position/tables.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ls;
  auto p = parse_method_spec(std::string_view((const char*)data, size));
  if (!p) {
    LS_FUZZ_CHECK(!p.error().empty() && p.error().find('\n') == std::string::npos);
    return 0;
  }
  (void)method_spec_string(p.value());
  for (double n : {16.0, 512.0, 100000.0}) {
    const PositionContext g{64, 10000.0, 256.0, n};
    if (method_is_alibi(p->method)) {
      for (double s : alibi_slopes(p.value(), g, 12)) LS_FUZZ_CHECK(std::isfinite(s));
    } else {
      const RopeTable t = rope_table(p.value(), g);
      for (double f : t.inv_freq) LS_FUZZ_CHECK(std::isfinite(f));
      LS_FUZZ_CHECK(std::isfinite(t.attention_factor));
    }
    for (const auto& row : relpos_matrix(p.value(), g, 24))
      for (const auto& x : row) LS_FUZZ_CHECK(!x || std::isfinite(*x));
  }
  return 0;
}
