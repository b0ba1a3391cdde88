// `sinan serve` over real HTTP: the OpenAI chat and completion routes, the native route and the
// models list, against a tiny synthetic model with the DeepSeek-R1-Distill-Qwen vocab and chat
// template (which pre-fills <think>, so generated text starts as reasoning).
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "run_binary.h"
#include "serve_process.h"
#include "text/tokenizer.h"

namespace sinan::test {
namespace {

using nlohmann::json;

class ServerChat : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        model_ = tiny_r1_model();
        if (model_.empty()) return;
        server_ = new ServeProcess();
        std::string why;
        if (!server_->start(
                {"-m", model_, "--parallel", "4", "--ctx-size", "256", "--cache", "off", "--api-keys", "off"}, &why)) {
            ADD_FAILURE() << why;
            delete server_;
            server_ = nullptr;
        }
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        if (model_.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
        ASSERT_NE(server_, nullptr);
        client_ = server_->client();
    }
    json chat(const json& body, int expect_status = 200) {
        auto r = post_json(*client_, "/v1/chat/completions", body);
        EXPECT_TRUE(r) << "connection failed";
        if (!r) return json();
        EXPECT_EQ(r->status, expect_status) << r->body;
        return json::parse(r->body);
    }
    // A stream that answers 200 and ends with [DONE]: its events.
    std::vector<json> stream_ok(const std::string& path, const json& body) {
        bool done = false;
        int status = 0;
        std::vector<json> events = post_stream(*client_, path, body, &done, &status);
        EXPECT_EQ(status, 200);
        EXPECT_TRUE(done);
        return events;
    }
    // The text of each of a completion stream's n choices, its chunks joined.
    static std::vector<std::string> choice_texts(const std::vector<json>& events, size_t n) {
        std::vector<std::string> texts(n);
        for (const json& e : events) {
            if (e["choices"].empty()) continue;
            const size_t i = e["choices"][0]["index"];
            EXPECT_LT(i, n) << e.dump();
            if (i < n) texts[i] += e["choices"][0]["text"].get<std::string>();
        }
        return texts;
    }
    static json hello(int max_tokens) {
        return {{"messages", {{{"role", "user"}, {"content", "Hello, who are you?"}}}},
                {"max_tokens", max_tokens},
                {"temperature", 0}};
    }

    static inline std::string model_;
    static inline ServeProcess* server_ = nullptr;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerChat, NonStreamingAnswerHasTheOpenAIShapeAndReasoning) {
    json r = chat(hello(8));
    EXPECT_EQ(r["object"], "chat.completion");
    EXPECT_EQ(r["model"], "tiny-r1");
    ASSERT_EQ(r["choices"].size(), 1u);
    const json& c = r["choices"][0];
    EXPECT_EQ(c["index"], 0);
    EXPECT_EQ(c["message"]["role"], "assistant");
    EXPECT_TRUE(c["message"]["content"].is_string());
    // The template opened <think>: what the model wrote is reasoning.
    ASSERT_TRUE(c["message"]["reasoning_content"].is_string()) << r.dump();
    EXPECT_FALSE(c["message"]["reasoning_content"].get<std::string>().empty());
    EXPECT_EQ(c["message"]["reasoning"], c["message"]["reasoning_content"]);
    EXPECT_TRUE(c["finish_reason"] == "length" || c["finish_reason"] == "stop");
    const json& u = r["usage"];
    EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
    EXPECT_EQ(u["completion_tokens"].get<int>() + u["prompt_tokens"].get<int>(), u["total_tokens"].get<int>());
    EXPECT_LE(u["completion_tokens"].get<int>(), 8);
    EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number());
    const double conf = r["sinan"]["confidence"];
    EXPECT_GE(conf, 0.0);
    EXPECT_LE(conf, 1.0);
}

