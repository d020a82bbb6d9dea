// A fixed, deterministic split of [0, n) over threads: results never depend on
// the thread count because each index is computed by the same sequential code.
// The stripes run on a persistent pool of worker threads (one forward calls this
// hundreds of times; creating threads per call cost ~10 % of a short run).
#pragma once

#include <algorithm>
#include <functional>
#include <thread>

namespace ls {

// Runs stripe(t) for t in [0, stripes), stripe 0 on the calling thread, the rest
// on the pool (or on the caller, if no worker can be had). Returns when all are done.
void run_stripes(int stripes, const std::function<void(int)>& stripe);

template <typename Fn>
void parallel_for(int n, int threads, Fn&& fn) {
  threads = std::max(1, std::min(threads, n));
  if (threads == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  run_stripes(threads, [&](int t) {
    for (int i = t; i < n; i += threads) fn(i);  // interleaved: balances causal (triangular) work
  });
}

// Cores this process may use (at least 1).
inline int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int)n : 2;
}

}  // namespace ls
