// ThreadPool: a fixed set of worker threads that run parallel loops, created once (no thread
// creation per call). `parallel_for(n, fn)` splits [0, n) into one contiguous range per thread
// (the calling thread takes one as well) and returns when all are done.
// Thread-safety: one parallel_for at a time per pool (calls are serialised by a mutex);
// `fn` runs concurrently on different ranges and must only touch its own range's data.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sinan {

class ThreadPool {
public:
    // n_threads >= 1 (including the caller); 0 means physical_cores().
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int n_threads() const { return n_threads_; }

    // Calls fn(begin, end, thread_index) for contiguous ranges covering [0, n).
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

    // Physical cores of this machine (logical CPUs when that cannot be read).
    static int physical_cores();

private:
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex call_mu_;  // one parallel_for at a time
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
    int64_t n_ = 0;
    uint64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

}  // namespace sinan
