// A fixed, deterministic split of [0, n) over threads: results never depend on
// the thread count because each index is computed by the same sequential code.
#pragma once

#include <algorithm>
#include <thread>
#include <vector>

namespace ls {

template <typename Fn>
void parallel_for(int n, int threads, Fn&& fn) {
  threads = std::max(1, std::min(threads, n));
  if (threads == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) fn(i);  // interleaved: balances causal (triangular) work
    });
  for (auto& th : pool) th.join();
}

inline int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int)n : 2;
}

}  // namespace ls