TEST_F(ServerChat, StreamedChunksAssembleToTheNonStreamedText) {
    json whole = chat(hello(12));
    json body = hello(12);
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    bool done = false;
    int status = 0;
    std::vector<json> events = post_stream(*client_, "/v1/chat/completions", body, &done, &status);
    ASSERT_EQ(status, 200);
    EXPECT_TRUE(done) << "the stream ends with data: [DONE]";
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
    std::string reasoning, content, finish;
    json usage;
    for (const json& e : events) {
        EXPECT_EQ(e["object"], "chat.completion.chunk");
        if (e["choices"].empty()) {
            usage = e["usage"];
            continue;
        }
        const json& d = e["choices"][0]["delta"];
        if (d.contains("reasoning_content")) {
            reasoning += d["reasoning_content"].get<std::string>();
            EXPECT_EQ(d["reasoning"], d["reasoning_content"]);
        }
        if (d.contains("content")) content += d["content"].get<std::string>();
        if (e["choices"][0]["finish_reason"].is_string()) finish = e["choices"][0]["finish_reason"];
    }
    const json& m = whole["choices"][0]["message"];
    EXPECT_EQ(reasoning, m.value("reasoning_content", ""));
    EXPECT_EQ(content, m["content"].get<std::string>());
    EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
    ASSERT_TRUE(usage.is_object()) << "include_usage sends a last chunk with usage and no choices";
    EXPECT_EQ(usage["completion_tokens"], whole["usage"]["completion_tokens"]);
    EXPECT_EQ(usage["prompt_tokens"], whole["usage"]["prompt_tokens"]);
}

// A client that accepts compressed bodies (browsers, Python's requests and httpx) still gets each
// event as it is generated: a compressed stream would arrive only at its end.
TEST_F(ServerChat, StreamsAreNotCompressedSoEventsArriveAsGenerated) {
    const json messages = {{{"role", "user"}, {"content", "Count."}}};
    const std::vector<std::pair<std::string, json>> streams = {
        {"/v1/chat/completions", {{"messages", messages}, {"max_tokens", 48}, {"stream", true}}},
        {"/v1/completions", {{"prompt", "Count."}, {"max_tokens", 48}, {"stream", true}}},
        {"/api/v1/chat", {{"query", "Count."}, {"max_tokens", 48}, {"stream", true}}},
    };
    for (const auto& [path, body] : streams) {
        httplib::Request req;
        req.method = "POST";
        req.path = path;
        req.headers = {{"Accept-Encoding", "gzip, deflate, br"}, {"Content-Type", "application/json"}};
        req.body = body.dump();
        std::string first, text;  // the first piece received, and all of them
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
            if (text.empty()) first.assign(data, n);
            text.append(data, n);
            return true;
        };
        auto r = client_->send(req);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream") << path;
        EXPECT_FALSE(r->has_header("Content-Encoding")) << path << ": " << r->get_header_value("Content-Encoding");
        EXPECT_EQ(r->get_header_value("X-Accel-Buffering"), "no") << path;
        EXPECT_NE(text.find("data: [DONE]"), std::string::npos) << path;
        // How many pieces the events come in depends on how far the client lags the server (15 of
        // 48 under ThreadSanitizer on a loaded machine); a stream held back to its end comes whole.
        EXPECT_EQ(first.find("data: [DONE]"), std::string::npos)
            << path << ": the first piece received held the whole stream:\n"
            << first;
    }
}

TEST_F(ServerChat, EarlierReasoningInTheHistoryIsNotSentToTheModel) {
    auto ask = [&](bool with_reasoning) {
        json assistant = {{"role", "assistant"}, {"content", "Four."}};
        if (with_reasoning) assistant["reasoning_content"] = "Two plus two is four, I am quite sure of it.";
        json body = {
            {"messages",
             {{{"role", "user"}, {"content", "2+2?"}}, assistant, {{"role", "user"}, {"content", "And 3+3?"}}}},
            {"max_tokens", 6},
            {"temperature", 0}};
        return chat(body);
    };
    json a = ask(false), b = ask(true);
    EXPECT_EQ(a["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"]);
    EXPECT_EQ(a["choices"][0]["message"], b["choices"][0]["message"]);
}

