// Rate limits per key, on a clock the test moves by hand (no sleeps, no timing).
#include "api/rate_limiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sinan::api {
namespace {

using namespace std::chrono_literals;

class RateLimit : public ::testing::Test {
  protected:
    std::chrono::steady_clock::time_point now_{};
    RateLimiter limiter_{[this] { return now_; }};
};

TEST_F(RateLimit, UnlimitedKeysAreAlwaysAdmitted) {
    for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter_.check("k", {}).allowed);
    limiter_.record_tokens("k", {}, 1'000'000);
    EXPECT_TRUE(limiter_.check("k", {}).allowed);
}

TEST_F(RateLimit, RequestsPerMinuteAllowTheMinuteThenTheSteadyRate) {
    const RateLimits lim{6, 0};  // one request per 10 s on average
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(limiter_.check("k", lim).allowed) << i;
    RateDecision d = limiter_.check("k", lim);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 10);
    EXPECT_EQ(d.reason, "requests per minute");

    now_ += 9s;
    d = limiter_.check("k", lim);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 1);
    now_ += 1s;
    EXPECT_TRUE(limiter_.check("k", lim).allowed) << "Retry-After is enough";
    EXPECT_FALSE(limiter_.check("k", lim).allowed);

    now_ += 1h;  // refill stops at the capacity
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(limiter_.check("k", lim).allowed) << i;
    EXPECT_FALSE(limiter_.check("k", lim).allowed);
}

TEST_F(RateLimit, KeysHaveSeparateBuckets) {
    const RateLimits lim{1, 0};
    EXPECT_TRUE(limiter_.check("a", lim).allowed);
    EXPECT_FALSE(limiter_.check("a", lim).allowed);
    EXPECT_TRUE(limiter_.check("b", lim).allowed);
}

TEST_F(RateLimit, TokensAreChargedAfterwardsAndTheDebtIsPaidByWaiting) {
    const RateLimits lim{0, 600};  // 10 tokens per second
    EXPECT_TRUE(limiter_.check("k", lim).allowed);
    limiter_.record_tokens("k", lim, 500);
    EXPECT_TRUE(limiter_.check("k", lim).allowed) << "100 tokens are left";
    limiter_.record_tokens("k", lim, 400);  // balance -300: 30 s of refill
    RateDecision d = limiter_.check("k", lim);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, "tokens per minute");
    EXPECT_EQ(d.retry_after_s, 31) << "the balance must be above zero, not at it";
    now_ += 30s;
    EXPECT_FALSE(limiter_.check("k", lim).allowed);
    now_ += 1s;
    EXPECT_TRUE(limiter_.check("k", lim).allowed);
}

TEST_F(RateLimit, ARefusedRequestConsumesNothing) {
    const RateLimits lim{2, 60};
    EXPECT_TRUE(limiter_.check("k", lim).allowed);
    limiter_.record_tokens("k", lim, 120);  // tokens: -60, one minute of debt
    for (int i = 0; i < 100; ++i) ASSERT_FALSE(limiter_.check("k", lim).allowed);
    now_ += 61s;  // tokens +1; requests back to 2 (capacity)
    EXPECT_TRUE(limiter_.check("k", lim).allowed);
    EXPECT_TRUE(limiter_.check("k", lim).allowed) << "the refused checks took no request units";
    RateDecision d = limiter_.check("k", lim);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, "requests per minute");
}

TEST_F(RateLimit, TheLongerWaitIsReportedWhenBothLimitsBite) {
    const RateLimits lim{1, 60};
    EXPECT_TRUE(limiter_.check("k", lim).allowed);
    limiter_.record_tokens("k", lim, 60 + 120);  // tokens -120: 121 s; requests: 60 s
    RateDecision d = limiter_.check("k", lim);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 121);
    EXPECT_EQ(d.reason, "tokens per minute");
}

TEST_F(RateLimit, ALoweredLimitTakesEffectAtOnce) {
    EXPECT_TRUE(limiter_.check("k", {100, 0}).allowed);  // 99 left of 100
    const RateLimits lower{2, 0};
    EXPECT_TRUE(limiter_.check("k", lower).allowed);  // clamped to 2, then 1 left
    EXPECT_TRUE(limiter_.check("k", lower).allowed);
    EXPECT_FALSE(limiter_.check("k", lower).allowed);
}

TEST(RateLimitThreads, ConcurrentChecksAdmitExactlyTheAllowance) {
    const auto t0 = std::chrono::steady_clock::now();
    RateLimiter limiter([t0] { return t0; });  // time stands still: no refill
    const RateLimits lim{1000, 0};
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) admitted += limiter.check("k", lim).allowed ? 1 : 0;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(admitted.load(), 1000);
}

}  // namespace
}  // namespace sinan::api
