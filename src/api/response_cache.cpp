#include "api/response_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <cmath>

#include "base/log.h"
#include "base/sha256.h"

namespace sinan::api {
namespace {

constexpr const char* kRedisPrefix = "sinan:cache:";

std::string mib_text(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Numbers that are whole (1.0, 0e0) become integers, so 1 and 1.0 give the same text; integers
// stay exact (a 64-bit seed must not round).
nlohmann::json canonical(const nlohmann::json& j) {
    if (j.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = canonical(it.value());
        return out;
    }
    if (j.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& v : j) out.push_back(canonical(v));
        return out;
    }
    if (j.is_number_float()) {
        const double v = j.get<double>();
        if (v == std::trunc(v) && std::abs(v) < 9.0e15) return static_cast<int64_t>(v);
    }
    return j;
}

timeval to_timeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

std::string cache_key(std::string_view model_id, const nlohmann::json& request) {
    // nlohmann::json keeps object keys sorted and dump() writes numbers in shortest round-trip
    // form, so with canonical() equal requests give equal text whatever their key order, spacing
    // or number spelling.
    std::string text(model_id);
    text += '\n';
    text += canonical(request).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return sha256_hex(text);
}

// --- LruCache ---

LruCache::LruCache(uint64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

uint64_t LruCache::cost(const std::string& key, const std::string& value) {
    return key.size() + value.size() + kEntryOverheadBytes;
}

std::optional<std::string> LruCache::get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
        ++misses_;
        return std::nullopt;
    }
    items_.splice(items_.begin(), items_, it->second);  // most recently used first; iterators stay valid
    ++hits_;
    return it->second->value;
}

void LruCache::put(const std::string& key, const std::string& value) {
    const uint64_t c = cost(key, value);
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
        bytes_ -= cost(it->second->key, it->second->value);
        items_.erase(it->second);
        index_.erase(it);
    }
    if (c > capacity_bytes_) return;
    while (bytes_ + c > capacity_bytes_) {
        const Item& last = items_.back();
        bytes_ -= cost(last.key, last.value);
        index_.erase(last.key);
        items_.pop_back();
    }
    items_.push_front(Item{key, value});
    index_.emplace(items_.front().key, items_.begin());
    bytes_ += c;
}

CacheStats LruCache::stats() const {
    std::lock_guard lock(mu_);
    return CacheStats{hits_, misses_, 0, items_.size(), bytes_};
}

std::string LruCache::describe() const { return "in-process LRU, " + mib_text(capacity_bytes_); }

// --- RedisCache ---

Result<RedisOptions> parse_redis_url(const std::string& url, RedisOptions base) {
    const std::string scheme = "redis://";
    const std::string form = "; expected redis://HOST:PORT[/DB], e.g. redis://127.0.0.1:6379/0";
    if (url.rfind(scheme, 0) != 0) return Status::error("cache URL '" + url + "' is not redis://" + form);
    std::string rest = url.substr(scheme.size());
    if (const size_t slash = rest.find('/'); slash != std::string::npos) {
        const std::string db = rest.substr(slash + 1);
        rest.resize(slash);
        if (!db.empty()) {
            auto r = std::from_chars(db.data(), db.data() + db.size(), base.db);
            if (r.ec != std::errc() || r.ptr != db.data() + db.size() || base.db < 0) {
                return Status::error("cache URL '" + url + "': database '" + db + "' is not a number" + form);
            }
        }
    }
    const size_t colon = rest.rfind(':');
    base.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
        const std::string port = rest.substr(colon + 1);
        auto r = std::from_chars(port.data(), port.data() + port.size(), base.port);
        if (r.ec != std::errc() || r.ptr != port.data() + port.size() || base.port < 1 || base.port > 65535) {
            return Status::error("cache URL '" + url + "': port '" + port + "' is not 1..65535" + form);
        }
    }
    if (base.host.empty() || base.host.find('@') != std::string::npos) {
        return Status::error("cache URL '" + url + "': needs a host (passwords are not supported)" + form);
    }
    return base;
}

RedisCache::RedisCache(RedisOptions options) : options_(std::move(options)) {}

RedisCache::~RedisCache() {
    if (ctx_ != nullptr) redisFree(ctx_);
}

Result<std::unique_ptr<RedisCache>> RedisCache::connect(const RedisOptions& options) {
    std::unique_ptr<RedisCache> cache(new RedisCache(options));
    std::lock_guard lock(cache->mu_);
    Status s = cache->ensure_connected();
    if (!s.is_ok()) return s.annotate("response cache: ");
    return cache;
}