TEST_F(ServerChat, ReasoningBudgetForcesTheAnswerAndLogprobsHaveOpenAIsShape) {
    json body = hello(8);
    body["max_reasoning_tokens"] = 0;
    body["logprobs"] = true;
    body["top_logprobs"] = 3;
    json r = chat(body);
    const json& c = r["choices"][0];
    EXPECT_FALSE(c["message"]["content"].get<std::string>().empty()) << r.dump();
    ASSERT_TRUE(c["logprobs"].is_object()) << r.dump();
    const json& content = c["logprobs"]["content"];
    ASSERT_TRUE(content.is_array());
    ASSERT_GE(content.size(), 1u);
    for (const json& t : content) {
        ASSERT_TRUE(t["token"].is_string());
        ASSERT_TRUE(t["logprob"].is_number());
        EXPECT_LE(t["logprob"].get<double>(), 0.0);
        ASSERT_TRUE(t["bytes"].is_array());
        for (const json& b : t["bytes"]) EXPECT_TRUE(b.is_number_integer() && b >= 0 && b <= 255);
        ASSERT_EQ(t["top_logprobs"].size(), 3u);
        double prev = 0;
        for (size_t i = 0; i < 3; ++i) {
            const json& alt = t["top_logprobs"][i];
            EXPECT_TRUE(alt["token"].is_string());
            EXPECT_TRUE(alt["bytes"].is_array());
            if (i > 0) {
                EXPECT_LE(alt["logprob"].get<double>(), prev);
            }
            prev = alt["logprob"];
        }
        // Greedy: the chosen token is the most likely one.
        EXPECT_DOUBLE_EQ(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>());
    }
}

TEST_F(ServerChat, NChoicesUseSeedPlusIndexAndRepeatWithTheSameSeed) {
    json body = hello(6);
    body["temperature"] = 1.0;
    body["seed"] = 42;
    body["n"] = 2;
    json a = chat(body), b = chat(body);
    ASSERT_EQ(a["choices"].size(), 2u);
    EXPECT_EQ(a["choices"][0]["index"], 0);
    EXPECT_EQ(a["choices"][1]["index"], 1);
    EXPECT_NE(a["choices"][0]["message"], a["choices"][1]["message"]) << "seed and seed+1 differ";
    EXPECT_EQ(a["choices"], b["choices"]) << "same seed, same texts";
    int sum = 0;
    for (const json& c : a["choices"]) sum += static_cast<int>(c["message"].value("reasoning_content", "").size() > 0);
    EXPECT_EQ(sum, 2);
    EXPECT_LE(a["usage"]["completion_tokens"].get<int>(), 12);
}

TEST_F(ServerChat, ReasoningModelsSampleWithR1DefaultsAndReportTheSeed) {
    json body = {{"messages", {{{"role", "user"}, {"content", "Pick a word."}}}}, {"max_tokens", 8}};
    json a = chat(body);
    const json& sampling = a["sinan"]["sampling"];
    EXPECT_DOUBLE_EQ(sampling["temperature"].get<double>(), 0.6) << a.dump();
    EXPECT_DOUBLE_EQ(sampling["top_p"].get<double>(), 0.95);
    ASSERT_TRUE(sampling["seed"].is_number_unsigned());
    // The reported seed reproduces the answer.
    body["seed"] = sampling["seed"];
    EXPECT_EQ(chat(body)["choices"][0]["message"], a["choices"][0]["message"]);
    body["temperature"] = 0.2;
    body["top_p"] = 0.5;
    json b = chat(body);
    EXPECT_DOUBLE_EQ(b["sinan"]["sampling"]["temperature"].get<double>(), 0.2) << "the request's own values win";
    EXPECT_DOUBLE_EQ(b["sinan"]["sampling"]["top_p"].get<double>(), 0.5);
}

