#include "base/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace sinan {

namespace {

std::pair<int64_t, int64_t> range_of(int64_t n, int parts, int i) {
    const int64_t base = n / parts, extra = n % parts;
    const int64_t begin = i * base + std::min<int64_t>(i, extra);
    return {begin, begin + base + (i < extra ? 1 : 0)};
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Spins until done() or ThreadPool::kSpin has passed; returns done()'s last value.
template <typename Done>
bool spin_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + ThreadPool::kSpin;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (done()) return true;
            cpu_relax();
        }
        if (std::chrono::steady_clock::now() >= deadline) return done();
    }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads > 0 ? n_threads : physical_cores()), cursors_(new Cursor[n_threads_]) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    { std::lock_guard<std::mutex> lock(mu_); }
    start_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> call(call_mu_);
    run(n, fn);
}

void ThreadPool::parallel_chunks(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> call(call_mu_);
    if (n_threads_ == 1) {
        fn(0, n, 0);
        return;
    }
    grain = std::max<int64_t>(grain, 1);
    for (int i = 0; i < n_threads_; ++i) {
        auto [b, e] = range_of(n, n_threads_, i);
        cursors_[i].next.store(b, std::memory_order_relaxed);
        cursors_[i].end = e;
    }
    // One pointer captured: the callable fits std::function's inline storage (no allocation).
    const struct {
        Cursor* cursors;
        int n_threads;
        int64_t grain;
        const std::function<void(int64_t, int64_t, int)>* fn;
    } job{cursors_.get(), n_threads_, grain, &fn};
    // n_threads_ items: thread i runs item i, its own range first, then the others' leftovers.
    run(n_threads_, [&job](int64_t, int64_t, int index) {
        for (int k = 0; k < job.n_threads; ++k) {
            Cursor& c = job.cursors[(index + k) % job.n_threads];
            for (;;) {
                const int64_t b = c.next.fetch_add(job.grain, std::memory_order_relaxed);
                if (b >= c.end) break;
                (*job.fn)(b, std::min(b + job.grain, c.end), index);
            }
        }
    });
}

void ThreadPool::run(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
    if (n_threads_ == 1) {
        fn(0, n, 0);
        return;
    }
    fn_ = &fn;
    n_ = n;
    pending_.store(n_threads_ - 1);
    generation_.fetch_add(1);  // publishes fn_, n_ and pending_
    if (sleepers_.load() > 0) {
        { std::lock_guard<std::mutex> lock(mu_); }  // a sleeper is now waiting, or will see generation_
        start_cv_.notify_all();                     // outside mu_, so the woken do not block on it
    }
    auto [b, e] = range_of(n, n_threads_, 0);
    if (b < e) fn(b, e, 0);
    wait_for_workers();
    fn_ = nullptr;
}

void ThreadPool::wait_for_workers() {
    if (spin_until([this] { return pending_.load() == 0; })) return;
    std::unique_lock<std::mutex> lock(mu_);
    caller_asleep_.store(true);
    done_cv_.wait(lock, [this] { return pending_.load() == 0; });
    caller_asleep_.store(false);
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    auto next = [&] { return stop_.load() || generation_.load() != seen; };
    for (;;) {
        if (!spin_until(next)) {
            std::unique_lock<std::mutex> lock(mu_);
            sleepers_.fetch_add(1);
            start_cv_.wait(lock, next);
            sleepers_.fetch_sub(1);
        }
        if (stop_.load()) return;
        seen = generation_.load();
        auto [b, e] = range_of(n_, n_threads_, index);
        if (b < e) (*fn_)(b, e, index);
        if (pending_.fetch_sub(1) == 1 && caller_asleep_.load()) {
            { std::lock_guard<std::mutex> lock(mu_); }  // the caller is now waiting
            done_cv_.notify_one();
        }
    }
}

int ThreadPool::physical_cores() {
    // Distinct (physical id, core id) pairs; falls back to logical CPUs.
    std::ifstream in("/proc/cpuinfo");
    std::set<std::pair<std::string, std::string>> cores;
    std::string line, phys = "0";
    while (std::getline(in, line)) {
        if (line.rfind("physical id", 0) == 0)
            phys = line.substr(line.find(':') + 1);
        else if (line.rfind("core id", 0) == 0)
            cores.insert({phys, line.substr(line.find(':') + 1)});
    }
    int logical = static_cast<int>(std::thread::hardware_concurrency());
    if (cores.empty()) return logical > 0 ? logical : 1;
    return static_cast<int>(cores.size());
}

}  // namespace sinan
