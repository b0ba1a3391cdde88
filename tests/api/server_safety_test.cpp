// `sinan serve` against bad and unauthorised input, over real HTTP: a corpus of malformed
// requests each gets a 4xx with a message and the server stays up; API keys (401), rate limits
// (429), and a refused request's body read so its kept-alive connection goes on; the metrics series; starting with no
// model; several models with --models-max 1; the audit log; a model whose numbers are broken (NaN
// weights) fails its requests with 500 and a message while the server goes on.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/keys.h"
#include "gguf/gguf.h"
#include "serve_process.h"
#include "text/tokenizer.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#define NEED_MODEL(path)                      \
    const std::string path = tiny_r1_model(); \
    if (path.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found"

json user(const std::string& text, int max_tokens = 4) {
    return {{"messages", {{{"role", "user"}, {"content", text}}}}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

TEST(ServerSafety, MalformedRequestsGet4xxWithAMessageAndTheServerStaysUp) {
    NEED_MODEL(model);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--max-body", "100000", "--api-keys", "off"}, &why))
        << why;
    auto c = server.client();
    struct Case {
        std::string path, body;
        int status;
        std::string param;  // "" = any
    };
    const std::string deep(50000, '[');
    const std::vector<Case> cases = {
        {"/v1/chat/completions", "{not json", 400, ""},
        {"/v1/chat/completions", "", 400, ""},
        {"/v1/chat/completions", "[1,2,3]", 400, ""},
        {"/v1/chat/completions", "{}", 400, "messages"},
        {"/v1/chat/completions", R"({"messages": []})", 400, "messages"},
        {"/v1/chat/completions", R"({"messages": "hi"})", 400, "messages"},
        {"/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "x"}]})", 400, "messages[0].role"},
        {"/v1/chat/completions", R"({"messages": [{"content": "x"}]})", 400, "messages[0].role"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": 5}]})", 400, "messages[0].content"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": -5})", 400,
         "max_tokens"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"})", 400,
         "max_tokens"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", 400,
         "temperature"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "temperature": 9})", 400,
         "temperature"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "n": 0})", 400, "n"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "stop": [1, 2]})", 400, ""},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"abc": 1}})", 400,
         "logit_bias"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"999999999": 1}})",
         400, "logit_bias"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", 400, "stream"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "model": "gpt-9"})", 404, "model"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "model": 7})", 400, "model"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3})", 400,
         "top_logprobs"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", 400, ""},
        // Refused, not ignored: JSON output and function calls are not what the server gives.
        {"/v1/chat/completions",
         R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})", 400,
         "response_format"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "response_format": "json"})", 400,
         "response_format"},
        {"/v1/chat/completions",
         R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]})",
         400, "tools"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})", 400, "tools"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]})",
         400, "functions"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": {"a": {"b": [null, {"c": []}]}}}]})", 400,
         ""},
        {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe bad utf8\"}]}", 400, ""},
        {"/v1/chat/completions", deep, 400, ""},
        {"/v1/chat/completions", std::string(200000, ' '), 413, ""},
        {"/v1/completions", R"({"prompt": 5})", 400, "prompt"},
        {"/v1/completions", R"({"prompt": [-1]})", 400, "prompt"},
        {"/v1/completions", R"({"prompt": [99999999]})", 400, "prompt"},
        {"/v1/completions", R"({"prompt": []})", 400, "prompt"},
        {"/v1/embeddings", R"({"input": "x"})", 400, "model"},
        {"/api/v1/chat", R"({"history": []})", 400, "query"},
        {"/api/v1/chat", R"({"query": "x", "history": [{"role": "user"}]})", 400, "history[0].content"},
        {"/no/such/route", "{}", 404, ""},
    };
    for (const Case& k : cases) {
        auto r = c->Post(k.path.c_str(), k.body, "application/json");
        ASSERT_TRUE(r) << "connection failed for " << k.path << " " << k.body.substr(0, 80);
        EXPECT_EQ(r->status, k.status) << k.body.substr(0, 120) << " -> " << r->body;
        json e = json::parse(r->body, nullptr, false);
        ASSERT_TRUE(e.is_object()) << r->body;
        ASSERT_TRUE(e["error"]["message"].is_string()) << r->body;
        EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
        if (!k.param.empty()) {
            EXPECT_EQ(e["error"]["param"], k.param) << r->body;
        }
        ASSERT_EQ(c->Get("/health")->status, 200) << "the server died after " << k.body.substr(0, 80);
    }
    auto ok = c->Post("/v1/chat/completions", user("still fine?").dump(), "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    // What the server does honour of those is accepted: text output, tools that may not be called.
    json accepted = user("still fine?");
    accepted["response_format"] = {{"type", "text"}};
    accepted["tools"] = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
    accepted["tool_choice"] = "none";
    ok = c->Post("/v1/chat/completions", accepted.dump(), "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST(ServerSafety, ModelOutputOfAnyBytesStaysValidJson) {
    NEED_MODEL(model);
    auto file = gguf::File::open(model);
    ASSERT_TRUE(file.ok()) << file.message();
    auto tok = text::Tokenizer::from_gguf(*file);
    ASSERT_TRUE(tok.ok()) << tok.message();
    // A token that is the first byte of a three-byte character alone: forced again and again, the
    // output is never valid UTF-8.
    int32_t lone = -1;
    for (int32_t id = 0; id < tok->n_vocab() && lone < 0; ++id)
        if (tok->token_to_piece(id) == "\xe4") lone = id;
    ASSERT_GE(lone, 0);
    const std::optional<int32_t> think_close = tok->find_token("</think>");
    ASSERT_TRUE(think_close.has_value());
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    auto check = [&](const std::string& path, json body) {
        for (bool stream : {false, true}) {
            body["stream"] = stream;
            auto r = c->Post(path.c_str(), body.dump(), "application/json");
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200) << path << " " << r->body;
            if (!stream) {
                EXPECT_FALSE(json::parse(r->body, nullptr, false).is_discarded()) << r->body;
                continue;
            }
            std::string events = r->body;
            size_t at = 0, n = 0;
            while ((at = events.find("data: {", at)) != std::string::npos) {
                const size_t end = events.find("\n\n", at);
                EXPECT_FALSE(json::parse(events.substr(at + 6, end - at - 6), nullptr, false).is_discarded());
                at = end;
                ++n;
            }
            EXPECT_GT(n, 0u);
        }
    };
    json lone_bytes = {{"prompt", "x"},
                       {"max_tokens", 6},
                       {"temperature", 0},
                       {"logprobs", 2},
                       {"logit_bias", {{std::to_string(lone), 100}}}};
    check("/v1/completions", lone_bytes);
    auto r = c->Post("/v1/completions", lone_bytes.dump(), "application/json");
    json j = json::parse(r->body);
    EXPECT_NE(j["choices"][0]["text"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos)
        << "invalid bytes become U+FFFD";
    EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"].size(), 6u);
    // A stray </think> again and again, and the lone byte, in a chat.
    json chat = {{"messages", {{{"role", "user"}, {"content", "<b>hi</b> </think>"}}}},
                 {"max_tokens", 6},
                 {"temperature", 0},
                 {"logprobs", true},
                 {"logit_bias", {{std::to_string(*think_close), 100}}}};
    check("/v1/chat/completions", chat);
    chat["logit_bias"] = {{std::to_string(lone), 100}};
    chat["max_reasoning_tokens"] = 0;
    check("/v1/chat/completions", chat);
    json native = {
        {"query", "x"}, {"max_tokens", 6}, {"temperature", 0}, {"logit_bias", {{std::to_string(lone), 100}}}};
    check("/api/v1/chat", native);
}

// A copy of `model` (Q8_0) whose output matrix has NaN block scales: every logit is NaN, as
// with a corrupt file or an overflow.
std::string with_nan_output(const std::string& model) {
    const std::string out = temp_dir() + "/tiny-r1-nan.gguf";
    fs::copy_file(model, out, fs::copy_options::overwrite_existing);
    auto file = gguf::File::open(out);
    EXPECT_TRUE(file.ok()) << file.message();
    const gguf::TensorInfo* t = file->find_tensor("output.weight");
    EXPECT_NE(t, nullptr);
    EXPECT_EQ(t->type, gguf::TensorType::Q8_0);
    const uint64_t start = file->data_offset() + t->offset;
    const uint64_t n_blocks = t->n_bytes / 34;  // BlockQ8_0: a binary16 scale, then 32 quants
    std::fstream f(out, std::ios::in | std::ios::out | std::ios::binary);
    const char nan16[2] = {0x00, 0x7e};
    for (uint64_t b = 0; b < n_blocks; ++b) {
        f.seekp(static_cast<std::streamoff>(start + 34 * b));
        f.write(nan16, 2);
    }
    return out;
}

TEST(ServerSafety, AModelWithBrokenNumbersFailsTheRequestWith500AndTheServerStaysUp) {
    NEED_MODEL(good);
    const std::string model = with_nan_output(good);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    for (int i = 0; i < 2; ++i) {  // the first failure leaves the server serving
        auto r = post_json(*c, "/v1/chat/completions", user("hi"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 500) << r->body;
        const json j = json::parse(r->body, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r->body;
        EXPECT_NE(j["error"]["message"].get<std::string>().find("no finite logit"), std::string::npos) << r->body;
    }
    bool done = false;
    int status = 0;
    json body = user("hi");
    body["stream"] = true;
    const std::vector<json> events = post_stream(*c, "/v1/chat/completions", body, &done, &status);
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(done);
    ASSERT_FALSE(events.empty());
    EXPECT_NE(events.back()["error"]["message"].get<std::string>().find("no finite logit"), std::string::npos)
        << events.back().dump();
    auto health = c->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
}

TEST(ServerSafety, WithKeysEveryRouteButHealthNeedsABearerKey) {
    NEED_MODEL(model);
    const std::string data = temp_dir() + "/keys-data";
    auto key = api::create_key(data, "tests", 0, 0);
    ASSERT_TRUE(key.ok()) << key.message();
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--data-dir", data}, &why)) << why;
    auto c = server.client();
    EXPECT_EQ(c->Get("/health")->status, 200);
    auto none = c->Post("/v1/chat/completions", user("hi").dump(), "application/json");
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(json::parse(none->body)["error"]["code"], "invalid_api_key");
    EXPECT_EQ(c->Get("/v1/models")->status, 401);
    EXPECT_EQ(c->Get("/metrics")->status, 401);
    const httplib::Headers wrong = {{"Authorization", "Bearer sk-sinan-wrong"}};
    EXPECT_EQ(c->Post("/v1/chat/completions", wrong, user("hi").dump(), "application/json")->status, 401);
    const httplib::Headers right = {{"Authorization", "Bearer " + key->secret}};
    auto ok = c->Post("/v1/chat/completions", right, user("hi").dump(), "application/json");
    EXPECT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(c->Get("/v1/models", right)->status, 200);
    EXPECT_TRUE(server.wait_for_log("key=" + key->info.id)) << "the request log names the key:\n" << server.log();
    ASSERT_TRUE(api::revoke_key(data, key->info.id).ok());
    // The server rereads keys.json within a second or so.
    int status = 200;
    for (int i = 0; i < 100 && status == 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        status = c->Get("/v1/models", right)->status;
    }
    EXPECT_EQ(status, 401) << "a revoked key stops working";
}

TEST(ServerSafety, ARefusedRequestsBodyIsReadSoTheNextRequestOnItsConnectionIsServed) {
    // One kept-alive connection throughout: a refused request's body left unread would be parsed
    // as the next request, which would get a 400.
    NEED_MODEL(model);
    const std::string data = temp_dir() + "/refusal-data";
    auto key = api::create_key(data, "tests", 0, 0);
    auto limited = api::create_key(data, "limited", 1, 0);
    ASSERT_TRUE(key.ok() && limited.ok());
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--data-dir", data}, &why)) << why;
    auto c = server.client();
    c->set_keep_alive(true);
    const httplib::Headers right = {{"Authorization", "Bearer " + key->secret}};
    const httplib::Headers slow = {{"Authorization", "Bearer " + limited->secret}};
    auto status = [](const httplib::Result& r) { return r ? r->status : 0; };

    EXPECT_EQ(status(c->Post("/v1/chat/completions", user("hi").dump(), "application/json")), 401);
    EXPECT_EQ(status(c->Post("/v1/chat/completions", right, user("hi").dump(), "application/json")), 200);
    auto elsewhere = c->Post("/v1/no-such-route", user("hi").dump(), "application/json");
    EXPECT_EQ(status(elsewhere), 401) << "refused before the route is looked up";
    EXPECT_EQ(status(c->Get("/v1/models", right)), 200);
    // A GET that announces a body is refused at once: httplib never reads a GET's body, and Get
    // routes are not wrapped, so a deferred refusal would let the route answer.
    auto get_with_body = c->Get("/v1/models", {{"Content-Length", "5"}});
    EXPECT_EQ(status(get_with_body), 401) << (get_with_body ? get_with_body->body : "no response");
    const httplib::MultipartFormDataItems upload = {{"file", std::string(200000, 'x'), "a.txt", "text/plain"}};
    EXPECT_EQ(status(c->Post("/api/v1/kb/docs/documents", upload)), 401) << "an upload's body is read and dropped";
    EXPECT_EQ(status(c->Get("/v1/models", right)), 200);
    EXPECT_EQ(status(c->Post("/v1/chat/completions", slow, user("a").dump(), "application/json")), 200);
    EXPECT_EQ(status(c->Post("/v1/chat/completions", slow, user("b").dump(), "application/json")), 429);
    EXPECT_EQ(status(c->Post("/v1/chat/completions", right, user("c").dump(), "application/json")), 200);
    EXPECT_TRUE(server.wait_for_log("status=200")) << server.log();
    EXPECT_EQ(server.log().find("status=400"), std::string::npos) << server.log();
}

TEST(ServerSafety, RateLimitedKeyGets429WithRetryAfter) {
    NEED_MODEL(model);
    const std::string data = temp_dir() + "/rate-data";
    auto key = api::create_key(data, "slow", 2, 0);
    ASSERT_TRUE(key.ok()) << key.message();
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--data-dir", data}, &why)) << why;
    auto c = server.client();
    const httplib::Headers auth = {{"Authorization", "Bearer " + key->secret}};
    int n_ok = 0, n_limited = 0;
    std::string retry_after;
    for (int i = 0; i < 4; ++i) {
        auto r = c->Post("/v1/chat/completions", auth, user("hi " + std::to_string(i)).dump(), "application/json");
        ASSERT_TRUE(r);
        if (r->status == 200) ++n_ok;
        if (r->status == 429) {
            ++n_limited;
            retry_after = r->get_header_value("Retry-After");
            EXPECT_EQ(json::parse(r->body)["error"]["type"], "rate_limit_error");
        }
    }
    EXPECT_EQ(n_ok, 2) << "2 requests per minute";
    EXPECT_EQ(n_limited, 2);
    EXPECT_FALSE(retry_after.empty());
    EXPECT_GE(std::stoi(retry_after), 1);
}

TEST(ServerSafety, MetricsExposeTheServingSeries) {
    NEED_MODEL(model);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    ASSERT_EQ(c->Post("/v1/chat/completions", user("count me").dump(), "application/json")->status, 200);
    ASSERT_EQ(c->Post("/v1/chat/completions", "{bad", "application/json")->status, 400);
    const std::vector<std::string> series = {
        "sinan_http_requests_total{route=\"POST /v1/chat/completions\",code=\"200\"} 1",
        "sinan_http_requests_total{route=\"POST /v1/chat/completions\",code=\"400\"} 1",
        "sinan_http_errors_total{code=\"400\"} 1",
        "sinan_http_request_duration_seconds_bucket{route=\"POST /v1/chat/completions\",le=\"+Inf\"} 2",
        "sinan_time_to_first_token_seconds_count 1",
        "sinan_generated_tokens_total{model=\"tiny-r1\"}",
        "sinan_engine_forward_seconds_total{model=\"tiny-r1\"}",
        "sinan_engine_sampling_seconds_total{model=\"tiny-r1\"}",
        "sinan_queue_length{model=\"tiny-r1\"} 0",
        "sinan_running_sequences{model=\"tiny-r1\"} 0",
        "sinan_kv_cache_usage_ratio{model=\"tiny-r1\"}",
        "sinan_generation_tokens_per_second",
        "sinan_response_cache_hits_total",
        "sinan_models_loaded 1",
    };
    // A request is counted after its last byte is sent, so the client may read /metrics a moment
    // before that: look again, a bounded number of times.
    std::string text, missing;
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto m = c->Get("/metrics");
        ASSERT_TRUE(m);
        ASSERT_EQ(m->status, 200);
        EXPECT_NE(m->get_header_value("Content-Type").find("text/plain"), std::string::npos);
        text = m->body;
        missing.clear();
        for (const std::string& s : series)
            if (text.find(s) == std::string::npos) missing += s + "\n";
        if (missing.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(missing.empty()) << "missing:\n" << missing << "in:\n" << text;
    // The request's engine time is in them: a forward pass and a sampled token at least.
    for (const char* name : {"sinan_engine_forward_seconds_total", "sinan_engine_sampling_seconds_total"}) {
        const std::string line = std::string("\n") + name + "{model=\"tiny-r1\"} ";
        const size_t at = text.find(line);
        ASSERT_NE(at, std::string::npos) << name;
        EXPECT_GT(std::stod(text.substr(at + line.size())), 0.0) << name;
    }
}

TEST(ServerSafety, WithoutAModelHealthMetricsAndThePageWorkAndGenerationSaysHowToGetOne) {
    const std::string empty = temp_dir() + "/no-models";
    fs::create_directories(empty);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"--models-dir", empty, "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    EXPECT_EQ(c->Get("/health")->status, 200);
    EXPECT_EQ(c->Get("/metrics")->status, 200);
    auto page = c->Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("/api/v1/chat"), std::string::npos);
    EXPECT_EQ(page->body.find("http://"), std::string::npos) << "the page fetches nothing from elsewhere";
    EXPECT_EQ(c->Get("/ready")->status, 503);
    for (const char* path : {"/v1/chat/completions", "/v1/completions", "/api/v1/chat"}) {
        json body = user("hi");
        body["prompt"] = "hi";
        body["query"] = "hi";
        auto r = c->Post(path, body.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 503) << path;
        const std::string msg = json::parse(r->body)["error"]["message"];
        EXPECT_NE(msg.find("sinan model synth"), std::string::npos) << msg;
        EXPECT_NE(msg.find("models/"), std::string::npos) << msg;
        EXPECT_NE(msg.find("MODEL="), std::string::npos) << msg;
    }
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ServerSafety, ModelsDirLoadsOnFirstUseAndKeepsAtMostModelsMax) {
    NEED_MODEL(model_a);
    const std::string model_b = tiny_r1_model_b();
    ASSERT_FALSE(model_b.empty());
    const std::string dir = temp_dir() + "/models-two";
    fs::create_directories(dir);
    fs::copy_file(model_a, dir + "/alpha.gguf", fs::copy_options::overwrite_existing);
    fs::copy_file(model_b, dir + "/beta.gguf", fs::copy_options::overwrite_existing);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(
        server.start({"--models-dir", dir, "--models-max", "1", "--ctx-size", "256", "--api-keys", "off"}, &why))
        << why;
    auto c = server.client();
    auto loaded = [&] {
        std::vector<std::string> ids;
        json j = json::parse(c->Get("/v1/models")->body);
        for (const json& m : j["data"])
            if (m["sinan"]["loaded"]) ids.push_back(m["id"]);
        return ids;
    };
    json list = json::parse(c->Get("/v1/models")->body);
    ASSERT_EQ(list["data"].size(), 2u);
    EXPECT_TRUE(loaded().empty()) << "nothing loads before it is used";
    auto ask = [&](const std::string& id) {
        json body = user("hi");
        body["model"] = id;
        auto r = c->Post("/v1/chat/completions", body.dump(), "application/json");
        EXPECT_TRUE(r);
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body);
    };
    EXPECT_EQ(ask("alpha")["model"], "alpha");
    EXPECT_EQ(loaded(), std::vector<std::string>{"alpha"});
    const json beta = ask("beta");
    EXPECT_EQ(beta["model"], "beta");
    EXPECT_EQ(loaded(), std::vector<std::string>{"beta"}) << "alpha was unloaded to keep --models-max 1";
    ask("alpha");
    EXPECT_EQ(loaded(), std::vector<std::string>{"alpha"});
    json body = user("hi");
    body["model"] = "gamma";
    auto r = c->Post("/v1/chat/completions", body.dump(), "application/json");
    EXPECT_EQ(r->status, 404);
    const std::string msg = json::parse(r->body)["error"]["message"];
    EXPECT_NE(msg.find("gamma"), std::string::npos);
    EXPECT_NE(msg.find("alpha, beta"), std::string::npos) << msg;
    auto no_model_field = c->Post("/v1/chat/completions", user("hi").dump(), "application/json");
    EXPECT_EQ(no_model_field->status, 400) << "two models and no default: the request must name one";
}

TEST(ServerSafety, ModelsDirListsAFileThatCannotBeReadWithWhyAndRefusesIt) {
    NEED_MODEL(model);
    const std::string dir = temp_dir() + "/models-unreadable";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(model, dir + "/good.gguf");
    {
        std::ifstream in(model, std::ios::binary);
        std::string head(4096, '\0');
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        std::ofstream(dir + "/cut.gguf", std::ios::binary) << head;  // the header runs past the end
        std::ofstream(dir + "/notes.gguf") << "not a model\n";
    }
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"--models-dir", dir, "--ctx-size", "256", "--api-keys", "off"}, &why)) << why;
    auto c = server.client();
    const json models = json::parse(c->Get("/v1/models")->body);
    json listed = json::object();
    for (const json& m : models["data"]) listed[m["id"].get<std::string>()] = m;
    ASSERT_EQ(listed.size(), 3u) << listed.dump();
    EXPECT_FALSE(listed["good"]["sinan"].contains("error")) << listed["good"].dump();
    EXPECT_EQ(listed["good"]["sinan"]["architecture"], "qwen2");
    for (const char* id : {"cut", "notes"}) {
        const json& own = listed[id]["sinan"];
        ASSERT_TRUE(own.contains("error")) << own.dump();
        const std::string error = own["error"];
        EXPECT_NE(error.find(std::string(id) + ".gguf"), std::string::npos) << error;
        EXPECT_NE(server.log().find("model \"" + std::string(id) + "\" is listed but cannot be loaded: " + error),
                  std::string::npos)
            << server.log();
        json body = user("hi");
        body["model"] = id;
        auto r = c->Post("/v1/chat/completions", body.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 500) << r->body;
        const json e = json::parse(r->body)["error"];
        EXPECT_EQ(e["code"], "model_load_failed");
        EXPECT_NE(e["message"].get<std::string>().find(error), std::string::npos) << e.dump();
    }
    EXPECT_NE(listed["notes"]["sinan"]["error"].get<std::string>().find("not a GGUF file"), std::string::npos);
    json body = user("hi");
    body["model"] = "good";
    EXPECT_EQ(c->Post("/v1/chat/completions", body.dump(), "application/json")->status, 200);
}