TEST_F(ServerChat, StopStringEndsTheCompletionBeforeIt) {
    json body = {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}, {"logprobs", 0}};
    auto r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json whole = json::parse(r->body);
    EXPECT_EQ(whole["object"], "text_completion");
    const std::string text = whole["choices"][0]["text"];
    const json& tokens = whole["choices"][0]["logprobs"]["tokens"];
    ASSERT_GE(tokens.size(), 6u) << whole.dump();
    // A stop string made of a later token's text, at its first occurrence.
    std::string stop;
    for (size_t i = 3; i < tokens.size() && stop.empty(); ++i) {
        const std::string piece = tokens[i];
        if (piece.find("\xef\xbf\xbd") == std::string::npos && piece.size() >= 2) stop = piece;
    }
    if (stop.empty()) GTEST_SKIP() << "no clean token to stop at in " << whole.dump();
    body["stop"] = {stop};
    r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json stopped = json::parse(r->body);
    EXPECT_EQ(stopped["choices"][0]["text"], text.substr(0, text.find(stop)));
    EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");
}

// OpenAI's echo with logprobs: the prompt's own tokens come first in the logprobs (the first with
// null), at their offsets in the echoed text; what evaluation harnesses read to score a text.
TEST_F(ServerChat, CompletionsEchoWithLogprobsScoreThePromptsOwnTokens) {
    auto file = gguf::File::open(model_);
    ASSERT_TRUE(file.ok()) << file.message();
    auto tok = text::Tokenizer::from_gguf(*file);
    ASSERT_TRUE(tok.ok()) << tok.message();
    const std::string prompt = "The quick brown fox";
    const std::vector<int32_t> prompt_ids = tok->encode(prompt, /*add_special=*/true, /*parse_special=*/true);

    json body = {{"prompt", prompt}, {"max_tokens", 4}, {"temperature", 0}, {"logprobs", 2}};
    auto r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json plain = json::parse(r->body);
    const std::string generated = plain["choices"][0]["text"];
    const json& gen_lp = plain["choices"][0]["logprobs"];

    body["echo"] = true;
    r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json echoed = json::parse(r->body);
    const json& c = echoed["choices"][0];
    EXPECT_EQ(c["text"], prompt + generated);
    const size_t n_prompt = echoed["usage"]["prompt_tokens"], n_gen = echoed["usage"]["completion_tokens"];
    ASSERT_EQ(n_prompt, prompt_ids.size());
    const json lp = c["logprobs"];
    ASSERT_EQ(lp["tokens"].size(), n_prompt + n_gen) << lp.dump();
    ASSERT_EQ(lp["token_logprobs"].size(), n_prompt + n_gen);
    ASSERT_EQ(lp["top_logprobs"].size(), n_prompt + n_gen);
    ASSERT_EQ(lp["text_offset"].size(), n_prompt + n_gen);
    EXPECT_TRUE(lp["token_logprobs"][0].is_null());
    EXPECT_TRUE(lp["top_logprobs"][0].is_null());
    const std::string text = c["text"];
    size_t last = 0;
    for (size_t k = 0; k < n_prompt + n_gen; ++k) {
        const size_t off = lp["text_offset"][k];
        EXPECT_GE(off, last) << "token " << k;
        last = off;
        if (k < n_prompt) {
            EXPECT_EQ(lp["tokens"][k], tok->token_to_piece(prompt_ids[k])) << "token " << k;
        }
        if (k == 0) continue;  // the BOS the tokenizer added: not in the text
        const std::string piece = lp["tokens"][k];
        EXPECT_EQ(text.substr(off, piece.size()), piece) << "token " << k;
        ASSERT_TRUE(lp["token_logprobs"][k].is_number()) << "token " << k;
        EXPECT_LE(lp["token_logprobs"][k].get<double>(), 0.0);
        EXPECT_EQ(lp["top_logprobs"][k].size(), 2u) << "token " << k;
    }
    // The completion's part is what the request without echo reported.
    for (size_t k = 0; k < n_gen; ++k) {
        EXPECT_EQ(lp["tokens"][n_prompt + k], gen_lp["tokens"][k]);
        EXPECT_EQ(lp["token_logprobs"][n_prompt + k], gen_lp["token_logprobs"][k]);
    }

    // The prompt and the completion as token ids, scored: the generated tokens get the logprobs
    // and alternatives they were sampled with (Sampler::score against Sampler::sample, computed
    // in other batches). A piece of this byte-level vocabulary names one token.
    json ids = json::array();
    for (int32_t id : prompt_ids) ids.push_back(id);
    for (size_t k = 0; k < n_gen; ++k) {
        const std::string piece = lp["tokens"][n_prompt + k];
        int32_t id = -1;
        for (int32_t v = 0; v < tok->n_vocab() && id < 0; ++v)
            if (tok->token_to_piece(v) == piece) id = v;
        ASSERT_GE(id, 0) << piece;
        ids.push_back(id);
    }
    body["prompt"] = ids;
    body["max_tokens"] = 1;
    r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json again = json::parse(r->body)["choices"][0]["logprobs"];
    ASSERT_EQ(again["tokens"].size(), n_prompt + n_gen + 1);
    for (size_t k = 1; k < n_prompt + n_gen; ++k) {
        EXPECT_EQ(again["tokens"][k], lp["tokens"][k]) << "token " << k;
        EXPECT_NEAR(again["token_logprobs"][k].get<double>(), lp["token_logprobs"][k].get<double>(), 1e-5)
            << "token " << k;
        EXPECT_EQ(again["top_logprobs"][k].dump(), lp["top_logprobs"][k].dump()) << "token " << k;
    }

    // Streamed: the first chunk is the prompt with its logprobs.
    body["prompt"] = prompt;
    body["max_tokens"] = 4;
    body["stream"] = true;
    bool done = false;
    int status = 0;
    auto events = post_stream(*client_, "/v1/completions", body, &done, &status);
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(done);
    ASSERT_FALSE(events.empty());
    const json& first = events[0]["choices"][0];
    EXPECT_EQ(first["text"], prompt);
    ASSERT_EQ(first["logprobs"]["tokens"].size(), n_prompt);
    for (size_t k = 0; k < n_prompt; ++k) {
        EXPECT_EQ(first["logprobs"]["tokens"][k], lp["tokens"][k]);
        EXPECT_EQ(first["logprobs"]["token_logprobs"][k], lp["token_logprobs"][k]);
        EXPECT_EQ(first["logprobs"]["text_offset"][k], lp["text_offset"][k]);
    }
}

