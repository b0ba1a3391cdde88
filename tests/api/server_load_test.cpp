// `sinan serve` under load, over real HTTP: concurrent streams each get their own text, a client
// that disconnects frees its slot, a full queue answers 503 + Retry-After, SIGTERM drains, a
// kept-alive connection answers without waiting on delayed ACKs.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include "run_binary.h"
#include "serve_process.h"

namespace sinan::test {
namespace {

using nlohmann::json;

// The value of a metric line `name{labels} value` in /metrics, -1 when absent.
double metric(httplib::Client& c, const std::string& series) {
    auto r = c.Get("/metrics");
    if (!r) return -1;
    const size_t at = r->body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + series.size() + 2));
}

// Waits (bounded) until the metric has the value; returns the last value seen.
double wait_metric(httplib::Client& c, const std::string& series, double want) {
    double v = -1;
    for (int i = 0; i < 600 && (v = metric(c, series)) != want; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return v;
}

// Longer than any test waits for (the tiny model's context is 2048).
constexpr int kLong = 1900;
const std::string kRunning = "sinan_running_sequences{model=\"tiny-r1\"}";
const std::string kQueued = "sinan_queue_length{model=\"tiny-r1\"}";

json question(int i, int max_tokens) {
    return {{"messages", {{{"role", "user"}, {"content", "Question number " + std::to_string(i) + ": why?"}}}},
            {"max_tokens", max_tokens},
            {"temperature", 0}};
}

std::string text_of(const json& message) {
    return message.value("reasoning_content", "") + "|" + message.value("content", "");
}

// Streamed questions that run until hang_up() (or the end of the test, whatever fails first).
class HangingStreams {
  public:
    explicit HangingStreams(const ServeProcess& server) : server_(server) {}
    ~HangingStreams() { hang_up(); }
    void start(int i, int max_tokens) {
        threads_.emplace_back([this, i, max_tokens] {
            auto c = server_.client();
            json body = question(i, max_tokens);
            body["stream"] = true;
            httplib::Request req;
            req.method = "POST";
            req.path = "/v1/chat/completions";
            req.body = body.dump();
            req.set_header("Content-Type", "application/json");
            req.content_receiver = [this](const char*, size_t, uint64_t, uint64_t) { return !hung_up_.load(); };
            c->send(req);
        });
    }
    void hang_up() {
        hung_up_ = true;
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

  private:
    const ServeProcess& server_;
    std::atomic<bool> hung_up_{false};
    std::vector<std::thread> threads_;
};

TEST(ServerLoad, SixteenConcurrentStreamsEachGetTheirOwnText) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start(
        {"-m", model, "--parallel", "8", "--queue", "32", "--ctx-size", "128", "--cache", "off", "--api-keys", "off"},
        &why))
        << why;
    constexpr int kClients = 16;
    std::vector<std::string> alone(kClients);
    auto c = server.client();
    for (int i = 0; i < kClients; ++i) {
        auto r = post_json(*c, "/v1/chat/completions", question(i, 8));
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        alone[i] = text_of(json::parse(r->body)["choices"][0]["message"]);
    }
    std::vector<std::string> together(kClients);
    std::vector<int> statuses(kClients, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            auto client = server.client();
            json body = question(i, 8);
            body["stream"] = true;
            bool done = false;
            auto events = post_stream(*client, "/v1/chat/completions", body, &done, &statuses[i]);
            json message = {{"reasoning_content", ""}, {"content", ""}};
            for (const json& e : events) {
                if (e["choices"].empty()) continue;
                const json& d = e["choices"][0]["delta"];
                if (d.contains("reasoning_content"))
                    message["reasoning_content"] =
                        message["reasoning_content"].get<std::string>() + d["reasoning_content"].get<std::string>();
                if (d.contains("content"))
                    message["content"] = message["content"].get<std::string>() + d["content"].get<std::string>();
            }
            together[i] = done ? text_of(message) : "(no [DONE])";
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kClients; ++i) {
        EXPECT_EQ(statuses[i], 200) << "client " << i;
        EXPECT_EQ(together[i], alone[i]) << "client " << i << " got another stream's text or a different one";
    }
    EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
}