Status RedisCache::ensure_connected() {
    if (ctx_ != nullptr) return Status::ok();
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_) return Status::error("redis is down; next attempt later");
    next_attempt_ = now + options_.retry_interval;
    const std::string where = "redis://" + options_.host + ":" + std::to_string(options_.port);
    const timeval tv = to_timeval(options_.connect_timeout);
    redisContext* c = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
    if (c == nullptr || c->err != 0) {
        Status s = Status::error(where + ": cannot connect: " + (c != nullptr ? c->errstr : "out of memory") +
                                 "; start Redis or drop --cache");
        if (c != nullptr) redisFree(c);
        return s;
    }
    if (redisSetTimeout(c, to_timeval(options_.command_timeout)) != REDIS_OK) {
        redisFree(c);
        return Status::error(where + ": cannot set the command timeout");
    }
    for (const std::string& cmd : {std::string("PING"), "SELECT " + std::to_string(options_.db)}) {
        auto* reply = static_cast<redisReply*>(redisCommand(c, cmd.c_str()));
        const bool ok = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
        const std::string err = reply == nullptr ? c->errstr : reply->type == REDIS_REPLY_ERROR ? reply->str : "";
        if (reply != nullptr) freeReplyObject(reply);
        if (!ok) {
            redisFree(c);
            return Status::error(where + ": " + cmd.substr(0, cmd.find(' ')) + " failed: " + err);
        }
    }
    ctx_ = c;
    return Status::ok();
}

void RedisCache::note_failure(const std::string& what) {
    ++errors_;
    if (!failing_) {
        log::warn("response cache: " + what + "; answering without the cache until Redis is back");
        failing_ = true;
    }
    if (ctx_ != nullptr) {
        redisFree(ctx_);
        ctx_ = nullptr;
        next_attempt_ = std::chrono::steady_clock::now() + options_.retry_interval;
    }
}

std::optional<std::string> RedisCache::get(const std::string& key) {
    std::lock_guard lock(mu_);
    if (Status s = ensure_connected(); !s.is_ok()) {
        if (failing_)
            ++errors_;  // already logged; the outage continues
        else
            note_failure(s.message());
        ++misses_;
        return std::nullopt;
    }
    const std::string k = kRedisPrefix + key;
    auto* reply = static_cast<redisReply*>(redisCommand(ctx_, "GET %b", k.data(), k.size()));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
        note_failure(std::string("GET failed: ") + (reply != nullptr ? reply->str : ctx_->errstr));
        if (reply != nullptr) freeReplyObject(reply);
        ++misses_;
        return std::nullopt;
    }
    failing_ = false;
    std::optional<std::string> out;
    if (reply->type == REDIS_REPLY_STRING) out = std::string(reply->str, reply->len);
    freeReplyObject(reply);
    ++(out ? hits_ : misses_);
    return out;
}

void RedisCache::put(const std::string& key, const std::string& value) {
    std::lock_guard lock(mu_);
    if (Status s = ensure_connected(); !s.is_ok()) {
        if (failing_)
            ++errors_;
        else
            note_failure(s.message());
        return;
    }
    const std::string k = kRedisPrefix + key;
    const std::string ttl = std::to_string(std::max<int64_t>(1, options_.ttl.count()));
    auto* reply = static_cast<redisReply*>(
        redisCommand(ctx_, "SET %b %b EX %s", k.data(), k.size(), value.data(), value.size(), ttl.c_str()));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
        note_failure(std::string("SET failed: ") + (reply != nullptr ? reply->str : ctx_->errstr));
        if (reply != nullptr) freeReplyObject(reply);
        return;
    }
    failing_ = false;
    freeReplyObject(reply);
}

CacheStats RedisCache::stats() const { return CacheStats{hits_.load(), misses_.load(), errors_.load(), 0, 0}; }

std::string RedisCache::describe() const {
    return "redis://" + options_.host + ":" + std::to_string(options_.port) + "/" + std::to_string(options_.db) +
           ", ttl " + std::to_string(options_.ttl.count()) + " s";
}

Result<std::unique_ptr<ResponseCache>> open_response_cache(const std::string& spec, uint64_t lru_bytes,
                                                           std::chrono::seconds ttl) {
    if (spec.empty() || spec == "memory") return std::unique_ptr<ResponseCache>(new LruCache(lru_bytes));
    if (spec.rfind("redis://", 0) == 0) {
        RedisOptions base;
        base.ttl = ttl;
        auto opts = parse_redis_url(spec, base);
        if (!opts.ok()) return opts.status();
        auto redis = RedisCache::connect(*opts);
        if (!redis.ok()) return redis.status();
        return std::unique_ptr<ResponseCache>(std::move(*redis));
    }
    return Status::error("--cache '" + spec + "' is not known; use 'memory' (the default) or redis://HOST:PORT[/DB]");
}

}  // namespace sinan::api
