// The metrics registry: exact exposition text, checked by Prometheus's own promtool (parse and
// lint) when it is installed, cumulative buckets, and exact totals under concurrent updates.
#include "api/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "serve_process.h"

namespace sinan::api {
namespace {

namespace fs = std::filesystem;

// Runs `promtool check metrics` on the text; nullopt when promtool is not installed.
std::optional<std::pair<int, std::string>> promtool_check(const std::string& text) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) return std::nullopt;
    const fs::path file = fs::temp_directory_path() / ("sinan-metrics-" + std::to_string(::getpid()) + ".prom");
    std::ofstream(file) << text;
    const std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = p != nullptr ? ::pclose(p) : -1;
    fs::remove(file);
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
}

// The value of the line that starts with `series` + ' ' in the rendered text.
double sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(series + ' ', 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    ADD_FAILURE() << "no sample " << series << " in:\n" << text;
    return -1;
}

TEST(Metrics, RenderWritesTheExpositionFormatWithEscapedLabels) {
    Registry reg;
    auto& requests = reg.counter("sinan_requests_total", "HTTP requests by route and status code.", {"route", "code"});
    requests.with({"/v1/models", "200"}).inc();
    requests.with({"/v1/models", "200"}).inc(2);
    requests.with({"a \"quoted\\path\"\nnext", "404"}).inc();
    reg.gauge("sinan_queue_length", "Requests waiting for a slot.").with({}).set(3);
    auto& lat = reg.histogram("sinan_request_duration_seconds", "Request latency.", {}, {0.1, 0.5});
    lat.with({}).observe(0.05);
    lat.with({}).observe(0.5);
    lat.with({}).observe(7);

    const std::string expected =
        "# HELP sinan_queue_length Requests waiting for a slot.\n"
        "# TYPE sinan_queue_length gauge\n"
        "sinan_queue_length 3\n"
        "# HELP sinan_request_duration_seconds Request latency.\n"
        "# TYPE sinan_request_duration_seconds histogram\n"
        "sinan_request_duration_seconds_bucket{le=\"0.1\"} 1\n"
        "sinan_request_duration_seconds_bucket{le=\"0.5\"} 2\n"
        "sinan_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"
        "sinan_request_duration_seconds_sum 7.55\n"
        "sinan_request_duration_seconds_count 3\n"
        "# HELP sinan_requests_total HTTP requests by route and status code.\n"
        "# TYPE sinan_requests_total counter\n"
        "sinan_requests_total{route=\"/v1/models\",code=\"200\"} 3\n"
        "sinan_requests_total{route=\"a \\\"quoted\\\\path\\\"\\nnext\",code=\"404\"} 1\n";
    EXPECT_EQ(reg.render(), expected);
}

TEST(Metrics, PromtoolAcceptsTheOutput) {
    Registry reg;
    reg.counter("sinan_requests_total", "HTTP requests.", {"route", "code"})
        .with({"/v1/chat/completions", "200"})
        .inc();
    reg.counter("sinan_errors_total", "Errors by code.\nSecond line with a \\ backslash.", {"code"})
        .with({"bad \"x\"\n\\"})
        .inc();
    reg.counter("sinan_tokens_generated_total", "Tokens generated.").with({}).inc(1234);
    reg.gauge("sinan_kv_cache_usage_ratio", "KV cache in use.").with({}).set(0.25);
    reg.gauge("sinan_tokens_per_second", "Generation speed.").with({}).set(1e-7);
    auto& ttft = reg.histogram("sinan_time_to_first_token_seconds", "TTFT.", {"model"}, kLatencyBuckets);
    ttft.with({"tiny"}).observe(0.0123);
    ttft.with({"r1 \"distill\""}).observe(42);
    const std::string text = reg.render();

    const auto result = promtool_check(text);
    if (!result) GTEST_SKIP() << "promtool not installed (Debian package prometheus); output not checked:\n" << text;
    EXPECT_EQ(result->first, 0) << "promtool check metrics: " << result->second << "\n" << text;
}

TEST(Metrics, PromtoolRejectsBrokenTextSoItsVerdictMeansSomething) {
    const auto result = promtool_check("sinan_x_total{route=\"unterminated} 1\n");
    if (!result) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
    EXPECT_NE(result->first, 0) << result->second;
}

