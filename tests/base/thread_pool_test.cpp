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
