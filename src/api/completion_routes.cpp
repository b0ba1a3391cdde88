// POST /v1/completions (OpenAI's legacy text completions: one or several prompts, echo, logprobs,
// streaming).
#include <algorithm>
#include <memory>
#include <optional>

#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/prompt.h"
#include "api/server_context.h"

namespace sinan::api {

namespace {

using json = nlohmann::ordered_json;

struct CompletionStream {
    ServerContext* ctx;
    ModelLease lease;
    std::vector<Generation> gens;  // one per prompt, n choices each
    ResponseHead head;
    GenerationParams params;
    std::vector<std::string> echo;                  // per choice
    std::vector<std::vector<int32_t>> echo_tokens;  // per choice, when its prompt is scored (echo with logprobs)
    int64_t n_prompt = 0;
    json prompt;  // for the audit log
    std::vector<ChoiceResult> choices;
};

// With echo and logprobs a prompt is scored by its first choice only (make_requests; the others
// share the prompt it computed): every choice of a prompt takes that choice's scores.
void share_prompt_scores(std::vector<ChoiceResult>& choices, size_t n) {
    for (size_t first = 0; first < choices.size(); first += n)
        for (size_t i = first + 1; i < std::min(first + n, choices.size()); ++i)
            choices[i].prompt_scores = choices[first].prompt_scores;
}

bool stream_completion(CompletionStream& s, httplib::DataSink& sink) {
    auto write = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
    s.choices.resize(s.echo.size());
    // A scored prompt is echoed with its logprobs, which come with its first choice's first
    // generated token (share_prompt_scores); a choice's chunks are held until its echo is written.
    std::vector<bool> echoed(s.echo.size(), !s.params.score_prompt);
    std::vector<std::string> held(s.echo.size());
    for (size_t i = 0; i < s.echo.size(); ++i)
        if (echoed[i] && !s.echo[i].empty() && !write(sse_event(completion_chunk(s.head, i, s.echo[i], nullptr))))
            return false;
    const size_t n = static_cast<size_t>(s.params.n);
    // Prompts one after another: each prompt's n choices stream interleaved.
    for (size_t g = 0; g < s.gens.size(); ++g) {
        std::optional<std::vector<sampling::TokenChoice>> scores;  // the prompt's, from its first choice
        // Choice i's echo (without logprobs if its first choice failed before scoring), then what it held.
        auto release = [&](size_t i) {
            echoed[i] = true;
            json lp = scores ? prompt_logprobs(s.echo[i], s.echo_tokens[i], *scores, s.lease->tokenizer,
                                               s.params.top_logprobs)
                             : json(nullptr);
            std::string out = sse_event(completion_chunk(s.head, i, s.echo[i], nullptr, std::move(lp)));
            out += held[i];
            held[i].clear();
            return write(out);
        };
        auto send = [&](size_t i, const std::string& data) {
            if (!echoed[i]) {
                held[i] += data;
                return true;
            }
            return write(data);
        };
        const bool finished = s.gens[g].run(
            [&](size_t j, engine::Event& ev) {
                const size_t i = g * n + j;
                accumulate(s.choices[i], ev);
                if (ev.type == engine::Event::Type::kText) {
                    if (j == 0 && !echoed[i]) {
                        scores = std::move(ev.prompt_scores);
                        for (size_t k = i; k < i + n; ++k)
                            if (!echoed[k] && !release(k)) return false;
                    }
                    if (ev.text.empty()) return true;
                    json lp = nullptr;
                    if (s.params.logprobs)
                        lp = completion_logprobs(ev.tokens, s.lease->tokenizer, s.params.top_logprobs, 0);
                    return send(i, sse_event(completion_chunk(s.head, i, ev.text, nullptr, std::move(lp))));
                }
                if (ev.type == engine::Event::Type::kFailed)
                    return send(i, "data: " + failure_of({s.choices[i]})->body() + "\n\n");
                return send(i, sse_event(completion_chunk(s.head, i, "", finish_reason(ev.result.finish))));
            },
            [&] { return write(": waiting\n\n"); });
        if (!finished) return false;
        for (size_t k = g * n; k < g * n + n; ++k)
            if (!echoed[k] && !release(k)) return false;
    }
    if (s.params.include_usage) {
        if (!write(sse_event(usage_chunk(s.head, "text_completion", usage_of(s.choices, s.n_prompt))))) return false;
    }
    return write(kSseDone);
}

void handle_completion(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    CompletionRequest cr;
    if (auto e = parse_completion_request(req.body, &cr)) return send_error(res, *e);
    auto acquired = acquire_model(ctx, cr.params.model);
    if (auto* e = std::get_if<ApiError>(&acquired)) return send_error(res, *e);
    ModelLease lease = std::move(std::get<ModelLease>(acquired));
    const GenerationParams params = with_model_defaults(*lease, cr.params);

    std::vector<Prompt> prompts;
    int64_t n_prompt = 0;
    for (const PromptInput& input : cr.prompts) {
        auto p = completion_prompt(*lease, input);
        if (auto* e = std::get_if<ApiError>(&p)) return send_error(res, *e);
        prompts.push_back(std::move(std::get<Prompt>(p)));
        n_prompt += static_cast<int64_t>(prompts.back().tokens.size());
    }
    std::vector<std::string> echo;
    std::vector<std::vector<int32_t>> echo_tokens;
    for (const Prompt& p : prompts)
        for (int32_t j = 0; j < params.n; ++j) {
            echo.push_back(cr.echo ? p.text : std::string());
            echo_tokens.push_back(params.score_prompt ? p.tokens : std::vector<int32_t>());
        }

    const std::string key = response_cache_key(ctx, lease->id, "/v1/completions", params, cr.body);
    if (!params.stream && answer_from_cache(ctx, key, "cmpl-", res)) return;

    // Submit every prompt before reading any, so they run side by side.
    std::vector<Generation> gens;
    for (const Prompt& p : prompts) {
        auto started = start_generation(ctx, *lease, p, params, Route::kCompletion);
        if (auto* e = std::get_if<ApiError>(&started)) return send_error(res, *e);
        gens.push_back(std::move(std::get<Generation>(started)));
    }
    ResponseHead head{new_id("cmpl-"), unix_now(), lease->id};

    if (!params.stream) {
        std::vector<ChoiceResult> choices;
        for (Generation& g : gens)
            for (ChoiceResult& c : g.collect()) choices.push_back(std::move(c));
        if (auto e = failure_of(choices)) return send_error(res, *e);
        if (params.score_prompt) share_prompt_scores(choices, static_cast<size_t>(params.n));
        json body = text_completion(head, choices, echo, echo_tokens, n_prompt, lease->tokenizer,
                                    params.logprobs ? params.top_logprobs : -1);
        body["sinan"]["sampling"] = sampling_json(params);
        if (!key.empty()) ctx.cache->put(key, dump_json(body));
        account_tokens(ctx, lease->id, choices, n_prompt);
        if (ctx.audit)
            audit(ctx, "/v1/completions", cr.body.value("prompt", json()), choices[0].answer, choices[0].reasoning,
                  200);
        return send_json(res, body);
    }

    auto s = std::make_shared<CompletionStream>(CompletionStream{&ctx,
                                                                 std::move(lease),
                                                                 std::move(gens),
                                                                 head,
                                                                 params,
                                                                 std::move(echo),
                                                                 std::move(echo_tokens),
                                                                 n_prompt,
                                                                 cr.body.value("prompt", json()),
                                                                 {}});
    set_stream_headers(res);
    res.set_chunked_content_provider(
        kSseContentType,
        [s](size_t, httplib::DataSink& sink) {
            const bool ok = stream_completion(*s, sink);
            if (!ok)
                for (Generation& g : s->gens) g.cancel();
            account_tokens(*s->ctx, s->lease->id, s->choices, s->n_prompt);
            if (s->ctx->audit && !s->choices.empty())
                audit(*s->ctx, "/v1/completions", s->prompt, s->choices[0].answer, s->choices[0].reasoning,
                      ok ? 200 : 499);
            if (!ok) return false;
            sink.done();
            return true;
        },
        [s](bool) {
            for (Generation& g : s->gens) g.cancel();
        });
}

}  // namespace

void register_completion_routes(Router& server, ServerContext& ctx) {
    server.Post("/v1/completions",
                [&ctx](const httplib::Request& req, httplib::Response& res) { handle_completion(ctx, req, res); });
}

}  // namespace sinan::api
