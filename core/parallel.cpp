// The thread pool behind parallel_for. Workers spin briefly for new work before they
// sleep, because kernels on training-sized tensors take microseconds and a condition
// variable wake-up costs about as much.
#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace duet {
namespace {

thread_local bool t_in_parallel = false;

class ThreadPool {
 public:
  ~ThreadPool() { resize(0); }

  int workers() const { return int(threads_.size()); }

  void resize(int n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    stop_ = false;
    // A worker starts from the generation current now: work posted before it gets
    // scheduled must still count as new to it.
    uint64_t start_gen = generation_.load();
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i, start_gen] { worker_loop(i + 1, start_gen); });
  }

  // Runs fn(chunk) for chunk in [0, chunks): the caller takes chunk 0.
  void run(int chunks, const std::function<void(int)>& fn) {
    std::lock_guard<std::mutex> run_lock(run_mu_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      chunks_ = chunks;
      pending_.store(chunks - 1);
      error_ = nullptr;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    run_chunk(fn, 0);
    while (pending_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = nullptr;
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(const std::function<void(int)>& fn, int chunk) {
    t_in_parallel = true;
    try {
      fn(chunk);
    } catch (...) {
      std::lock_guard<std::mutex> lock(err_mu_);
      if (!error_) error_ = std::current_exception();
    }
    t_in_parallel = false;
  }

  void worker_loop(int id, uint64_t seen) {
    for (;;) {
      // Spin a little, then sleep until the generation changes.
      for (int spin = 0; generation_.load(std::memory_order_acquire) == seen && spin < 4000; ++spin)
        std::this_thread::yield();
      const std::function<void(int)>* job;
      int chunks;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_.load() != seen; });
        if (stop_) return;
        // Read the generation and its job together, so a job is never run twice.
        seen = generation_.load();
        job = job_;
        chunks = chunks_;
      }
      if (job && id < chunks) {
        run_chunk(*job, id);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_, run_mu_, err_mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

int default_threads() {
  if (const char* env = std::getenv("DUET_NUM_THREADS")) {
    int n = std::atoi(env);
    DUET_CHECK(n <= max_num_threads(), "DUET_NUM_THREADS=", env, " is more than the ", max_num_threads(),
               " threads duet runs on this machine (4 per hardware thread)");
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

int g_num_threads = 0;  // 0: not yet initialised

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

}  // namespace

int get_num_threads() {
  if (g_num_threads == 0) g_num_threads = default_threads();
  return g_num_threads;
}

int max_num_threads() { return 4 * int(std::max(1u, std::thread::hardware_concurrency())); }

void set_num_threads(int n) {
  DUET_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  DUET_CHECK(n <= max_num_threads(), "set_num_threads: ", n, " threads is more than ", max_num_threads(),
             " (4 per hardware thread of this machine, which has ", std::thread::hardware_concurrency(), ")");
  DUET_CHECK(!t_in_parallel, "set_num_threads: cannot change the thread count inside a parallel region");
  g_num_threads = n;
  if (pool().workers() != 0 && pool().workers() != n - 1) pool().resize(n - 1);
}

bool in_parallel_region() { return t_in_parallel; }

void parallel_for(int64_t begin, int64_t end, int64_t grain, const RangeFn& fn) {
  if (begin >= end) return;
  int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  int threads = get_num_threads();
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1 || t_in_parallel) {
    fn(begin, end);
    return;
  }
  if (pool().workers() != threads - 1) pool().resize(threads - 1);
  int64_t per = (n + chunks - 1) / chunks;
  pool().run(int(chunks), [&](int c) {
    int64_t lo = begin + c * per, hi = std::min(end, lo + per);
    if (lo < hi) fn(lo, hi);
  });
}

}  // namespace duet
