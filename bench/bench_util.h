// What the benchmarks share: the median of a set of timings.
#pragma once

#include <algorithm>
#include <vector>

namespace ls::bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace ls::bench
