// Whole-file reads for tests, tools and benches (no gtest here: benches include it).
#pragma once

#include <fstream>
#include <iterator>
#include <string>

namespace ls::test {

inline std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

}  // namespace ls::test
