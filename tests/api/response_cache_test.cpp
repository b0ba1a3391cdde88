// The response cache: LRU eviction by bytes, cache keys, and the Redis store against a real
// redis-server started on a free loopback port (skipped with a message when it is not installed),
// including Redis dying or hanging mid-way.
#include "api/response_cache.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "run_binary.h"

extern char** environ;

namespace sinan::api {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// --- LRU ---

uint64_t cost(const std::string& k, const std::string& v) {
    return k.size() + v.size() + LruCache::kEntryOverheadBytes;
}

TEST(LruCache, EvictsTheLeastRecentlyUsedWhenTheBytesRunOut) {
    const std::string v(100, 'x');
    LruCache cache(3 * cost("a", v));
    cache.put("a", v);
    cache.put("b", v);
    cache.put("c", v);
    ASSERT_TRUE(cache.get("a").has_value());  // a is now the most recent; b the least
    cache.put("d", v);
    EXPECT_FALSE(cache.get("b").has_value());
    EXPECT_TRUE(cache.get("a").has_value());
    EXPECT_TRUE(cache.get("c").has_value());
    EXPECT_EQ(cache.get("d"), v);
    const CacheStats s = cache.stats();
    EXPECT_EQ(s.entries, 3u);
    EXPECT_EQ(s.bytes, 3 * cost("a", v));
    EXPECT_EQ(s.hits, 4u);
    EXPECT_EQ(s.misses, 1u);
}

TEST(LruCache, ABigEntryEvictsAsManyAsItNeeds) {
    LruCache cache(1000);
    for (int i = 0; i < 5; ++i) cache.put("k" + std::to_string(i), std::string(100, 'x'));  // 5 x 166 bytes
    cache.put("big", std::string(1000 - 3 - LruCache::kEntryOverheadBytes - 166, 'y'));     // leaves room for one
    EXPECT_EQ(cache.stats().entries, 2u);
    EXPECT_TRUE(cache.get("k4").has_value());
    EXPECT_FALSE(cache.get("k3").has_value());
    EXPECT_LE(cache.stats().bytes, 1000u);
}

TEST(LruCache, AnEntryLargerThanTheBudgetIsNotStoredAndEvictsNothing) {
    LruCache cache(500);
    cache.put("small", "v");
    cache.put("huge", std::string(500, 'z'));
    EXPECT_FALSE(cache.get("huge").has_value());
    EXPECT_EQ(cache.get("small"), "v");
}

TEST(LruCache, ReplacingAValueUpdatesTheBytes) {
    LruCache cache(10000);
    cache.put("k", std::string(10, 'a'));
    cache.put("k", std::string(300, 'b'));
    EXPECT_EQ(cache.get("k"), std::string(300, 'b'));
    EXPECT_EQ(cache.stats().entries, 1u);
    EXPECT_EQ(cache.stats().bytes, cost("k", std::string(300, 'b')));
}

TEST(LruCache, ConcurrentUseKeepsTheBudget) {
    LruCache cache(20000);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string k = std::to_string((i * 7 + t) % 300);
                if (!cache.get(k)) cache.put(k, std::string(50 + i % 200, 'v'));
            }
        });
    }
    for (auto& th : threads) th.join();
    const CacheStats s = cache.stats();
    EXPECT_LE(s.bytes, 20000u);
    EXPECT_EQ(s.hits + s.misses, 8000u);
}

