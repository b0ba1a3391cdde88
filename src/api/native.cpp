// POST /api/v1/chat: sinan's own chat route (the design brief's). One question with an optional
// history and system message in, the answer, the reasoning, the confidence score, usage and
// timings out; streamed as SSE events {"type": "reasoning"|"answer", "text"} and a final
// {"type": "done", ...the whole response...} when "stream" is true (under "grounded": true the
// answer goes out as one event once its support is known, just before "done").
// With "knowledge_base" it answers from that knowledge base (kb_grounding.h): the response adds
// "citations" and "grounding", and "confidence" becomes the grounded confidence; a server with no
// generative model answers extractively.
#include <memory>

#include "api/kb_grounding.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/prompt.h"
#include "api/server_context.h"

namespace sinan::api {

namespace {

using json = nlohmann::ordered_json;
using ojson = nlohmann::ordered_json;

struct NativeRequest {
    GenerationParams params;
    ojson messages;  // system + history + the query
    json body;
    KbFields kb;
};

std::optional<ApiError> parse_native(std::string_view text, NativeRequest* out) {
    ojson body;
    if (auto e = parse_json_object(text, &body)) return e;
    auto q = body.find("query");
    if (q == body.end() || q->is_null()) return bad_request("query is missing: give the question as a string", "query");
    if (!q->is_string()) return bad_request("query must be a string", "query");
    out->messages = ojson::array();
    if (auto s = body.find("system"); s != body.end() && !s->is_null()) {
        if (!s->is_string()) return bad_request("system must be a string", "system");
        out->messages.push_back({{"role", "system"}, {"content", *s}});
    }
    if (auto h = body.find("history"); h != body.end() && !h->is_null()) {
        ojson history;
        if (auto e = parse_messages(*h, "history", &history)) return e;
        for (auto& m : history) out->messages.push_back(std::move(m));
    }
    out->messages.push_back({{"role", "user"}, {"content", *q}});
    if (auto e = parse_generation_params(body, &out->params)) return e;
    if (auto e = parse_kb_fields(body, &out->kb)) return e;
    if (out->params.n != 1) return bad_request("n must be 1 on /api/v1/chat (use /v1/chat/completions for more)", "n");
    out->body = cache_identity(body);
    return std::nullopt;
}

json native_response(const ResponseHead& head, const ChoiceResult& c, int64_t n_prompt,
                     const std::optional<Grounding>& grounding) {
    json out = {{"id", head.id},
                {"model", head.model},
                {"answer", c.answer},
                {"reasoning", c.reasoning},
                {"confidence", c.result.confidence.score},
                {"confidence_detail", sinan_extension({c}, n_prompt)["confidence_detail"]},
                {"finish_reason", finish_reason(c.result.finish)},
                {"usage", usage_of({c}, n_prompt)},
                {"timings", timings_json(c, n_prompt)}};
    if (grounding) {
        const GroundedAnswer a = assess_answer(*grounding, c.answer, c.result.confidence.score);
        out["answer"] = a.answer;
        out["confidence"] = a.confidence;
        out["confidence_detail"]["token_confidence"] = c.result.confidence.score;
        out["citations"] = a.citations;
        out["grounding"] = grounding_json(*grounding, a);
    }
    return out;
}

// A knowledge-base answer given without running a model: extractive (no generative model) or
// "I don't know" (grounded, nothing retrieved). Streamed as one answer event and the done event.
void send_unmodelled(const Grounding& g, const GroundedAnswer& a, const char* mode, bool stream,
                     httplib::Response& res) {
    json body = {{"id", new_id("chat-")},
                 {"model", mode},
                 {"answer", a.answer},
                 {"reasoning", ""},
                 {"confidence", a.confidence},
                 {"finish_reason", "stop"},
                 {"usage", {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}},
                 {"citations", a.citations},
                 {"grounding", grounding_json(g, a, mode)}};
    if (!stream) return send_json(res, body);
    body["type"] = "done";
    set_stream_headers(res);
    res.set_content(sse_event({{"type", "answer"}, {"text", a.answer}}) + sse_event(body) + std::string(kSseDone),
                    kSseContentType);
}

struct NativeStream {
    ServerContext* ctx;
    ModelLease lease;
    Generation gen;
    ResponseHead head;
    int64_t n_prompt = 0;
    ojson messages;
    ChoiceResult choice;
    std::optional<Grounding> grounding;
};

bool stream_native(NativeStream& s, httplib::DataSink& sink) {
    auto write = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
    const bool withhold = withholds_answer(s.grounding);
    const bool finished = s.gen.run(
        [&](size_t, engine::Event& ev) {
            accumulate(s.choice, ev);
            if (ev.type == engine::Event::Type::kText) {
                if (ev.text.empty() || (withhold && ev.kind == engine::TextKind::kAnswer)) return true;
                const char* type = ev.kind == engine::TextKind::kReasoning ? "reasoning" : "answer";
                return write(sse_event({{"type", type}, {"text", ev.text}}));
            }
            if (ev.type == engine::Event::Type::kFailed)
                return write("data: " + failure_of({s.choice})->body() + "\n\n");
            json done = native_response(s.head, s.choice, s.n_prompt, s.grounding);
            done["type"] = "done";
            const std::string answer = done.value("answer", "");
            if (withhold && !answer.empty() && !write(sse_event({{"type", "answer"}, {"text", answer}}))) return false;
            return write(sse_event(done));
        },
        [&] { return write(": waiting\n\n"); });
    return finished && write(kSseDone);
}

void handle_native_chat(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    NativeRequest nr;
    if (auto e = parse_native(req.body, &nr)) return send_error(res, *e);
    std::optional<Grounding> grounding;
    if (!nr.kb.knowledge_base.empty()) {
        auto g = ground_messages(ctx.knowledge, nr.kb, &nr.messages);
        if (auto* e = std::get_if<ApiError>(&g)) return send_error(res, *e);
        grounding = std::move(std::get<Grounding>(g));
        if (ctx.registry->empty())
            return send_unmodelled(*grounding, extractive_answer(*grounding), "extractive", nr.params.stream, res);
        if (nothing_to_ground(*grounding)) {
            GroundedAnswer a = assess_answer(*grounding, "", 0);
            return send_unmodelled(*grounding, a, "none", nr.params.stream, res);
        }
    }
    auto acquired = acquire_model(ctx, nr.params.model);
    if (auto* e = std::get_if<ApiError>(&acquired)) return send_error(res, *e);
    ModelLease lease = std::move(std::get<ModelLease>(acquired));
    auto prompt = chat_prompt(*lease, nr.messages);
    if (auto* e = std::get_if<ApiError>(&prompt)) return send_error(res, *e);
    const Prompt& p = std::get<Prompt>(prompt);
    const GenerationParams params = with_model_defaults(*lease, nr.params);
    const int64_t n_prompt = static_cast<int64_t>(p.tokens.size());

    // A knowledge base changes under the same request: its answers are not cached.
    const std::string key =
        grounding ? std::string() : response_cache_key(ctx, lease->id, "/api/v1/chat", params, nr.body);
    if (!params.stream && answer_from_cache(ctx, key, "chat-", res)) return;
    auto started = start_generation(ctx, *lease, p, params, Route::kChat);
    if (auto* e = std::get_if<ApiError>(&started)) return send_error(res, *e);
    ResponseHead head{new_id("chat-"), unix_now(), lease->id};

    if (!params.stream) {
        Generation gen = std::move(std::get<Generation>(started));
        std::vector<ChoiceResult> choices = gen.collect();
        if (auto e = failure_of(choices)) return send_error(res, *e);
        json body = native_response(head, choices[0], n_prompt, grounding);
        body["sampling"] = sampling_json(params);
        if (!key.empty()) ctx.cache->put(key, dump_json(body));
        account_tokens(ctx, lease->id, choices, n_prompt);
        if (ctx.audit) audit(ctx, "/api/v1/chat", nr.messages, choices[0].answer, choices[0].reasoning, 200);
        return send_json(res, body);
    }
    auto s = std::make_shared<NativeStream>(NativeStream{
        &ctx, std::move(lease), std::move(std::get<Generation>(started)), head, n_prompt, std::move(nr.messages), {},
        std::move(grounding)});
    set_stream_headers(res);
    res.set_chunked_content_provider(
        kSseContentType,
        [s](size_t, httplib::DataSink& sink) {
            const bool ok = stream_native(*s, sink);
            if (!ok) s->gen.cancel();
            account_tokens(*s->ctx, s->lease->id, {s->choice}, s->n_prompt);
            if (s->ctx->audit)
                audit(*s->ctx, "/api/v1/chat", s->messages, s->choice.answer, s->choice.reasoning, ok ? 200 : 499);
            if (!ok) return false;
            sink.done();
            return true;
        },
        [s](bool) { s->gen.cancel(); });
}

}  // namespace

void register_native_routes(Router& server, ServerContext& ctx) {
    server.Post("/api/v1/chat",
                [&ctx](const httplib::Request& req, httplib::Response& res) { handle_native_chat(ctx, req, res); });
}

}  // namespace sinan::api
