// A fixed, deterministic split of [0, n) over threads: results never depend on
// the thread count because each index is computed by the same sequential code.
#pragma once

#include <algorithm>
#include <system_error>
#include <thread>
#include <vector>

namespace ls {

template <typename Fn>
void parallel_for(int n, int threads, Fn&& fn) {
  threads = std::max(1, std::min(threads, n));
  auto stripe = [&](int t) {
    for (int i = t; i < n; i += threads) fn(i);  // interleaved: balances causal (triangular) work
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  int started = 1;  // stripe 0 runs on the calling thread
  for (; started < threads; ++started) {
    try {
      pool.emplace_back(stripe, started);
    } catch (const std::system_error&) {  // no thread to be had: the caller does the rest itself
      break;
    }
  }
  stripe(0);
  for (int t = started; t < threads; ++t) stripe(t);
  for (auto& th : pool) th.join();
}

// Cores this process may use (at least 1).
inline int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int)n : 2;
}

}  // namespace ls
