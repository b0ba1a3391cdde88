// What web pages can reach `sinan serve`, over real HTTP. CORS (--cors-origin): a browser's
// preflight (OPTIONS, no API key) is answered for the origins the policy allows and refused with a
// message for the others; every response to an allowed origin, errors and streams included, names
// it in Access-Control-Allow-Origin. Host (--allow-host): a server on a loopback address answers
// only requests addressed to a loopback name or a name it was given (DNS rebinding). A bad spec
// stops the server at start with one line. The browser itself is driven in tests/web (web_browser).
#include <gtest/gtest.h>

#include <filesystem>

#include "api/keys.h"
#include "run_binary.h"
#include "serve_process.h"

namespace sinan::test {
namespace {

using nlohmann::json;

httplib::Headers preflight(const std::string& origin) {
    return {{"Origin", origin},
            {"Access-Control-Request-Method", "POST"},
            {"Access-Control-Request-Headers", "authorization,content-type"}};
}

TEST(ServerCors, PreflightNeedsNoKeyAndIsAnsweredForLoopbackPagesByDefault) {
    const std::string data = temp_dir() + "/cors-keys";
    auto key = api::create_key(data, "cors", 0, 0);
    ASSERT_TRUE(key.ok()) << key.message();
    ServeProcess server;
    std::string why;
    const std::string empty = temp_dir() + "/cors-no-models";
    std::filesystem::create_directories(empty);
    ASSERT_TRUE(server.start({"--models-dir", empty, "--data-dir", data}, &why)) << why;
    auto c = server.client();

    auto ok = c->Options("/v1/chat/completions", preflight("http://localhost:5173"));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 204) << ok->body;
    EXPECT_EQ(ok->get_header_value("Access-Control-Allow-Origin"), "http://localhost:5173");
    EXPECT_NE(ok->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
    EXPECT_EQ(ok->get_header_value("Access-Control-Allow-Headers"), "authorization,content-type");
    EXPECT_EQ(ok->get_header_value("Vary"), "Origin");

    auto refused = c->Options("/v1/chat/completions", preflight("https://evil.example.com"));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);
    EXPECT_FALSE(refused->has_header("Access-Control-Allow-Origin"));
    const json e = json::parse(refused->body)["error"];
    EXPECT_EQ(e["code"], "origin_not_allowed");
    EXPECT_NE(e["message"].get<std::string>().find("--cors-origin https://evil.example.com"), std::string::npos)
        << e.dump();

