// Exact-match response cache for deterministic requests (temperature 0 or a fixed seed): the
// server looks a request up before scheduling it and stores the finished response after.
//
// Keys: cache_key(model_id, request) = hex SHA-256 of the model id, a newline and the request's
// canonical JSON (object keys sorted, no spaces, numbers in shortest form); the caller decides
// which request fields go in (everything that changes the output, nothing that does not).
// Values: opaque bytes (the serialised response).
//
// Two stores behind one interface:
// - LruCache (the default): in-process, bounded by bytes (key + value + a fixed per-entry
//   overhead); the least recently used entries are evicted first; an entry larger than the whole
//   budget is not stored.
// - RedisCache (`--cache redis://HOST:PORT[/DB]`): one hiredis connection with connect and command
//   timeouts, entries written with SET ... EX ttl under the prefix "sinan:cache:". A Redis failure
//   never fails a request: get() answers a miss and put() does nothing, the error is counted and
//   logged once per outage, and reconnection is tried at most once per `retry_interval` so a dead
//   Redis costs at most one timeout per interval.
//
// Thread-safety: get/put/stats may be called from any thread (each store has one mutex; Redis
// calls are serialised on its connection).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

struct redisContext;  // hiredis

namespace sinan::api {

std::string cache_key(std::string_view model_id, const nlohmann::json& request);

struct CacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t errors = 0;   // store failures (Redis down, timeout); each also counted as a miss on get
    uint64_t entries = 0;  // LRU only
    uint64_t bytes = 0;    // LRU only
};

class ResponseCache {
  public:
    virtual ~ResponseCache() = default;
    virtual std::optional<std::string> get(const std::string& key) = 0;
    virtual void put(const std::string& key, const std::string& value) = 0;
    virtual CacheStats stats() const = 0;
    virtual std::string describe() const = 0;  // for the start-up log: "memory LRU, 64 MiB"
};

class LruCache final : public ResponseCache {
  public:
    static constexpr uint64_t kEntryOverheadBytes = 64;  // list node, map slot, bookkeeping
    explicit LruCache(uint64_t capacity_bytes);

    std::optional<std::string> get(const std::string& key) override;
    void put(const std::string& key, const std::string& value) override;
    CacheStats stats() const override;
    std::string describe() const override;

  private:
    struct Item {
        std::string key, value;
    };
    static uint64_t cost(const std::string& key, const std::string& value);

    const uint64_t capacity_bytes_;
    mutable std::mutex mu_;
    std::list<Item> items_;                                                  // most recently used first
    std::unordered_map<std::string_view, std::list<Item>::iterator> index_;  // views into items_
    uint64_t bytes_ = 0;
    uint64_t hits_ = 0, misses_ = 0;
};

struct RedisOptions {
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    std::chrono::seconds ttl{3600};
    std::chrono::milliseconds connect_timeout{200};
    std::chrono::milliseconds command_timeout{200};
    std::chrono::milliseconds retry_interval{5000};
};

// Parses "redis://HOST:PORT[/DB]" into `base` (keeping its ttl and timeouts).
Result<RedisOptions> parse_redis_url(const std::string& url, RedisOptions base = {});

class RedisCache final : public ResponseCache {
  public:
    // Connects once to check the server is there (PING); fails with a message naming the URL.
    static Result<std::unique_ptr<RedisCache>> connect(const RedisOptions& options);
    ~RedisCache() override;

    std::optional<std::string> get(const std::string& key) override;
    void put(const std::string& key, const std::string& value) override;
    CacheStats stats() const override;
    std::string describe() const override;

  private:
    explicit RedisCache(RedisOptions options);
    Status ensure_connected();                   // mu_ held
    void note_failure(const std::string& what);  // mu_ held: count, log once, drop the connection

    const RedisOptions options_;
    mutable std::mutex mu_;
    redisContext* ctx_ = nullptr;
    std::chrono::steady_clock::time_point next_attempt_{};
    bool failing_ = false;  // an outage is being logged; cleared by the next success
    std::atomic<uint64_t> hits_{0}, misses_{0}, errors_{0};
};

// The store for `--cache SPEC`: "" or "memory" gives an LruCache of `lru_bytes`; "redis://..."
// a RedisCache with `ttl`; anything else is an error that lists the accepted forms.
Result<std::unique_ptr<ResponseCache>> open_response_cache(const std::string& spec, uint64_t lru_bytes,
                                                           std::chrono::seconds ttl);

}  // namespace sinan::api
