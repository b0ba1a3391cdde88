#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

namespace sinan {
namespace {

TEST(ThreadPool, RangesCoverEveryIndexExactlyOnce) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        EXPECT_EQ(pool.n_threads(), threads);
        for (int64_t n : {0, 1, 2, 7, 100, 1001}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            std::set<int> used;
            std::mutex mu;
            pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
                for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
                std::lock_guard<std::mutex> lock(mu);
                used.insert(t);
            });
            for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << i;
            if (n >= threads) {
                EXPECT_EQ(static_cast<int>(used.size()), threads) << "every thread gets work";
            }
        }
    }
}

TEST(ThreadPool, ChunksCoverEveryIndexExactlyOnce) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        for (int64_t n : {0, 1, 2, 7, 100, 1001}) {
            for (int64_t grain : {1, 3, 64, 5000}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                pool.parallel_chunks(n, grain, [&](int64_t b, int64_t e, int t) {
                    if (threads > 1) {
                        EXPECT_LE(e - b, grain);  // one thread: one call, nothing to balance
                    }
                    EXPECT_TRUE(t >= 0 && t < threads);
                    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
                });
                for (int64_t i = 0; i < n; ++i)
                    EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1)
                        << threads << " " << n << " " << grain << " " << i;
            }
        }
    }
}

// A thread held up in its first chunk: the others run what is left of its range, so the loop
// does not wait for it to work through its whole share.
TEST(ThreadPool, ChunksOfAHeldUpThreadGoToTheOthers) {
    ThreadPool pool(2);
    constexpr int64_t kN = 100;
    std::vector<int> ran_on(kN, -1);
    std::atomic<bool> held{false};
    pool.parallel_chunks(kN, 1, [&](int64_t b, int64_t e, int t) {
        if (t == 1 && !held.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        // Thread 0 starts once thread 1 holds a chunk (or after a second, should it never come).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (t == 0 && !held.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        for (int64_t i = b; i < e; ++i) ran_on[static_cast<size_t>(i)] = t;
    });
    int64_t taken = 0;  // of thread 1's half, by thread 0
    for (int64_t i = kN / 2; i < kN; ++i) taken += ran_on[static_cast<size_t>(i)] == 0;
    EXPECT_GE(taken, kN / 2 - 2) << "thread 0 ran " << taken << " of the held-up thread's " << kN / 2 << " items";
}

TEST(ThreadPool, ManyCallsReuseTheSameThreads) {
    ThreadPool pool(4);
    std::atomic<int64_t> total{0};
    for (int call = 0; call < 2000; ++call) pool.parallel_for(10, [&](int64_t b, int64_t e, int) { total += e - b; });
    EXPECT_EQ(total.load(), 20000);
}

// Each loop after a pause longer than the spin: the workers have gone to sleep and must be woken.
TEST(ThreadPool, SleepingWorkersWakeForTheNextLoop) {
    ThreadPool pool(3);
    std::atomic<int64_t> total{0};
    for (int call = 0; call < 20; ++call) {
        std::this_thread::sleep_for(ThreadPool::kSpin * 5);
        pool.parallel_for(30, [&](int64_t b, int64_t e, int) { total += e - b; });
    }
    EXPECT_EQ(total.load(), 600);
}

// A worker's range outlasting the caller's spin: the caller sleeps and must be woken.
TEST(ThreadPool, TheCallerWaitsForASlowWorker) {
    ThreadPool pool(2);
    for (int call = 0; call < 10; ++call) {
        std::atomic<int> done{0};
        pool.parallel_for(2, [&](int64_t, int64_t, int t) {
            if (t == 1) std::this_thread::sleep_for(ThreadPool::kSpin * 5);
            ++done;
        });
        EXPECT_EQ(done.load(), 2) << "parallel_for returned before every range ran";
    }
}

// Destroyed right after a loop (workers spinning) and after a pause (workers asleep): no hang.
TEST(ThreadPool, StopsWhetherItsWorkersSpinOrSleep) {
    for (auto pause : {std::chrono::microseconds(0), ThreadPool::kSpin * 10}) {
        ThreadPool pool(4);
        std::atomic<int64_t> total{0};
        pool.parallel_for(8, [&](int64_t b, int64_t e, int) { total += e - b; });
        std::this_thread::sleep_for(pause);
        EXPECT_EQ(total.load(), 8);
    }
}

TEST(ThreadPool, DefaultIsThePhysicalCoreCount) {
    ThreadPool pool;
    EXPECT_EQ(pool.n_threads(), ThreadPool::physical_cores());
    EXPECT_GE(ThreadPool::physical_cores(), 1);
}

}  // namespace
}  // namespace sinan
