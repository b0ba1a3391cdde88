// Per-key rate limits: requests per minute and tokens per minute, as two token buckets per key.
//
// A bucket holds up to `per_minute` units and refills at per_minute/60 units per second, so a key
// may burst up to its whole minute's allowance and then continues at the steady rate. A request
// needs one unit of the request bucket and a token balance above zero; the tokens a request used
// are charged afterwards by record_tokens(), which may take the balance below zero (the key then
// waits until the refill pays the debt). A refused request consumes nothing.
//
// Limits come with each call (from the key's KeyInfo), so a limit changed in keys.json takes
// effect on the next request; a bucket is clamped to the new capacity. A limit of 0 means
// unlimited. The clock is injectable so tests run without sleeping.
//
// Thread-safety: all methods may be called from any thread (one mutex; a map lookup and a few
// arithmetic operations per call).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sinan::api {

struct RateLimits {
    int64_t requests_per_minute = 0;  // 0 = unlimited
    int64_t tokens_per_minute = 0;    // 0 = unlimited
};

struct RateDecision {
    bool allowed = true;
    int64_t retry_after_s = 0;  // when refused: whole seconds until a retry can pass (>= 1)
    std::string reason;         // when refused: "requests per minute" or "tokens per minute"
};

class RateLimiter {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    explicit RateLimiter(Clock clock = nullptr);  // nullptr: std::chrono::steady_clock::now

    // Admits one request for `key_id` or says how long to wait; an admitted request is counted.
    RateDecision check(const std::string& key_id, const RateLimits& limits);

    // Charges the tokens (prompt + completion) that an admitted request used.
    void record_tokens(const std::string& key_id, const RateLimits& limits, int64_t n_tokens);

  private:
    struct Bucket {
        double level = 0;
        std::chrono::steady_clock::time_point updated;
        bool started = false;
    };
    struct KeyState {
        Bucket requests, tokens;
    };
    static void refill(Bucket& b, int64_t per_minute, std::chrono::steady_clock::time_point now);

    Clock clock_;
    std::mutex mu_;
    std::map<std::string, KeyState> keys_;
};

}  // namespace sinan::api
