// `sinan serve --context-shift` over real HTTP: with the default (chat), a chat request whose
// max_tokens goes past --ctx-size is answered with every token it asked for, while /v1/completions
// refuses it with 400; --context-shift off refuses it on the chat route too, and on lets
// /v1/completions go on as well. The tokens themselves are checked against engine::Session in
// tests/engine/scheduler_context_shift_test.cpp; here a logit bias makes one token win every step,
// so the model never ends the answer before max_tokens.
#include <gtest/gtest.h>

#include "serve_process.h"

namespace sinan::test {
namespace {

using nlohmann::json;

constexpr int kCtx = 64;
constexpr int kMaxTokens = 150;  // more than two contexts

json chat_body() {
    return {{"messages", {{{"role", "user"}, {"content", "Tell me a long story."}}}},
            {"max_tokens", kMaxTokens},
            {"temperature", 0},
            {"logit_bias", {{"64", 100}}}};
}

json completion_body() {
    return {
        {"prompt", "Once upon a time"}, {"max_tokens", kMaxTokens}, {"temperature", 0}, {"logit_bias", {{"64", 100}}}};
}

// Starts a server with --ctx-size kCtx and `extra` flags.
std::unique_ptr<ServeProcess> start(const std::string& model, const std::vector<std::string>& extra) {
    auto server = std::make_unique<ServeProcess>();
    std::vector<std::string> args = {"-m", model,     "--ctx-size", std::to_string(kCtx), "--parallel",
                                     "1",  "--cache", "off",        "--api-keys",         "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string why;
    if (!server->start(args, &why)) {
        ADD_FAILURE() << why;
        return nullptr;
    }
    return server;
}

void expect_all_tokens(httplib::Client& c, const std::string& route, const json& body) {
    auto r = post_json(c, route, body);
    ASSERT_TRUE(r) << route;
    ASSERT_EQ(r->status, 200) << route << ": " << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["usage"]["completion_tokens"], kMaxTokens) << route;
    EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), kCtx);
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length") << route;
}

void expect_refused(httplib::Client& c, const std::string& route, const json& body) {
    auto r = post_json(c, route, body);
    ASSERT_TRUE(r) << route;
    ASSERT_EQ(r->status, 400) << route << ": " << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["error"]["param"], "max_tokens") << r->body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find("--context-shift"), std::string::npos) << r->body;
}

TEST(ServerContextShift, ByDefaultChatGoesPastTheContextAndCompletionsRefuse) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    auto server = start(model, {});
    ASSERT_NE(server, nullptr);
    auto c = server->client();
    expect_all_tokens(*c, "/v1/chat/completions", chat_body());
    expect_refused(*c, "/v1/completions", completion_body());
}

TEST(ServerContextShift, OffRefusesOnEveryRouteAndOnAnswersOnEveryRoute) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    {
        auto off = start(model, {"--context-shift", "off"});
        ASSERT_NE(off, nullptr);
        auto c = off->client();
        expect_refused(*c, "/v1/chat/completions", chat_body());
        expect_refused(*c, "/v1/completions", completion_body());
    }
    auto on = start(model, {"--context-shift", "on", "--keep", "2"});
    ASSERT_NE(on, nullptr);
    auto c = on->client();
    expect_all_tokens(*c, "/v1/completions", completion_body());
    expect_all_tokens(*c, "/v1/chat/completions", chat_body());
}

}  // namespace
}  // namespace sinan::test
