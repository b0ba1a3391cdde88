// Building the responses of the generation routes: OpenAI's chat.completion and text_completion
// objects and their streaming chunks, usage, logprobs (chat: {token, logprob, bytes,
// top_logprobs}; legacy completions: tokens / token_logprobs / top_logprobs / text_offset), the
// `sinan` extension (confidence score and timings), and Server-Sent Events framing.
//
// Model output is arbitrary bytes: every function here produces valid JSON text whatever the
// model wrote (invalid UTF-8 is replaced by U+FFFD when dumped, a token's exact bytes go in
// `bytes`). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/generation.h"
#include "engine/generate.h"
#include "engine/scheduler.h"
#include "text/tokenizer.h"

namespace sinan::api {

// JSON text with invalid UTF-8 replaced (never throws).
std::string dump_json(const nlohmann::ordered_json& j);
// Floats as a JSON array of numbers that print in float's shortest form ("0.1", not
// "0.10000000149011612"): what embeddings are sent as. v: [n].
nlohmann::ordered_json float_array(const float* v, int64_t n);
// One SSE event: "data: <json>\n\n".
std::string sse_event(const nlohmann::ordered_json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";
// The Content-Type of every stream: exactly this, never with "; charset=utf-8" (SSE is UTF-8 by
// definition): httplib compresses every other text type for a client that accepts gzip or br
// (browsers, Python's requests and httpx, so the openai Python SDK), and a compressed stream
// reaches the client only at its end (ServerChat.StreamsAreNotCompressedSoEventsArriveAsGenerated).
inline constexpr const char* kSseContentType = "text/event-stream";

// "chatcmpl-" + 24 random hex digits, and the like.
std::string new_id(const std::string& prefix);
int64_t unix_now();

// "stop" or "length" (context full, deadline and cancellation count as "length": the text was
// cut, not finished).
const char* finish_reason(engine::FinishReason reason);

nlohmann::ordered_json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);
// Usage of a finished request: prompt counted once per prompt, completions summed over choices.
nlohmann::ordered_json usage_of(const std::vector<ChoiceResult>& choices, int64_t prompt_tokens);

// Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.
nlohmann::ordered_json chat_logprobs(const std::vector<engine::TokenInfo>& tokens, const text::Tokenizer& tokenizer,
                                     int32_t n_top);
// Legacy completion logprobs; offsets start at `text_offset`.
nlohmann::ordered_json completion_logprobs(const std::vector<engine::TokenInfo>& tokens,
                                           const text::Tokenizer& tokenizer, int32_t n_top, size_t text_offset);
// Legacy logprobs of a scored prompt (echo with logprobs), to go before the completion's: its
// tokens at their offsets in `text` (the prompt as echoed; a token whose bytes do not follow
// there, as a BOS the tokenizer added, keeps the offset and takes no width), the first with null
// for its logprob and alternatives, token k with scores[k - 1] (null past the scores given).
nlohmann::ordered_json prompt_logprobs(const std::string& text, const std::vector<int32_t>& tokens,
                                       const std::vector<sampling::TokenChoice>& scores,
                                       const text::Tokenizer& tokenizer, int32_t n_top);
// `more`'s tokens, token_logprobs, top_logprobs and text_offset appended to `into`'s.
void append_logprobs(nlohmann::ordered_json& into, const nlohmann::ordered_json& more);

// {prompt_ms, generation_ms, ttft_ms, queue_ms, prompt_tokens, generated_tokens, cached_tokens,
//  prompt_tokens_per_second, generation_tokens_per_second}
nlohmann::ordered_json timings_json(const ChoiceResult& c, int64_t prompt_tokens);
// {"confidence": score of choice 0, "confidence_detail": {...}, "choices": [{index, confidence}]
//  (n > 1), "timings": {...}}
nlohmann::ordered_json sinan_extension(const std::vector<ChoiceResult>& choices, int64_t prompt_tokens);

struct ResponseHead {
    std::string id;
    int64_t created = 0;
    std::string model;
};

// A whole chat.completion. logprobs: n_top >= 0 to include them, -1 to leave them out.
nlohmann::ordered_json chat_completion(const ResponseHead& head, const std::vector<ChoiceResult>& choices,
                                       int64_t prompt_tokens, const text::Tokenizer& tokenizer, int32_t n_top);
// One chat.completion.chunk with one choice.
nlohmann::ordered_json chat_chunk(const ResponseHead& head, size_t index, nlohmann::ordered_json delta,
                                  const char* finish, nlohmann::ordered_json logprobs = nullptr);
// The final usage chunk of a stream (empty choices); object "chat.completion.chunk" or
// "text_completion".
nlohmann::ordered_json usage_chunk(const ResponseHead& head, const char* object, nlohmann::ordered_json usage);

// A whole text_completion; choice i's text gets prompts[i / n] in front with echo, and where
// echo_tokens[i] holds that prompt's tokens (echo with logprobs) its logprobs start with theirs.
nlohmann::ordered_json text_completion(const ResponseHead& head, const std::vector<ChoiceResult>& choices,
                                       const std::vector<std::string>& echo_prefixes,
                                       const std::vector<std::vector<int32_t>>& echo_tokens, int64_t prompt_tokens,
                                       const text::Tokenizer& tokenizer, int32_t n_top);
nlohmann::ordered_json completion_chunk(const ResponseHead& head, size_t index, const std::string& text,
                                        const char* finish, nlohmann::ordered_json logprobs = nullptr);

}  // namespace sinan::api