// With n > 1 the first choice scores the prompt and the others reuse what it computed: every
// choice carries the same prompt logprobs, bit for bit, the later choices report the prompt as
// cached (each would compute it again if it scored it too), and the scores are those of the
// request with one choice (within float noise: the other requests' prompts were computed in other
// batches). The prompt is longer than a scored step's 64 tokens and held by the prefix cache when
// streamed, so the later choices generate before the first has scored it: their chunks wait for
// their echo, which still comes first.
TEST_F(ServerChat, CompletionsScoreAPromptOnceForAllItsChoices) {
    std::string prompt = "Scores for every choice of one prompt.";
    for (int k = 0; k < 12; ++k) prompt += " The quick brown fox jumps over the lazy dog.";
    json body = {{"prompt", prompt}, {"max_tokens", 3}, {"temperature", 0.9},
                 {"seed", 11},       {"logprobs", 2},   {"echo", true}};
    auto r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json one = json::parse(r->body);
    const size_t n_prompt = one["usage"]["prompt_tokens"];
    ASSERT_GT(n_prompt, 64u);
    auto prompt_part = [&](const json& logprobs) {
        json part = json::object();
        for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
            part[key] = json::array();
            for (size_t k = 0; k < n_prompt && k < logprobs[key].size(); ++k) part[key].push_back(logprobs[key][k]);
        }
        return part;
    };
    const json expected = prompt_part(one["choices"][0]["logprobs"]);
    ASSERT_EQ(expected["tokens"].size(), n_prompt);
    auto expect_scores_near = [&](const json& part, const std::string& what) {
        EXPECT_EQ(part["tokens"], expected["tokens"]) << what;
        EXPECT_EQ(part["text_offset"], expected["text_offset"]) << what;
        ASSERT_EQ(part["token_logprobs"].size(), n_prompt) << what;
        EXPECT_TRUE(part["token_logprobs"][0].is_null()) << what;
        for (size_t k = 1; k < n_prompt; ++k) {
            EXPECT_NEAR(part["token_logprobs"][k].get<double>(), expected["token_logprobs"][k].get<double>(), 1e-4)
                << what << ", token " << k;
            EXPECT_EQ(part["top_logprobs"][k].size(), 2u) << what << ", token " << k;
        }
    };

    body["n"] = 3;
    r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json three = json::parse(r->body);
    ASSERT_EQ(three["choices"].size(), 3u);
    ASSERT_EQ(three["sinan"]["choices"].size(), 3u) << three["sinan"].dump();
    const json first = prompt_part(three["choices"][0]["logprobs"]);
    expect_scores_near(first, "choice 0");
    for (size_t i = 0; i < 3; ++i) {
        const json& c = three["choices"][i];
        EXPECT_EQ(c["text"].get<std::string>().rfind(prompt, 0), 0u) << "choice " << i;
        EXPECT_EQ(prompt_part(c["logprobs"]).dump(), first.dump()) << "choice " << i;
        if (i > 0) {
            EXPECT_EQ(three["sinan"]["choices"][i]["cached_tokens"], n_prompt - 1) << "choice " << i;
        }
    }

    // Streamed: each choice's first chunk is its echo with the scores, the same for all three.
    body["stream"] = true;
    const std::vector<json> events = stream_ok("/v1/completions", body);
    std::vector<json> echoes(3);
    for (const json& e : events) {
        if (e["choices"].empty()) continue;
        const json& c = e["choices"][0];
        const size_t i = c["index"];
        ASSERT_LT(i, 3u);
        if (!echoes[i].is_null()) continue;
        echoes[i] = c;
        EXPECT_EQ(c["text"], prompt) << "choice " << i;
    }
    ASSERT_FALSE(echoes[0].is_null());
    expect_scores_near(echoes[0]["logprobs"], "streamed choice 0");
    for (size_t i = 1; i < 3; ++i) {
        ASSERT_FALSE(echoes[i].is_null()) << "choice " << i;
        EXPECT_EQ(echoes[i]["logprobs"].dump(), echoes[0]["logprobs"].dump()) << "choice " << i;
    }
    const std::vector<std::string> texts = choice_texts(events, 3);
    for (size_t i = 0; i < 3; ++i) EXPECT_GT(texts[i].size(), prompt.size()) << "choice " << i;
}

