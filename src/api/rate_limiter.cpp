#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace sinan::api {
namespace {

using Seconds = std::chrono::duration<double>;

// Whole seconds until `deficit` units have refilled at per_minute/60 per second (at least 1).
int64_t wait_seconds(double deficit, int64_t per_minute) {
    const double s = deficit * 60.0 / static_cast<double>(per_minute);
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(s - 1e-9)));
}

}  // namespace

RateLimiter::RateLimiter(Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

void RateLimiter::refill(Bucket& b, int64_t per_minute, std::chrono::steady_clock::time_point now) {
    const double capacity = static_cast<double>(per_minute);
    if (!b.started) {
        b = Bucket{capacity, now, true};  // a new key starts with its full minute
        return;
    }
    const double elapsed = std::max(0.0, Seconds(now - b.updated).count());
    b.level = std::min(capacity, b.level + elapsed * capacity / 60.0);
    b.updated = now;
}

RateDecision RateLimiter::check(const std::string& key_id, const RateLimits& limits) {
    if (limits.requests_per_minute <= 0 && limits.tokens_per_minute <= 0) return {};
    const auto now = clock_();
    std::lock_guard lock(mu_);
    KeyState& k = keys_[key_id];
    RateDecision d;
    if (limits.requests_per_minute > 0) {
        refill(k.requests, limits.requests_per_minute, now);
        if (k.requests.level < 1.0) {
            d = {false, wait_seconds(1.0 - k.requests.level, limits.requests_per_minute), "requests per minute"};
        }
    }
    if (limits.tokens_per_minute > 0) {
        refill(k.tokens, limits.tokens_per_minute, now);
        // Above zero (not a whole token) admits: the request's size is known only afterwards.
        if (k.tokens.level <= 0.0) {
            const int64_t wait = wait_seconds(-k.tokens.level + 1e-6, limits.tokens_per_minute);
            if (d.allowed || wait > d.retry_after_s) d = {false, wait, "tokens per minute"};
        }
    }
    if (d.allowed && limits.requests_per_minute > 0) k.requests.level -= 1.0;
    return d;
}

void RateLimiter::record_tokens(const std::string& key_id, const RateLimits& limits, int64_t n_tokens) {
    if (limits.tokens_per_minute <= 0 || n_tokens <= 0) return;
    const auto now = clock_();
    std::lock_guard lock(mu_);
    Bucket& b = keys_[key_id].tokens;
    refill(b, limits.tokens_per_minute, now);
    b.level -= static_cast<double>(n_tokens);
}

}  // namespace sinan::api
