#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

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
    for (int call = 0; call < 2000; ++call)
        pool.parallel_for(10, [&](int64_t b, int64_t e, int) { total += e - b; });
    EXPECT_EQ(total.load(), 20000);
}

TEST(ThreadPool, DefaultIsThePhysicalCoreCount) {
    ThreadPool pool;
    EXPECT_EQ(pool.n_threads(), ThreadPool::physical_cores());
    EXPECT_GE(ThreadPool::physical_cores(), 1);
}

}  // namespace
}  // namespace sinan
