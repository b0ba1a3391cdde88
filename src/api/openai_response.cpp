#include "api/openai_response.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace sinan::api {

using json = nlohmann::ordered_json;

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json float_array(const float* v, int64_t n) {
    json a = json::array();
    char buf[32];
    for (int64_t i = 0; i < n; ++i) {
        // The double nearest the float's shortest decimal prints as that decimal.
        const auto r = std::to_chars(buf, buf + sizeof buf, v[i]);
        a.push_back(std::strtod(std::string(buf, r.ptr).c_str(), nullptr));
    }
    return a;
}

std::string sse_event(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string new_id(const std::string& prefix) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng() & 0xffffffffu));
    return prefix + buf;
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

const char* finish_reason(engine::FinishReason reason) {
    return reason == engine::FinishReason::kStop ? "stop" : "length";
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

json usage_of(const std::vector<ChoiceResult>& choices, int64_t prompt_tokens) {
    int64_t completion = 0;
    for (const ChoiceResult& c : choices) completion += c.result.n_generated;
    return usage_json(prompt_tokens, completion, choices.empty() ? 0 : choices[0].n_cached);
}

namespace {

json bytes_of(const std::string& s) {
    json a = json::array();
    for (unsigned char c : s) a.push_back(static_cast<int>(c));
    return a;
}

json one_logprob(const std::string& piece, float logprob) {
    return {{"token", piece}, {"logprob", logprob}, {"bytes", bytes_of(piece)}};
}

}  // namespace

json chat_logprobs(const std::vector<engine::TokenInfo>& tokens, const text::Tokenizer& tokenizer, int32_t n_top) {
    json content = json::array();
    for (const engine::TokenInfo& t : tokens) {
        json item = one_logprob(t.piece, t.choice.logprob);
        json top = json::array();
        const auto alts = t.choice.top_logprobs();
        for (size_t i = 0; i < alts.size() && static_cast<int32_t>(i) < n_top; ++i)
            top.push_back(one_logprob(tokenizer.token_to_piece(alts[i].token, true), alts[i].logprob));
        item["top_logprobs"] = std::move(top);
        content.push_back(std::move(item));
    }
    return {{"content", std::move(content)}};
}

json completion_logprobs(const std::vector<engine::TokenInfo>& tokens, const text::Tokenizer& tokenizer, int32_t n_top,
                         size_t text_offset) {
    json toks = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
    for (const engine::TokenInfo& t : tokens) {
        toks.push_back(t.piece);
        lps.push_back(t.choice.logprob);
        json top = json::object();
        const auto alts = t.choice.top_logprobs();
        for (size_t i = 0; i < alts.size() && static_cast<int32_t>(i) < n_top; ++i)
            top[tokenizer.token_to_piece(alts[i].token, true)] = alts[i].logprob;
        tops.push_back(std::move(top));
        offsets.push_back(text_offset);
        text_offset += t.piece.size();
    }
    return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json prompt_logprobs(const std::string& text, const std::vector<int32_t>& tokens,
                     const std::vector<sampling::TokenChoice>& scores, const text::Tokenizer& tokenizer,
                     int32_t n_top) {
    json toks = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
    size_t offset = 0;
    for (size_t k = 0; k < tokens.size(); ++k) {
        const std::string piece = tokenizer.token_to_piece(tokens[k]);
        toks.push_back(piece);
        offsets.push_back(offset);
        if (text.compare(offset, piece.size(), piece) == 0) offset += piece.size();
        if (k == 0 || k > scores.size()) {
            lps.push_back(nullptr);
            tops.push_back(nullptr);
            continue;
        }
        const sampling::TokenChoice& s = scores[k - 1];
        lps.push_back(s.logprob);
        json top = json::object();
        const auto alts = s.top_logprobs();
        for (size_t i = 0; i < alts.size() && static_cast<int32_t>(i) < n_top; ++i)
            top[tokenizer.token_to_piece(alts[i].token, true)] = alts[i].logprob;
        tops.push_back(std::move(top));
    }
    return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

void append_logprobs(json& into, const json& more) {
    for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"})
        for (const json& v : more[key]) into[key].push_back(v);
}

json timings_json(const ChoiceResult& c, int64_t prompt_tokens) {
    auto per_second = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
    const engine::GenerateResult& r = c.result;
    return {{"prompt_ms", r.prompt_seconds * 1e3},
            {"generation_ms", r.generate_seconds * 1e3},
            {"ttft_ms", c.first_token_seconds * 1e3},
            {"queue_ms", c.queue_seconds * 1e3},
            {"prompt_tokens", prompt_tokens},
            {"prompt_tokens_computed", r.n_prompt},
            {"cached_tokens", c.n_cached},
            {"generated_tokens", r.n_generated},
            {"prompt_tokens_per_second", per_second(r.n_prompt, r.prompt_seconds)},
            {"generation_tokens_per_second", per_second(r.n_generated, r.generate_seconds)}};
}

namespace {

json confidence_detail(const sampling::Confidence& c) {
    return {{"score", c.score},
            {"geometric_mean_prob", c.geometric_mean_prob},
            {"min_prob", c.min_prob},
            {"certainty", c.certainty},
            {"n_tokens", c.n_tokens}};
}

}  // namespace

json sinan_extension(const std::vector<ChoiceResult>& choices, int64_t prompt_tokens) {
    json ext = json::object();
    if (choices.empty()) return ext;
    ext["confidence"] = choices[0].result.confidence.score;
    ext["confidence_detail"] = confidence_detail(choices[0].result.confidence);
    if (choices.size() > 1) {
        json per = json::array();
        for (size_t i = 0; i < choices.size(); ++i)
            per.push_back({{"index", i},
                           {"confidence", choices[i].result.confidence.score},
                           {"cached_tokens", choices[i].n_cached}});
        ext["choices"] = std::move(per);
    }
    ext["timings"] = timings_json(choices[0], prompt_tokens);
    return ext;
}

namespace {

// The fields every response object starts with.
json envelope(const ResponseHead& head, const char* object) {
    return {{"id", head.id},
            {"object", object},
            {"created", head.created},
            {"model", head.model},
            {"system_fingerprint", "sinan-0.1.0"}};
}

}  // namespace

json chat_completion(const ResponseHead& head, const std::vector<ChoiceResult>& choices, int64_t prompt_tokens,
                     const text::Tokenizer& tokenizer, int32_t n_top) {
    json out_choices = json::array();
    for (size_t i = 0; i < choices.size(); ++i) {
        const ChoiceResult& c = choices[i];
        json message = {{"role", "assistant"}, {"content", c.answer}};
        if (!c.reasoning.empty()) {
            message["reasoning_content"] = c.reasoning;
            message["reasoning"] = c.reasoning;
        }
        json choice = {{"index", i},
                       {"message", std::move(message)},
                       {"logprobs", n_top >= 0 ? chat_logprobs(c.answer_tokens, tokenizer, n_top) : json(nullptr)},
                       {"finish_reason", finish_reason(c.result.finish)}};
        out_choices.push_back(std::move(choice));
    }
    json r = envelope(head, "chat.completion");
    r["choices"] = std::move(out_choices);
    r["usage"] = usage_of(choices, prompt_tokens);
    r["sinan"] = sinan_extension(choices, prompt_tokens);
    return r;
}

json chat_chunk(const ResponseHead& head, size_t index, json delta, const char* finish, json logprobs) {
    json choice = {{"index", index},
                   {"delta", std::move(delta)},
                   {"logprobs", std::move(logprobs)},
                   {"finish_reason", finish ? json(finish) : json(nullptr)}};
    json r = envelope(head, "chat.completion.chunk");
    r["choices"] = json::array({std::move(choice)});
    return r;
}

json usage_chunk(const ResponseHead& head, const char* object, json usage) {
    json r = envelope(head, object);
    r["choices"] = json::array();
    r["usage"] = std::move(usage);
    return r;
}

json text_completion(const ResponseHead& head, const std::vector<ChoiceResult>& choices,
                     const std::vector<std::string>& echo_prefixes,
                     const std::vector<std::vector<int32_t>>& echo_tokens, int64_t prompt_tokens,
                     const text::Tokenizer& tokenizer, int32_t n_top) {
    json out_choices = json::array();
    for (size_t i = 0; i < choices.size(); ++i) {
        const ChoiceResult& c = choices[i];
        const std::string& prefix = i < echo_prefixes.size() ? echo_prefixes[i] : std::string();
        // A completion has one text: the model's thinking (if it wrote <think>) comes first.
        const std::string text = prefix + c.reasoning + c.answer;
        json logprobs = nullptr;
        if (n_top >= 0) {
            logprobs = completion_logprobs(c.answer_tokens, tokenizer, n_top, prefix.size() + c.reasoning.size());
            if (i < echo_tokens.size() && !echo_tokens[i].empty()) {
                json scored = prompt_logprobs(prefix, echo_tokens[i], c.prompt_scores, tokenizer, n_top);
                append_logprobs(scored, logprobs);
                logprobs = std::move(scored);
            }
        }
        json choice = {{"index", i},
                       {"text", text},
                       {"logprobs", std::move(logprobs)},
                       {"finish_reason", finish_reason(c.result.finish)}};
        out_choices.push_back(std::move(choice));
    }
    json r = envelope(head, "text_completion");
    r["choices"] = std::move(out_choices);
    r["usage"] = usage_of(choices, prompt_tokens);
    r["sinan"] = sinan_extension(choices, prompt_tokens);
    return r;
}

json completion_chunk(const ResponseHead& head, size_t index, const std::string& text, const char* finish,
                      json logprobs) {
    json choice = {{"index", index},
                   {"text", text},
                   {"logprobs", std::move(logprobs)},
                   {"finish_reason", finish ? json(finish) : json(nullptr)}};
    json r = envelope(head, "text_completion");
    r["choices"] = json::array({std::move(choice)});
    return r;
}

}  // namespace sinan::api