TEST(Metrics, PromtoolAcceptsWhatTheRealServerServesAfterTraffic) {
    const std::string model = test::tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    if (!promtool_check("")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
    test::ServeProcess server;
    std::string why;
    ASSERT_TRUE(
        server.start({"-m", model, "--ctx-size", "256", "--api-keys", "off", "--data-dir", test::temp_dir()}, &why))
        << why;
    auto client = server.client();
    const nlohmann::json chat = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4}};
    ASSERT_EQ(test::post_json(*client, "/v1/chat/completions", chat)->status, 200);
    ASSERT_EQ(test::post_json(*client, "/v1/chat/completions", {{"messages", 5}})->status, 400);
    auto m = client->Get("/metrics");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->status, 200);
    const auto result = promtool_check(m->body);
    EXPECT_EQ(result->first, 0) << "promtool check metrics: " << result->second << "\n" << m->body;
    EXPECT_NE(m->body.find("# TYPE sinan_time_to_first_token_seconds histogram"), std::string::npos) << m->body;
}

TEST(Metrics, HistogramBucketsAreCumulativeAndCountIsTheInfBucket) {
    Registry reg;
    auto& h = reg.histogram("sinan_h_seconds", "h", {"k"}, {1, 2, 4});
    Histogram& child = h.with({"a"});
    for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 100.0, -1.0}) child.observe(v);
    EXPECT_EQ(child.cumulative_counts(), (std::vector<uint64_t>{3, 5, 7, 9}));  // <=1: 0.5, 1, -1
    const std::string text = reg.render();
    EXPECT_EQ(sample(text, "sinan_h_seconds_bucket{k=\"a\",le=\"1\"}"), 3);
    EXPECT_EQ(sample(text, "sinan_h_seconds_bucket{k=\"a\",le=\"2\"}"), 5);
    EXPECT_EQ(sample(text, "sinan_h_seconds_bucket{k=\"a\",le=\"4\"}"), 7);
    EXPECT_EQ(sample(text, "sinan_h_seconds_bucket{k=\"a\",le=\"+Inf\"}"), 9);
    EXPECT_EQ(sample(text, "sinan_h_seconds_count{k=\"a\"}"), 9);
    EXPECT_DOUBLE_EQ(sample(text, "sinan_h_seconds_sum{k=\"a\"}"), 116.0);
}

TEST(Metrics, ConcurrentUpdatesFromManyThreadsSumExactly) {
    Registry reg;
    auto& counter = reg.counter("sinan_c_total", "c", {"t"});
    auto& gauge = reg.gauge("sinan_g", "g");
    auto& hist = reg.histogram("sinan_h", "h", {}, {0.5});
    constexpr int kThreads = 8, kIters = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kIters; ++i) {
                counter.with({"shared"}).inc();                // the same child from every thread
                counter.with({std::to_string(t % 2)}).inc(2);  // children created concurrently
                gauge.with({}).add(t % 2 == 0 ? 1 : -1);
                hist.with({}).observe(i % 2 == 0 ? 0.25 : 1.0);
                if (i % 5000 == 0) (void)reg.render();  // scrapes while updating
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(counter.with({"shared"}).value(), kThreads * kIters);
    EXPECT_EQ(counter.with({"0"}).value() + counter.with({"1"}).value(), 2.0 * kThreads * kIters);
    EXPECT_EQ(gauge.with({}).value(), 0);
    EXPECT_EQ(hist.with({}).cumulative_counts(), (std::vector<uint64_t>{kThreads * kIters / 2, kThreads * kIters}));
    EXPECT_EQ(hist.with({}).sum(), kThreads * (kIters / 2) * 1.25);
}

TEST(Metrics, RenderHooksRefreshGaugesAtScrapeTime) {
    Registry reg;
    auto& queue = reg.gauge("sinan_queue_length", "q");
    int queued = 5;
    reg.on_render([&] { queue.with({}).set(queued); });
    EXPECT_EQ(sample(reg.render(), "sinan_queue_length"), 5);
    queued = 2;
    EXPECT_EQ(sample(reg.render(), "sinan_queue_length"), 2);
}

TEST(MetricsDeathTest, InvalidNamesAndDuplicatesAreProgrammerErrors) {
    Registry reg;
    reg.counter("sinan_ok_total", "ok");
    EXPECT_DEATH(reg.counter("sinan_ok_total", "again"), "registered twice");
    EXPECT_DEATH(reg.gauge("9lives", "x"), "invalid metric name");
    EXPECT_DEATH(reg.gauge("sinan_x", "x", {"__reserved"}), "invalid label name");
    EXPECT_DEATH(reg.histogram("sinan_y", "y", {"le"}, {1}), "reserved");
    EXPECT_DEATH(reg.histogram("sinan_z", "z", {}, {2, 1}), "increase strictly");
    EXPECT_DEATH(reg.counter("sinan_w_total", "w", {"a"}).with({}), "1 label values expected");
}

}  // namespace
}  // namespace sinan::api