TEST(CacheKey, EqualRequestsGiveEqualKeysWhateverTheirSpelling) {
    const auto a = nlohmann::json::parse(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0,"seed":1})");
    const auto b = nlohmann::json::parse(R"({ "seed": 1, "temperature": 0.0e0,
        "messages": [ {"content": "hi", "role": "user"} ] })");
    const auto c = nlohmann::json::parse(R"({"messages":[{"role":"user","content":"hi!"}],"temperature":0,"seed":1})");
    EXPECT_EQ(cache_key("m", a), cache_key("m", b));
    EXPECT_NE(cache_key("m", a), cache_key("m", c));
    EXPECT_NE(cache_key("m", a), cache_key("other", a));
    EXPECT_EQ(cache_key("m", a).size(), 64u);
    // Whole numbers compare equal in any spelling; large integers (seeds) stay exact.
    EXPECT_EQ(cache_key("m", nlohmann::json::parse("[1, 2.50, -0.0]")),
              cache_key("m", nlohmann::json::parse("[1.0, 2.5, 0]")));
    EXPECT_NE(cache_key("m", nlohmann::json::parse("[9007199254740993]")),
              cache_key("m", nlohmann::json::parse("[9007199254740992]")));
    // The model id and the request cannot blur into each other.
    EXPECT_NE(cache_key("a\n\"x\"", nlohmann::json("y")), cache_key("a", nlohmann::json("x\"\n\"y")));
}

TEST(OpenResponseCache, PicksTheStoreFromTheSpec) {
    auto mem = open_response_cache("", 1 << 20, 60s);
    ASSERT_TRUE(mem.ok()) << mem.message();
    EXPECT_EQ((*mem)->describe(), "in-process LRU, 1 MiB");
    auto bad = open_response_cache("memcached://x", 1 << 20, 60s);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.message().find("redis://HOST:PORT"), std::string::npos) << bad.message();
}

TEST(RedisUrl, ParsesHostPortAndDatabase) {
    auto a = parse_redis_url("redis://10.0.0.5:6380/3");
    ASSERT_TRUE(a.ok()) << a.message();
    EXPECT_EQ(a->host, "10.0.0.5");
    EXPECT_EQ(a->port, 6380);
    EXPECT_EQ(a->db, 3);
    auto b = parse_redis_url("redis://cache.local");
    ASSERT_TRUE(b.ok()) << b.message();
    EXPECT_EQ(b->port, 6379);
    EXPECT_EQ(b->db, 0);
    for (const char* bad : {"http://x:1", "redis://", "redis://:6379", "redis://h:0", "redis://h:99999",
                            "redis://h:12ab", "redis://h:1/x", "redis://user:pw@h:1"}) {
        EXPECT_FALSE(parse_redis_url(bad).ok()) << bad;
    }
}

// --- Redis ---

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        return -1;
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string find_redis_server() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
        if (::access(p, X_OK) == 0) return p;
    }
    return "";
}

// A redis-server of our own on a loopback port, with no persistence, in a temp dir.
class RedisServer {
  public:
    RedisServer(std::string binary, int port) : binary_(std::move(binary)), port_(port), dir_(test::make_temp_dir()) {}
    ~RedisServer() {
        stop(SIGKILL);
        fs::remove_all(dir_);
    }
    // Starts the server and waits until it answers PING (false if it never does).
    bool start() {
        const std::string port = std::to_string(port_);
        std::vector<std::string> args =
            test::killed_with_parent({binary_, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                      "no", "--dir", dir_, "--daemonize", "no", "--logfile", dir_ + "/redis.log"});
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
        for (int i = 0; i < 500; ++i) {  // up to ~5 s for the server to come up
            if (ping()) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
    void stop(int sig) {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGCONT);
        ::kill(pid_, sig);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    void signal(int sig) { ::kill(pid_, sig); }
    bool ping() const {
        redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeval{0, 200000});
        bool ok = false;
        if (c != nullptr && c->err == 0) {
            auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
            ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
            if (r != nullptr) freeReplyObject(r);
        }
        if (c != nullptr) redisFree(c);
        return ok;
    }
    // TTL of a key in seconds (-2: missing), through a connection of its own.
    long long ttl(const std::string& key, int db) const {
        redisContext* c = redisConnect("127.0.0.1", port_);
        long long out = -3;
        auto* s = static_cast<redisReply*>(redisCommand(c, "SELECT %d", db));
        if (s != nullptr) freeReplyObject(s);
        auto* r = static_cast<redisReply*>(redisCommand(c, "TTL %s", key.c_str()));
        if (r != nullptr && r->type == REDIS_REPLY_INTEGER) out = r->integer;
        if (r != nullptr) freeReplyObject(r);
        redisFree(c);
        return out;
    }
    int port() const { return port_; }

  private:
    std::string binary_;
    int port_;
    std::string dir_;
    pid_t pid_ = -1;
};

class Redis : public ::testing::Test {
  protected:
    void SetUp() override {
        const std::string bin = find_redis_server();
        if (bin.empty())
            GTEST_SKIP() << "redis-server not installed (Debian package redis-server); Redis cache not tested";
        server_ = std::make_unique<RedisServer>(bin, free_port());
        ASSERT_TRUE(server_->start()) << "redis-server did not start on port " << server_->port();
        options_.port = server_->port();
        options_.db = 2;
        options_.ttl = 120s;
        options_.retry_interval = 0ms;  // reconnect at once, so the test needs no waiting
    }
    std::unique_ptr<RedisServer> server_;
    RedisOptions options_;
};

TEST_F(Redis, StoresAndReturnsValuesWithATtl) {
    auto cache = RedisCache::connect(options_);
    ASSERT_TRUE(cache.ok()) << cache.message();
    const std::string value("binary\0value\r\n with \xff bytes", 28);
    EXPECT_FALSE((*cache)->get("k1").has_value());
    (*cache)->put("k1", value);
    EXPECT_EQ((*cache)->get("k1"), value);
    const long long ttl = server_->ttl("sinan:cache:k1", 2);
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 120);
    EXPECT_EQ(server_->ttl("sinan:cache:k1", 0), -2) << "written to the database of the URL";
    const CacheStats s = (*cache)->stats();
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.misses, 1u);
    EXPECT_EQ(s.errors, 0u);
}

