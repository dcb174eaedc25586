#pragma once
// Engine-internal: a static-partition parallel loop. Each index is processed by exactly one
// thread, with the same arithmetic whatever the partition, so results that every index writes to
// its own outputs are bitwise independent of the thread count.

#include <algorithm>
#include <thread>
#include <vector>

namespace gaqmd {

/// Calls f(begin, end) on contiguous chunks of [0, n) on up to `threads` threads.
template <class F>
void parallelFor(int n, int threads, F&& f) {
  const int workers = std::max(1, std::min(threads, n / 4));
  if (workers <= 1) {
    if (n > 0) f(0, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  const int chunk = (n + workers - 1) / workers;
  for (int w = 1; w < workers; ++w) {
    const int begin = std::min(n, w * chunk), end = std::min(n, begin + chunk);
    pool.emplace_back([&f, begin, end] {
      if (begin < end) f(begin, end);
    });
  }
  f(0, std::min(n, chunk));
  for (std::thread& t : pool) t.join();
}

}  // namespace gaqmd