TEST_F(ServerChat, CompletionsTakeSeveralPromptsAndEcho) {
    json body = {{"prompt", {"One", "Two"}}, {"max_tokens", 4}, {"temperature", 0}, {"echo", true}};
    auto r = post_json(*client_, "/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    ASSERT_EQ(j["choices"].size(), 2u);
    EXPECT_EQ(j["choices"][0]["text"].get<std::string>().rfind("One", 0), 0u);
    EXPECT_EQ(j["choices"][1]["text"].get<std::string>().rfind("Two", 0), 0u);
    body["stream"] = true;
    body["echo"] = false;
    const std::vector<std::string> texts = choice_texts(stream_ok("/v1/completions", body), 2);
    EXPECT_EQ("One" + texts[0], j["choices"][0]["text"].get<std::string>());
    EXPECT_EQ("Two" + texts[1], j["choices"][1]["text"].get<std::string>());
}

TEST_F(ServerChat, ModelsListTheServedModel) {
    auto r = client_->Get("/v1/models");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    json j = json::parse(r->body);
    EXPECT_EQ(j["object"], "list");
    ASSERT_EQ(j["data"].size(), 1u);
    EXPECT_EQ(j["data"][0]["id"], "tiny-r1");
    EXPECT_EQ(j["data"][0]["object"], "model");
    // What the file holds: the tiny synthetic model is a qwen2 file of Q8_0 matrices.
    EXPECT_EQ(j["data"][0]["sinan"]["architecture"], "qwen2");
    EXPECT_EQ(j["data"][0]["sinan"]["file_type"], "Q8_0");
    const RunResult info = run_sinan({"model", "info", tiny_r1_model(), "--json"});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    EXPECT_EQ(j["data"][0]["sinan"]["parameters"], json::parse(info.out)["parameters"]);
    EXPECT_EQ(client_->Get("/v1/models/tiny-r1")->status, 200);
    auto missing = client_->Get("/v1/models/nope");
    EXPECT_EQ(missing->status, 404);
    EXPECT_NE(missing->body.find("tiny-r1"), std::string::npos) << "the error lists the available models";
}

TEST_F(ServerChat, NativeChatReturnsAnswerReasoningConfidenceAndTimings) {
    json body = {{"query", "What is 2+2?"},
                 {"history", {{{"role", "user"}, {"content", "Hi"}}, {{"role", "assistant"}, {"content", "Hello!"}}}},
                 {"system", "Be brief."},
                 {"max_tokens", 8},
                 {"temperature", 0}};
    auto r = post_json(*client_, "/api/v1/chat", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    EXPECT_TRUE(j["answer"].is_string());
    EXPECT_FALSE(j["reasoning"].get<std::string>().empty());
    EXPECT_GE(j["confidence"].get<double>(), 0.0);
    EXPECT_LE(j["confidence"].get<double>(), 1.0);
    for (const char* k : {"prompt_ms", "generation_ms", "ttft_ms"}) EXPECT_TRUE(j["timings"][k].is_number()) << k;
    EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 0);

    body["stream"] = true;
    bool done = false;
    int status = 0;
    auto events = post_stream(*client_, "/api/v1/chat", body, &done, &status);
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(done);
    std::string reasoning, answer;
    json last;
    for (const json& e : events) {
        if (e["type"] == "reasoning") reasoning += e["text"].get<std::string>();
        if (e["type"] == "answer") answer += e["text"].get<std::string>();
        if (e["type"] == "done") last = e;
    }
    EXPECT_EQ(reasoning, j["reasoning"]);
    EXPECT_EQ(answer, j["answer"]);
    ASSERT_TRUE(last.is_object());
    EXPECT_EQ(last["confidence"], j["confidence"]);
}

TEST_F(ServerChat, MaxTokensBeyondTheContextIs400NamingTheField) {
    // On /v1/completions: the chat routes shift the context instead (server_context_shift_test.cpp).
    auto refused = post_json(*client_, "/v1/completions", {{"prompt", "Hello"}, {"max_tokens", 100000}});
    ASSERT_TRUE(refused);
    ASSERT_EQ(refused->status, 400) << refused->body;
    const json r = json::parse(refused->body);
    EXPECT_EQ(r["error"]["param"], "max_tokens");
    EXPECT_EQ(r["error"]["type"], "invalid_request_error");
    EXPECT_NE(r["error"]["message"].get<std::string>().find("context"), std::string::npos);
    auto long_prompt =
        post_json(*client_, "/v1/completions", {{"prompt", std::vector<int>(300, 100)}, {"max_tokens", 1}});
    ASSERT_TRUE(long_prompt);
    EXPECT_EQ(long_prompt->status, 400);
    EXPECT_EQ(json::parse(long_prompt->body)["error"]["param"], "prompt") << long_prompt->body;
}

// The suite above runs with the cache off, so its streams are generated; this server has it on.
// --stream-interval: the tokens generated within an interval go out together. The first token
// (and what has come with it) goes at once; the next ones wait for the interval's end or the
// answer's, whichever is first.
// Timed against the answer's own generation time, so a slow machine (ThreadSanitizer) does not
// change the verdict.
TEST(ServerStreamInterval, TheTokensOfAnIntervalGoOutTogether) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    constexpr int kIntervalMs = 1000;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--cache", "off", "--api-keys", "off",
                              "--stream-interval", std::to_string(kIntervalMs)},
                             &why))
        << why;
    auto c = server.client();
    const json body = {{"messages", {{{"role", "user"}, {"content", "Count."}}}},
                       {"max_tokens", 24},
                       {"temperature", 0},
                       {"stream", true}};
    bool done = false;
    int status = 0;
    std::vector<std::chrono::steady_clock::time_point> arrivals;
    const std::vector<json> events = post_stream(*c, "/v1/chat/completions", body, &done, &status, {}, &arrivals);
    ASSERT_EQ(status, 200);
    ASSERT_TRUE(done);
    std::vector<std::chrono::steady_clock::time_point> text;  // arrivals of the events that carry text
    double generation_ms = -1;
    for (size_t i = 0; i < events.size(); ++i) {
        if (events[i].contains("sinan")) generation_ms = events[i]["sinan"]["timings"]["generation_ms"];
        if (events[i]["choices"].empty()) continue;
        const json& d = events[i]["choices"][0]["delta"];
        if (d.value("content", "") != "" || d.value("reasoning_content", "") != "") text.push_back(arrivals[i]);
    }
    ASSERT_GE(text.size(), 3u);
    ASSERT_GT(generation_ms, 0);
    // Held, the texts found by the first wake-up are followed by nothing until the interval or the
    // answer ends; sent token by token, no gap would be much longer than one token's time.
    double widest_ms = 0;
    for (size_t i = 1; i < text.size(); ++i)
        widest_ms = std::max(widest_ms, std::chrono::duration<double, std::milli>(text[i] - text[i - 1]).count());
    EXPECT_GE(widest_ms, 0.5 * std::min<double>(kIntervalMs, generation_ms))
        << "the widest gap between texts was " << widest_ms << " ms; the answer took " << generation_ms << " ms";
}