    // The real request: refused without a key (401), and the page may read why.
    auto no_key = c->Get("/v1/models", {{"Origin", "http://127.0.0.1:3000"}});
    EXPECT_EQ(no_key->status, 401);
    EXPECT_EQ(no_key->get_header_value("Access-Control-Allow-Origin"), "http://127.0.0.1:3000");
    EXPECT_NE(no_key->get_header_value("Access-Control-Expose-Headers").find("X-Request-Id"), std::string::npos);
    auto with_key =
        c->Get("/v1/models", {{"Origin", "http://127.0.0.1:3000"}, {"Authorization", "Bearer " + key->secret}});
    EXPECT_EQ(with_key->status, 200);
    EXPECT_EQ(with_key->get_header_value("Access-Control-Allow-Origin"), "http://127.0.0.1:3000");
    // Another origin's request is served (a browser would not let its page read it) without the header.
    auto other =
        c->Get("/v1/models", {{"Origin", "https://evil.example.com"}, {"Authorization", "Bearer " + key->secret}});
    EXPECT_EQ(other->status, 200);
    EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
    // OPTIONS without an Origin (not a browser): the methods, nothing else.
    auto plain = c->Options("/v1/models", httplib::Headers{});
    EXPECT_EQ(plain->status, 204);
    EXPECT_EQ(plain->get_header_value("Allow"), "GET, POST, DELETE, OPTIONS");
    EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
    EXPECT_TRUE(server.wait_for_log("route=\"OPTIONS /v1/chat/completions\" status=204")) << server.log();
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ServerCors, NamedOriginsReplaceTheDefaultAndStreamsCarryTheHeader) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start(
        {"-m", model, "--ctx-size", "256", "--api-keys", "off", "--data-dir", temp_dir() + "/cors-named-data",
         "--cors-origin", "https://chat.example.com,http://intranet:8080"},
        &why))
        << why;
    EXPECT_TRUE(server.wait_for_log("browser pages of other origins: https://chat.example.com, http://intranet:8080"))
        << server.log();
    auto c = server.client();
    EXPECT_EQ(c->Options("/api/v1/chat", preflight("https://chat.example.com"))->status, 204);
    EXPECT_EQ(c->Options("/api/v1/chat", preflight("http://intranet:8080"))->status, 204);
    EXPECT_EQ(c->Options("/api/v1/chat", preflight("http://localhost:5173"))->status, 403);
    // A public page's call to a private address (Chromium's Private Network Access) is allowed too.
    httplib::Headers pna = preflight("https://chat.example.com");
    pna.emplace("Access-Control-Request-Private-Network", "true");
    auto private_network = c->Options("/api/v1/chat", pna);
    EXPECT_EQ(private_network->status, 204);
    EXPECT_EQ(private_network->get_header_value("Access-Control-Allow-Private-Network"), "true");
    EXPECT_FALSE(c->Options("/api/v1/chat", preflight("https://chat.example.com"))
                     ->has_header("Access-Control-Allow-Private-Network"));
    const json body = {
        {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4}, {"temperature", 0}, {"stream", true}};
    auto stream =
        c->Post("/v1/chat/completions", {{"Origin", "https://chat.example.com"}}, body.dump(), "application/json");
    ASSERT_TRUE(stream);
    EXPECT_EQ(stream->status, 200);
    EXPECT_EQ(stream->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
    EXPECT_EQ(stream->get_header_value("Access-Control-Allow-Origin"), "https://chat.example.com");
    EXPECT_NE(stream->body.find("data: [DONE]"), std::string::npos) << stream->body;
    EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(ServerCors, NoneAnswersNoPreflightAndABadSpecStopsTheStart) {
    ServeProcess server;
    std::string why;
    const std::string empty = temp_dir() + "/cors-no-models";
    std::filesystem::create_directories(empty);
    ASSERT_TRUE(server.start({"--models-dir", empty, "--api-keys", "off", "--data-dir", temp_dir() + "/cors-none-data",
                              "--cors-origin", "none"},
                             &why))
        << why;
    auto c = server.client();
    EXPECT_EQ(c->Options("/v1/models", preflight("http://localhost:5173"))->status, 403);
    EXPECT_FALSE(
        c->Get("/v1/models", {{"Origin", "http://localhost:5173"}})->has_header("Access-Control-Allow-Origin"));
    EXPECT_EQ(server.stop(SIGTERM), 0);

    const RunResult bad =
        run_sinan({"serve", "--models-dir", empty, "--api-keys", "off", "--data-dir", temp_dir() + "/cors-none-data",
                   "--port", "0", "--cors-origin", "chat.example.com"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--cors-origin: \"chat.example.com\" is not an origin"), std::string::npos) << bad.err;
    EXPECT_EQ(bad.out, "") << "nothing listened";
}

TEST(ServerHosts, ALoopbackServerAnswersOnlyRequestsAddressedToALoopbackNameOrAnAllowedOne) {
    const std::string empty = temp_dir() + "/hosts-no-models";
    std::filesystem::create_directories(empty);
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"--models-dir", empty, "--api-keys", "off", "--data-dir", temp_dir() + "/hosts-data",
                              "--allow-host", "sinan.example.com"},
                             &why))
        << why;
    EXPECT_TRUE(server.wait_for_log("Host names answered: loopback names, sinan.example.com")) << server.log();
    auto c = server.client();
    const std::string port = std::to_string(server.port());
    for (const std::string& host :
         std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "sinan.example.com"}) {
        auto r = c->Get("/v1/models", {{"Host", host}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << host;
    }
    // A page that pointed its own name at this machine: every route, the page and /health too.
    for (const char* path : {"/v1/models", "/health", "/", "/api/v1/kb"}) {
        auto r = c->Get(path, {{"Host", "rebind.example.net:" + port}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 403) << path;
        const json e = json::parse(r->body)["error"];
        EXPECT_EQ(e["code"], "host_not_allowed") << path;
        EXPECT_NE(e["message"].get<std::string>().find("--allow-host rebind.example.net"), std::string::npos)
            << e.dump();
    }
    // A refused request with a body leaves no bytes behind on its connection.
    auto post = c->Post("/api/v1/kb", {{"Host", "rebind.example.net"}}, R"({"name": "leak"})", "application/json");
    EXPECT_EQ(post->status, 403);
    EXPECT_EQ(c->Get("/api/v1/kb")->status, 200);
    EXPECT_EQ(c->Get("/api/v1/kb")->body.find("leak"), std::string::npos);
    EXPECT_EQ(server.stop(SIGTERM), 0);

    const RunResult bad = run_sinan({"serve", "--models-dir", empty, "--api-keys", "off", "--data-dir",
                                     temp_dir() + "/hosts-data", "--port", "0", "--allow-host", "https://x.example"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--allow-host: \"https://x.example\" is not a host name"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace sinan::test
