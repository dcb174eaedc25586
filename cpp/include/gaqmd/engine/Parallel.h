#pragma once
// Engine-internal: a static-partition parallel loop. Each index is processed by exactly one
// thread, with the same arithmetic whatever the partition, so results that every index writes to
// its own outputs are bitwise independent of the thread count.
//
// Engine::compute runs its loops on a persistent ThreadPool (installed for the calling thread by a
// PoolScope): workers spin briefly between the many short parallel regions of one evaluation and
// then sleep. Without a pool (or when the pool is busy) parallelFor starts threads per call.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gaqmd {

class ThreadPool {
 public:
  /// A pool of `threads` threads: the caller of run() plus threads - 1 workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  /// Calls task(k) once for each k in [0, parts) (parts <= size()); the parts are claimed in
  /// order by the calling thread and the workers that are awake, so a descheduled worker (a busy
  /// machine) costs no more than running its part on the caller. Returns when all are done and
  /// rethrows the exception of the lowest part that threw. False (nothing run) when the pool is
  /// already running a task (re-entrant use).
  bool run(int parts, const std::function<void(int)>& task);

 private:
  void work(int index);
  /// Claims and runs parts of generation `generation` until none is left.
  void claimParts(uint64_t generation, const std::function<void(int)>& task, int parts);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> claim_{0};  // (generation << 32) | next unclaimed part
  std::atomic<int> done_{0};
  std::atomic<bool> busy_{false};
  bool stop_ = false;
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0;
  std::vector<std::exception_ptr> errors_;
};

/// The pool parallelFor uses on this thread (nullptr: none).
ThreadPool*& currentPool();

/// Installs `pool` for parallelFor on this thread for the scope's lifetime.
class PoolScope {
 public:
  explicit PoolScope(ThreadPool* pool) : previous_(currentPool()) { currentPool() = pool; }
  ~PoolScope() { currentPool() = previous_; }
  PoolScope(const PoolScope&) = delete;
  PoolScope& operator=(const PoolScope&) = delete;

 private:
  ThreadPool* previous_;
};

/// Number of chunks parallelChunks / parallelFor split [0, n) into for `threads` threads.
inline int numChunks(int n, int threads) { return std::max(1, std::min(threads, n / 4)); }

/// Calls f(chunk, begin, end) for the numChunks(n, threads) contiguous chunks of [0, n) (chunk
/// c on one thread); rethrows the exception of the lowest chunk that threw.
template <class F>
void parallelChunks(int n, int threads, F&& f) {
  const int workers = numChunks(n, threads);
  if (workers <= 1) {
    f(0, 0, n);
    return;
  }
  const int chunk = (n + workers - 1) / workers;
  const std::function<void(int)> part = [&f, n, chunk](int w) {
    const int begin = std::min(n, w * chunk), end = std::min(n, begin + chunk);
    f(w, begin, end);
  };
  ThreadPool* pool = currentPool();
  if (pool && pool->size() >= workers && pool->run(workers, part)) return;
  std::vector<std::thread> threadsStarted;
  std::vector<std::exception_ptr> errors(workers);
  threadsStarted.reserve(workers - 1);
  for (int w = 1; w < workers; ++w)
    threadsStarted.emplace_back([&part, &errors, w] {
      try {
        part(w);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  try {
    part(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (std::thread& t : threadsStarted) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

/// Calls f(begin, end) on contiguous chunks of [0, n) on up to `threads` threads.
template <class F>
void parallelFor(int n, int threads, F&& f) {
  parallelChunks(n, threads, [&f](int, int begin, int end) {
    if (begin < end) f(begin, end);
  });
}

}  // namespace gaqmd