TEST(ServerCache, DeterministicRequestsAreAnsweredFromTheCacheStreamedOrNot) {
    const std::string model = tiny_r1_model();
    if (model.empty()) GTEST_SKIP() << "../shared/models/ggml-vocab-deepseek-r1-qwen.gguf not found";
    ServeProcess server;
    std::string why;
    ASSERT_TRUE(server.start({"-m", model, "--ctx-size", "256", "--api-keys", "off"}, &why)) << why;
    auto client = server.client();
    auto chat = [&](const json& b) {
        auto r = post_json(*client, "/v1/chat/completions", b);
        EXPECT_TRUE(r && r->status == 200);
        return r ? json::parse(r->body) : json();
    };
    json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"max_tokens", 5}, {"temperature", 0}};
    body["messages"][0]["content"] = "A question asked twice";
    json a = chat(body), b = chat(body);
    EXPECT_EQ(a["choices"], b["choices"]);
    EXPECT_FALSE(a["sinan"].value("cached", false));
    EXPECT_TRUE(b["sinan"].value("cached", false));
    EXPECT_NE(a["id"], b["id"]);
    // The same request streamed is a hit too: one chunk with the whole text.
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    bool done = false;
    int status = 0;
    auto events = post_stream(*client, "/v1/chat/completions", body, &done, &status);
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(done);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0]["choices"][0]["delta"]["reasoning_content"], a["choices"][0]["message"]["reasoning_content"]);
    EXPECT_EQ(events[0]["choices"][0]["finish_reason"], a["choices"][0]["finish_reason"]);
    EXPECT_TRUE(events[0]["sinan"]["cached"].get<bool>());
    EXPECT_EQ(events[1]["usage"], a["usage"]);
    // A streamed answer is stored too: the same request plain is then a hit with the same text.
    body["messages"][0]["content"] = "First streamed, then asked plainly";
    std::string streamed;
    for (const json& e : post_stream(*client, "/v1/chat/completions", body, &done, &status))
        if (!e["choices"].empty()) streamed += e["choices"][0]["delta"].value("reasoning_content", "");
    body.erase("stream");
    body.erase("stream_options");
    json plain = chat(body);
    EXPECT_TRUE(plain["sinan"].value("cached", false));
    EXPECT_EQ(plain["choices"][0]["message"]["reasoning_content"], streamed);
    auto m = client->Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("sinan_response_cache_hits_total "), std::string::npos) << m->body;
    EXPECT_EQ(m->body.find("sinan_response_cache_hits_total 0\n"), std::string::npos) << "the hit is counted";
}

}  // namespace
}  // namespace sinan::test
