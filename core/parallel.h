// parallel_for: splits [begin, end) into contiguous chunks run on a persistent thread
// pool. Chunks are at least `grain` long, so small loops stay on the calling thread.
// Nested calls (from inside a chunk) run serially. Exceptions thrown in a chunk are
// re-thrown to the caller.
//
//   duet::set_num_threads(2);
//   parallel_for(0, n, 4096, [&](int64_t lo, int64_t hi) { for (...) ... });
#pragma once

#include <cstdint>
#include <functional>

namespace duet {

// Threads used by kernels; defaults to the machine's cores (or DUET_NUM_THREADS).
int get_num_threads();
// Throws duet::Error for n < 1 or n > max_num_threads().
void set_num_threads(int n);
// The most threads duet will run: 4 per hardware thread (at least 4). More only adds
// context switches, and a typo (100000) would otherwise start that many threads.
int max_num_threads();
bool in_parallel_region();

using RangeFn = std::function<void(int64_t begin, int64_t end)>;
void parallel_for(int64_t begin, int64_t end, int64_t grain, const RangeFn& fn);

}  // namespace duet
