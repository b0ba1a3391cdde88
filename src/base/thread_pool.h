// ThreadPool: a fixed set of worker threads that run parallel loops, created once (no thread
// creation per call). `parallel_for(n, fn)` splits [0, n) into one contiguous range per thread
// (the calling thread takes one as well) and returns when all are done.
// Hand-off: a forward pass runs hundreds of short loops per token, so waking a sleeping thread
// for each (a futex wake and a reschedule, tens of microseconds on a VM) would cost more than
// the loops' own serial gaps. Workers therefore spin (with a pause instruction) for up to
// kSpin after each loop, watching for the next one, and only then sleep on a condition variable;
// the caller likewise spins for the workers to finish before it sleeps. An idle pool sleeps.
// Thread-safety: one parallel_for at a time per pool (calls are serialised by a mutex);
// `fn` runs concurrently on different ranges and must only touch its own range's data.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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

    // How long a thread spins for the next loop (workers) or for the workers to finish (the
    // caller) before it sleeps.
    static constexpr std::chrono::microseconds kSpin{20};

    // Calls fn(begin, end, thread_index) for contiguous ranges covering [0, n), one per thread.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

    // The same work balanced at run time: each thread's range is handed out in chunks of `grain`
    // (its own in order), and a thread that has run out takes the chunks left in the others'.
    // The loop then ends about one chunk after the last thread starts its last chunk, where
    // parallel_for waits for the slowest thread's whole range (a core slowed by another process,
    // a worker woken late). fn may run several times on a thread, once per chunk; with one thread,
    // once for all of [0, n). grain >= 1.
    void parallel_chunks(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

    // Physical cores of this machine (logical CPUs when that cannot be read).
    static int physical_cores();

  private:
    // One thread's share of a parallel_chunks loop: the next chunk to hand out and the end.
    struct alignas(64) Cursor {
        std::atomic<int64_t> next{0};
        int64_t end = 0;
    };

    void run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);  // call_mu_ held
    void worker(int index);
    void wait_for_workers();

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex call_mu_;  // one parallel_for at a time
    // The loop being run: written by the caller before it bumps generation_, read by the workers
    // after they see the new generation.
    const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
    int64_t n_ = 0;
    std::atomic<uint64_t> generation_{0};  // one more per loop
    std::atomic<int> pending_{0};          // workers still in the current loop
    std::atomic<bool> stop_{false};
    // Sleeping: a thread announces itself (sleepers_, caller_asleep_) before it re-checks its
    // condition under mu_ and waits; the other side wakes it only when announced. Sequentially
    // consistent operations on both sides make a missed wake-up impossible.
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    std::atomic<int> sleepers_{0};
    std::atomic<bool> caller_asleep_{false};
    std::unique_ptr<Cursor[]> cursors_;  // [n_threads_]: parallel_chunks
};

}  // namespace sinan
