// The persistent thread pool of parallelFor (Parallel.h).

#include "gaqmd/engine/Parallel.h"

#include <chrono>

namespace gaqmd {
namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// How long an idle worker (or the waiting caller) polls before it sleeps / yields.
constexpr std::chrono::microseconds kSpin{5};

}  // namespace

ThreadPool*& currentPool() {
  thread_local ThreadPool* pool = nullptr;
  return pool;
}

ThreadPool::ThreadPool(int threads) {
  errors_.resize(std::max(1, threads));
  for (int w = 1; w < threads; ++w) workers_.emplace_back([this, w] { work(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::claimParts(uint64_t generation, const std::function<void(int)>& task, int parts) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    int k;
    do {
      if ((c >> 32) != (generation & 0xffffffffu)) return;  // a later generation: not ours
      k = static_cast<int>(c & 0xffffffffu);
      if (k >= parts) return;
    } while (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire));
    try {
      task(k);
    } catch (...) {
      errors_[k] = std::current_exception();
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

bool ThreadPool::run(int parts, const std::function<void(int)>& task) {
  if (busy_.exchange(true, std::memory_order_acquire)) return false;
  parts = std::min(parts, size());
  for (int k = 0; k < parts; ++k) errors_[k] = nullptr;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    parts_ = parts;
    done_.store(0, std::memory_order_relaxed);
    generation = generation_.load(std::memory_order_relaxed) + 1;
    claim_.store((generation & 0xffffffffu) << 32, std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
  }
  wake_.notify_all();
  claimParts(generation, task, parts);
  const auto start = std::chrono::steady_clock::now();
  for (int spins = 0; done_.load(std::memory_order_acquire) != parts; ++spins) {
    if (spins % 64 == 63 && std::chrono::steady_clock::now() - start > kSpin)
      std::this_thread::yield();
    else
      cpuRelax();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = nullptr;
  }
  busy_.store(false, std::memory_order_release);
  for (int k = 0; k < parts; ++k)
    if (errors_[k]) std::rethrow_exception(errors_[k]);
  return true;
}

void ThreadPool::work(int index) {
  (void)index;
  uint64_t seen = 0;
  for (;;) {
    // Poll for the next task for a while, then sleep until one is published.
    const auto start = std::chrono::steady_clock::now();
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen; ++spins) {
      if (spins % 64 == 63 && std::chrono::steady_clock::now() - start > kSpin) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
      }
      cpuRelax();
      now = generation_.load(std::memory_order_acquire);
    }
    const std::function<void(int)>* task;
    int parts;
    {
      // Read the generation with the task it publishes (a worker may have slept through some).
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      task = task_;
      parts = parts_;
    }
    if (task) claimParts(seen, *task, parts);
  }
}

}  // namespace gaqmd
