// The engine's thread pool (Parallel.h): every index runs exactly once whatever the thread count,
// with or without a pool, many short regions in a row, exceptions reach the caller (lowest chunk
// first), and a pool in use by a region falls back instead of deadlocking. Plain asserts.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "gaqmd/engine/Parallel.h"
#include "check.h"


void everyIndexOnce(int threads, bool withPool) {
  gaqmd::ThreadPool pool(threads);
  gaqmd::PoolScope scope(withPool ? &pool : nullptr);
  for (int round = 0; round < 2000; ++round) {
    const int n = round % 97;
    std::vector<int> hits(n, 0);
    gaqmd::parallelFor(n, threads, [&](int begin, int end) {
      for (int i = begin; i < end; ++i) ++hits[i];
    });
    for (int i = 0; i < n; ++i) CHECK(hits[i] == 1, "threads %d round %d: index %d ran %d times", threads, round, i, hits[i]);
  }
}

void exceptionsReachTheCaller() {
  gaqmd::ThreadPool pool(3);
  gaqmd::PoolScope scope(&pool);
  for (int round = 0; round < 200; ++round) {
    std::string message;
    try {
      gaqmd::parallelChunks(100, 3, [&](int chunk, int, int) {
        if (chunk >= 1) throw std::runtime_error("chunk " + std::to_string(chunk));
      });
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK(message == "chunk 1", "expected the lowest failing chunk, got '%s'", message.c_str());
  }
  // the pool still works afterwards
  std::atomic<int> total{0};
  gaqmd::parallelFor(1000, 3, [&](int begin, int end) { total += end - begin; });
  CHECK(total == 1000, "after exceptions: %d", total.load());
}

void nestedUseFallsBack() {
  gaqmd::ThreadPool pool(2);
  gaqmd::PoolScope scope(&pool);
  std::atomic<int> total{0};
  gaqmd::parallelFor(64, 2, [&](int begin, int end) {
    gaqmd::PoolScope inner(&pool);  // a region started from inside a region of the same pool
    gaqmd::parallelFor(end - begin, 2, [&](int b, int e) { total += e - b; });
  });
  CHECK(total == 64, "nested regions covered %d of 64", total.load());
}

int main() {
  for (int threads : {1, 2, 3, 5})
    for (bool withPool : {true, false}) everyIndexOnce(threads, withPool);
  exceptionsReachTheCaller();
  nestedUseFallsBack();
  std::printf("test_engine_parallel: ok\n");
  return 0;
}
