// POST /v1/chat/completions: OpenAI's chat completions, non-streaming and streamed as SSE chunks,
// with a reasoning model's thinking in reasoning_content (and its alias reasoning).
// Extension: "knowledge_base" (with "grounded", "top_k", "filter"; n must be 1) answers from a
// knowledge base (kb_grounding.h); the response's "sinan" object then holds "citations",
// "grounding" and the grounded "confidence" (in a stream: the last chunk's). A grounded stream
// holds the answer back and sends it in one chunk once its support is known (withholds_answer).
#include <memory>

#include "api/kb_grounding.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/prompt.h"
#include "api/server_context.h"

namespace sinan::api {

namespace {

using json = nlohmann::ordered_json;

// A stream in progress: everything the content provider needs after the handler returned.
struct ChatStream {
    ServerContext* ctx;
    ModelLease lease;
    Generation gen;
    ResponseHead head;
    GenerationParams params;
    int64_t n_prompt = 0;
    nlohmann::ordered_json messages;
    std::string cache_key;  // "" = not cached
    std::vector<ChoiceResult> choices;
    std::optional<Grounding> grounding;
};

// The knowledge-base part of the `sinan` extension (choice 0; knowledge-base requests have n = 1),
// from the assessment `a` of choice `c`.
void add_grounding(json& sinan, const Grounding& g, const GroundedAnswer& a, const ChoiceResult& c, json* message) {
    sinan["confidence"] = a.confidence;
    sinan["token_confidence"] = c.result.confidence.score;
    sinan["citations"] = a.citations;
    sinan["grounding"] = grounding_json(g, a);
    if (message) (*message)["content"] = a.answer;
}

json text_delta(engine::TextKind kind, const std::string& text) {
    if (kind == engine::TextKind::kReasoning) return {{"reasoning_content", text}, {"reasoning", text}};
    return {{"content", text}};
}

bool stream_chat(ChatStream& s, httplib::DataSink& sink) {
    auto write = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
    const bool want_logprobs = s.params.logprobs;
    const bool withhold = withholds_answer(s.grounding);
    s.choices.resize(s.gen.size());
    for (size_t i = 0; i < s.gen.size(); ++i)
        if (!write(sse_event(chat_chunk(s.head, i, {{"role", "assistant"}, {"content", ""}}, nullptr)))) return false;
    const bool finished = s.gen.run(
        [&](size_t i, engine::Event& ev) {
            accumulate(s.choices[i], ev);
            if (ev.type == engine::Event::Type::kText) {
                if (withhold && ev.kind == engine::TextKind::kAnswer) return true;  // sent whole at the end
                std::vector<engine::TokenInfo> answer_tokens;
                if (want_logprobs && !withhold)
                    for (const engine::TokenInfo& t : ev.tokens)
                        if (t.kind == engine::TextKind::kAnswer) answer_tokens.push_back(t);
                if (ev.text.empty() && answer_tokens.empty()) return true;
                json lp = want_logprobs && !answer_tokens.empty()
                              ? chat_logprobs(answer_tokens, s.lease->tokenizer, s.params.top_logprobs)
                              : json(nullptr);
                return write(sse_event(chat_chunk(s.head, i, text_delta(ev.kind, ev.text), nullptr, std::move(lp))));
            }
            if (ev.type == engine::Event::Type::kFailed) {
                ApiError e = *failure_of({s.choices[i]});
                return write("data: " + e.body() + "\n\n");
            }
            json last = chat_chunk(s.head, i, json::object(), finish_reason(ev.result.finish));
            last["sinan"] = sinan_extension({s.choices[i]}, s.n_prompt);
            last["sinan"]["sampling"] = sampling_json(s.params);
            if (s.grounding) {
                const ChoiceResult& c = s.choices[i];
                const GroundedAnswer a = assess_answer(*s.grounding, c.answer, c.result.confidence.score);
                if (withhold && !a.answer.empty()) {
                    // The model's own answer keeps its logprobs; the "I don't know" text has none.
                    json lp = want_logprobs && a.answer == c.answer && !c.answer_tokens.empty()
                                  ? chat_logprobs(c.answer_tokens, s.lease->tokenizer, s.params.top_logprobs)
                                  : json(nullptr);
                    if (!write(sse_event(chat_chunk(s.head, i, {{"content", a.answer}}, nullptr, std::move(lp)))))
                        return false;
                }
                add_grounding(last["sinan"], *s.grounding, a, c, nullptr);
            }
            return write(sse_event(last));
        },
        // An SSE comment while the model is silent (queued, long prefill): keeps proxies from
        // timing out and finds a client that went away.
        [&] { return write(": waiting\n\n"); });
    if (!finished) return false;
    if (s.params.include_usage &&
        !write(sse_event(usage_chunk(s.head, "chat.completion.chunk", usage_of(s.choices, s.n_prompt)))))
        return false;
    return write(kSseDone);
}

// A streamed request found in the cache: each choice as one chunk (role, the whole reasoning and
// answer, its finish reason), then usage if asked for.
bool replay_from_cache(ServerContext& ctx, const std::string& key, const GenerationParams& params,
                       httplib::Response& res) {
    if (key.empty()) return false;
    std::optional<std::string> hit = ctx.cache->get(key);
    if (!hit) return false;
    json cached = json::parse(*hit, nullptr, false);
    if (!cached.is_object() || !cached["choices"].is_array()) return false;
    const ResponseHead head{new_id("chatcmpl-"), unix_now(), cached.value("model", "")};
    std::string body;
    for (size_t i = 0; i < cached["choices"].size(); ++i) {
        const json& choice = cached["choices"][i];
        json delta = {{"role", "assistant"}};
        for (const char* field : {"content", "reasoning_content", "reasoning"})
            if (choice["message"].contains(field)) delta[field] = choice["message"][field];
        const std::string finish = choice.value("finish_reason", "stop");
        json chunk = chat_chunk(head, i, std::move(delta), finish.c_str(), choice.value("logprobs", json()));
        chunk["sinan"] = cached.value("sinan", json::object());
        chunk["sinan"]["cached"] = true;
        body += sse_event(chunk);
    }
    if (params.include_usage) body += sse_event(usage_chunk(head, "chat.completion.chunk", cached["usage"]));
    body += kSseDone;
    current_record().cache_hit = true;
    set_stream_headers(res);
    res.set_content(body, kSseContentType);
    return true;
}

void finish_accounting(ServerContext& ctx, const std::string& model_id, const nlohmann::ordered_json& messages,
                       const std::vector<ChoiceResult>& choices, int64_t n_prompt, int status) {
    account_tokens(ctx, model_id, choices, n_prompt);
    if (ctx.audit)
        audit(ctx, "/v1/chat/completions", messages, choices.empty() ? "" : choices[0].answer,
              choices.empty() ? "" : choices[0].reasoning, status);
}

void handle_chat(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    ChatRequest cr;
    if (auto e = parse_chat_request(req.body, &cr)) return send_error(res, *e);
    std::optional<Grounding> grounding;
    {
        KbFields kb;
        if (auto e = parse_kb_fields(nlohmann::ordered_json(cr.body), &kb)) return send_error(res, *e);
        if (!kb.knowledge_base.empty()) {
            if (cr.params.n != 1) return send_error(res, bad_request("n must be 1 with knowledge_base", "n"));
            auto g = ground_messages(ctx.knowledge, kb, &cr.messages);
            if (auto* e = std::get_if<ApiError>(&g)) return send_error(res, *e);
            grounding = std::move(std::get<Grounding>(g));
        }
    }
    auto acquired = acquire_model(ctx, cr.params.model);
    if (auto* e = std::get_if<ApiError>(&acquired)) return send_error(res, *e);
    ModelLease lease = std::move(std::get<ModelLease>(acquired));

    auto prompt = chat_prompt(*lease, cr.messages);
    if (auto* e = std::get_if<ApiError>(&prompt)) return send_error(res, *e);
    const Prompt& p = std::get<Prompt>(prompt);
    const GenerationParams params = with_model_defaults(*lease, cr.params);
    const int64_t n_prompt = static_cast<int64_t>(p.tokens.size());

    // A knowledge base changes under the same request: its answers are not cached.
    const std::string key =
        grounding ? std::string() : response_cache_key(ctx, lease->id, "/v1/chat/completions", params, cr.body);
    if (params.stream ? replay_from_cache(ctx, key, params, res) : answer_from_cache(ctx, key, "chatcmpl-", res))
        return;
    auto started = start_generation(ctx, *lease, p, params, Route::kChat);
    if (auto* e = std::get_if<ApiError>(&started)) return send_error(res, *e);
    ResponseHead head{new_id("chatcmpl-"), unix_now(), lease->id};

    if (!params.stream) {
        Generation gen = std::move(std::get<Generation>(started));
        std::vector<ChoiceResult> choices = gen.collect();
        if (auto e = failure_of(choices)) return send_error(res, *e);
        json body =
            chat_completion(head, choices, n_prompt, lease->tokenizer, params.logprobs ? params.top_logprobs : -1);
        body["sinan"]["sampling"] = sampling_json(params);
        if (grounding)
            add_grounding(body["sinan"], *grounding,
                          assess_answer(*grounding, choices[0].answer, choices[0].result.confidence.score), choices[0],
                          &body["choices"][0]["message"]);
        if (!key.empty()) ctx.cache->put(key, dump_json(body));
        finish_accounting(ctx, lease->id, cr.messages, choices, n_prompt, 200);
        return send_json(res, body);
    }

    auto s = std::make_shared<ChatStream>(ChatStream{&ctx,
                                                     std::move(lease),
                                                     std::move(std::get<Generation>(started)),
                                                     head,
                                                     params,
                                                     n_prompt,
                                                     std::move(cr.messages),
                                                     key,
                                                     {},
                                                     std::move(grounding)});
    set_stream_headers(res);
    res.set_chunked_content_provider(
        kSseContentType,
        [s](size_t, httplib::DataSink& sink) {
            const bool ok = stream_chat(*s, sink);
            if (!ok) s->gen.cancel();  // the client went away: free the slots now
            finish_accounting(*s->ctx, s->lease->id, s->messages, s->choices, s->n_prompt, ok ? 200 : 499);
            if (ok && !s->cache_key.empty() && !failure_of(s->choices)) {
                json stored = chat_completion(s->head, s->choices, s->n_prompt, s->lease->tokenizer,
                                              s->params.logprobs ? s->params.top_logprobs : -1);
                stored["sinan"]["sampling"] = sampling_json(s->params);
                s->ctx->cache->put(s->cache_key, dump_json(stored));
            }
            if (!ok) return false;
            sink.done();
            return true;
        },
        [s](bool) { s->gen.cancel(); });
}

}  // namespace

void register_chat_routes(Router& server, ServerContext& ctx) {
    server.Post("/v1/chat/completions",
                [&ctx](const httplib::Request& req, httplib::Response& res) { handle_chat(ctx, req, res); });
}

}  // namespace sinan::api