TEST(ServerLoad, ClientThatDisconnectsMidStreamFreesItsSlot) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--parallel", "1", "--ctx-size", "2048", "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    json body = question(1, kLong);
    body["stream"] = true;
    int chunks = 0;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        chunks += static_cast<int>(std::count(data, data + n, '\n'));
        return chunks < 8;  // false: the client hangs up
    };
    c->send(req);
    EXPECT_GE(chunks, 8);
    // The slot is freed at the next step, long before all the tokens would be done.
    auto m = server.client();
    EXPECT_EQ(wait_metric(*m, kRunning, 0), 0) << server.log();
    // What was generated until then counts (log, metrics, a key's tokens per minute): the client
    // read 4 events (a role chunk, then a token each).
    ASSERT_TRUE(server.wait_for_log("route=\"POST /v1/chat/completions\"")) << server.log();
    std::smatch counted;
    const std::string log = server.log();
    ASSERT_TRUE(std::regex_search(
        log, counted, std::regex("route=\"POST /v1/chat/completions\" status=200 .* completion_tokens=(\\d+)")))
        << log;
    const int tokens = std::stoi(counted[1]);
    EXPECT_GE(tokens, 3) << log;
    EXPECT_LT(tokens, kLong) << log;
    EXPECT_GE(metric(*m, "sinan_generated_tokens_total{model=\"tiny-r1\"}"), tokens);
    auto r = post_json(*m, "/v1/chat/completions", question(2, 4));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_TRUE(server.wait_for_log("status=200")) << server.log();
}

TEST(ServerLoad, FullQueueAnswers503WithRetryAfter) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start(
        {"-m", model, "--parallel", "1", "--queue", "1", "--ctx-size", "2048", "--cache", "off", "--api-keys", "off"},
        &why))
        << why;
    auto m = server.client();
    // The first stream's kLong tokens are the window in which the queue is full. On a loaded
    // machine it can end before the third request arrives, which then finds room (a 200 after both
    // streams): only then is the test run again, at most three times (the response cache is off, so
    // the same questions are generated again).
    const std::string ran_to_length = "completion_tokens=" + std::to_string(kLong);
    for (int attempt = 1;; ++attempt) {
        HangingStreams streams(server);
        streams.start(1, kLong);
        ASSERT_EQ(wait_metric(*m, kRunning, 1), 1);
        streams.start(2, kLong);
        ASSERT_EQ(wait_metric(*m, kQueued, 1), 1);
        auto r = post_json(*m, "/v1/chat/completions", question(3, 4));
        ASSERT_TRUE(r);
        if (r->status != 503 && attempt < 3 && server.log().find(ran_to_length) != std::string::npos) {
            streams.hang_up();
            ASSERT_EQ(wait_metric(*m, kRunning, 0), 0);
            continue;
        }
        EXPECT_EQ(r->status, 503) << r->body;
        EXPECT_TRUE(r->has_header("Retry-After"));
        EXPECT_EQ(json::parse(r->body)["error"]["code"], "queue_full");
        auto ready = m->Get("/ready");
        EXPECT_EQ(ready->status, 503) << "a saturated queue is not ready";
        streams.hang_up();
        EXPECT_EQ(wait_metric(*m, kRunning, 0), 0);
        EXPECT_EQ(m->Get("/ready")->status, 200);
        return;
    }
}

TEST(ServerLoad, KvMemoryBudgetSizesTheCacheAndARequestWaitsForRoomInIt) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    // The model's own figure, from `sinan model info`: 1 MiB holds this many tokens.
    RunResult info = run_sinan({"model", "info", model, "--json"});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const int64_t per_token = json::parse(info.out)["kv_bytes_per_token"]["F16"].get<int64_t>();
    const int64_t cells = (int64_t{1} << 20) / per_token;
    ASSERT_GT(cells, 600) << "the test needs room for one 500-token answer";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--parallel", "2", "--kv-memory", "1", "--ctx-size", "2048", "--api-keys",
                              "off"},
                             &why))
        << why;
    auto m = server.client();
    EXPECT_EQ(metric(*m, "sinan_kv_cache_cells{model=\"tiny-r1\"}"), static_cast<double>(cells));
    // Two answers that cannot both fit: the second waits although a slot is free.
    const int answer = static_cast<int>(cells * 6 / 10);
    HangingStreams streams(server);
    streams.start(1, answer);
    ASSERT_EQ(wait_metric(*m, kRunning, 1), 1);
    streams.start(2, answer);
    ASSERT_EQ(wait_metric(*m, kQueued, 1), 1);
    EXPECT_EQ(metric(*m, kRunning), 1) << "the second answer needs more cache than is left";
    streams.hang_up();
    EXPECT_EQ(wait_metric(*m, kRunning, 0), 0);
    EXPECT_EQ(wait_metric(*m, kQueued, 0), 0);
}