TEST_F(Redis, OpenResponseCacheConnectsToTheUrl) {
    auto cache = open_response_cache("redis://127.0.0.1:" + std::to_string(server_->port()) + "/1", 0, 30s);
    ASSERT_TRUE(cache.ok()) << cache.message();
    (*cache)->put("x", "y");
    EXPECT_EQ((*cache)->get("x"), "y");
    EXPECT_GT(server_->ttl("sinan:cache:x", 1), 0);
}

TEST_F(Redis, ConnectingToNothingIsAClearError) {
    RedisOptions o = options_;
    o.port = free_port();
    auto cache = RedisCache::connect(o);
    ASSERT_FALSE(cache.ok());
    EXPECT_NE(cache.message().find("redis://127.0.0.1:" + std::to_string(o.port)), std::string::npos)
        << cache.message();
}

TEST_F(Redis, ADeadRedisGivesMissesNotFailuresAndIsUsedAgainWhenBack) {
    auto cache = RedisCache::connect(options_);
    ASSERT_TRUE(cache.ok()) << cache.message();
    (*cache)->put("k", "v");
    ASSERT_EQ((*cache)->get("k"), "v");

    server_->stop(SIGKILL);
    EXPECT_FALSE((*cache)->get("k").has_value());
    (*cache)->put("k2", "v2");  // must not throw, crash or hang
    EXPECT_FALSE((*cache)->get("k2").has_value());
    EXPECT_GE((*cache)->stats().errors, 3u);

    ASSERT_TRUE(server_->start()) << "redis-server did not restart";  // same port, empty (no persistence)
    EXPECT_FALSE((*cache)->get("k").has_value());
    (*cache)->put("k", "again");
    EXPECT_EQ((*cache)->get("k"), "again");
}

TEST_F(Redis, AHungRedisTimesOutIntoMisses) {
    options_.command_timeout = 100ms;
    options_.connect_timeout = 100ms;
    auto cache = RedisCache::connect(options_);
    ASSERT_TRUE(cache.ok()) << cache.message();
    (*cache)->put("k", "v");
    server_->signal(SIGSTOP);  // accepts nothing, answers nothing
    EXPECT_FALSE((*cache)->get("k").has_value());
    (*cache)->put("k", "w");
    EXPECT_GE((*cache)->stats().errors, 2u);
    server_->signal(SIGCONT);
}

}  // namespace
}  // namespace sinan::api