TEST(ServerSafety, NoOtherSocketCanShareTheServersPort) {
    // With SO_REUSEPORT on the listening socket, a second process could bind the same port and
    // take part of the server's connections. A socket that asks for SO_REUSEPORT must be refused.
    const std::string empty = temp_dir() + "/no-models-port";
    fs::create_directories(empty);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"--api-keys", "off", "--models-dir", empty}, &why)) << why;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    const int yes = 1;
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof(yes)), 0);
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)), 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    const int err = errno;
    ::close(fd);
    EXPECT_EQ(rc, -1) << "bound a second socket to the server's port " << server.port();
    EXPECT_EQ(err, EADDRINUSE);
}

TEST(ServerSafety, AuditLogRecordsWhoAskedWhat) {
    NEED_MODEL(model);
    const std::string data = temp_dir() + "/audit-data";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(
        server.start({"-m", model, "--ctx-size", "256", "--data-dir", data, "--audit", "--api-keys", "off"}, &why))
        << why;
    auto c = server.client();
    auto r = c->Post("/v1/chat/completions", user("the audited question").dump(), "application/json");
    ASSERT_EQ(r->status, 200);
    const json answer = json::parse(r->body);
    std::ifstream in(data + "/audit.log");
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << "one line per request";
    json a = json::parse(line);
    EXPECT_TRUE(a["time"].is_string());
    EXPECT_EQ(a["route"], "/v1/chat/completions");
    EXPECT_EQ(a["key_id"], "-");
    EXPECT_EQ(a["request"][0]["content"], "the audited question");
    EXPECT_EQ(a["reasoning"], answer["choices"][0]["message"]["reasoning_content"]);
}

}  // namespace
}  // namespace sinan::test