TEST(ServerLoad, ASlidingWindowSizesTheCacheByTheWindowAndAnswersPastIt) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    constexpr int kWindow = 16, kBatch = 512;  // the scheduler's batch: a sequence holds at most both
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--parallel", "2", "--ctx-size", "2048", "--swa-window",
                              std::to_string(kWindow), "--cache", "off", "--api-keys", "off"},
                             &why))
        << why;
    auto m = server.client();
    EXPECT_EQ(metric(*m, "sinan_kv_cache_cells{model=\"tiny-r1\"}"), 2.0 * (kWindow + kBatch))
        << "2 x 2048 cells without the window";
    EXPECT_NE(server.log().find("sliding window 16"), std::string::npos) << server.log();
    // An answer longer than the cells its sequence may hold (a logit bias keeps the model going).
    const int answer = kWindow + kBatch + 200;
    auto r = post_json(*m, "/v1/completions",
                       {{"prompt", "Once upon a time"},
                        {"max_tokens", answer},
                        {"temperature", 0},
                        {"logit_bias", {{"64", 100}}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["usage"]["completion_tokens"], answer);
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    EXPECT_LE(metric(*m, "sinan_kv_cache_cells_used{model=\"tiny-r1\"}"), kWindow) << "the idle slot keeps its window";
}

TEST(ServerLoad, SigtermFinishesTheRunningRequestThenExits0) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--parallel", "2", "--ctx-size", "2048", "--api-keys", "off"}, &why)) << why;
    int status = 0;
    json answer;
    std::thread in_flight([&] {
        auto c = server.client();
        auto r = post_json(*c, "/v1/chat/completions", question(1, 400));
        if (!r) return;
        status = r->status;
        answer = json::parse(r->body, nullptr, false);
    });
    auto m = server.client();
    EXPECT_EQ(wait_metric(*m, kRunning, 1), 1);
    const int code = server.stop(SIGTERM);
    in_flight.join();
    EXPECT_EQ(code, 0) << server.log();
    EXPECT_EQ(status, 200);
    // It ran to its end during the drain: all its tokens, or an end-of-generation token.
    EXPECT_TRUE(answer["usage"]["completion_tokens"] == 400 || answer["choices"][0]["finish_reason"] == "stop")
        << answer.dump();
    EXPECT_NE(server.log().find("draining"), std::string::npos);
}

// The harness itself (run_binary.h, killed_with_parent): a server a test starts is killed when the
// thread that started it ends, so a test process that crashes or is killed leaves none running.
TEST(ServerLoad, AServerStartedByATestEndsWithTheThreadThatStartedIt) {
    if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "util-linux's setpriv is not installed";
    ServeProcess server;
    std::string why;
    bool started = false;
    std::thread([&] { started = server.start({"--data-dir", make_temp_dir(), "--api-keys", "off"}, &why); }).join();
    ASSERT_TRUE(started) << why;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the kernel's signal follows the thread's exit
    EXPECT_EQ(server.stop(SIGTERM), 128 + SIGKILL) << "the server outlived the thread that started it";
}

TEST(ServerLoad, KeptAliveConnectionsAnswerWithoutWaitingForDelayedAcks) {
    // With Nagle's algorithm on the server's socket, each response's second write waited for the
    // client's delayed ACK: every request on a kept-alive connection took 40 ms or more (Linux's
    // shortest delayed ACK), where a loopback request takes well under a millisecond. The
    // threshold sits far from both: this tests that stall, not the server's speed.
    const std::string empty = temp_dir() + "/keep-alive-no-models";
    std::filesystem::create_directories(empty);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"--models-dir", empty, "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    c->set_keep_alive(true);
    std::vector<double> ms;
    for (int i = 0; i < 21; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto r = c->Get("/health");
        ASSERT_TRUE(r && r->status == 200);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(ms.begin(), ms.begin() + 10, ms.end());
    EXPECT_LT(ms[10], 20.0) << "median of 21 requests on one connection, ms";
}

TEST(ServerLoad, RequestsEndAtTheirDeadlineAndIdleConnectionsAreClosed) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start(
        {"-m", model, "--ctx-size", "2048", "--timeout", "1", "--idle-timeout", "1", "--api-keys", "off"}, &why))
        << why;
    auto c = server.client();
    auto r = post_json(*c, "/v1/chat/completions", question(1, kLong));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    EXPECT_LT(j["usage"]["completion_tokens"].get<int>(), kLong) << "--timeout 1 cut the generation";
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(wait_metric(*c, kRunning, 0), 0);

    // A client that sends half a request and then nothing is disconnected.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string half =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"mess";
    ASSERT_EQ(::send(fd, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 30000), 1) << "the server never closed a stalled connection";
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_TRUE(n == 0 || (n > 0 && std::string(buf, static_cast<size_t>(n)).find(" 400 ") != std::string::npos))
        << "closed, or answered 400 for the unfinished body";
    ::close(fd);
    EXPECT_EQ(c->Get("/health")->status, 200);
}

}  // namespace
}  // namespace sinan::test
