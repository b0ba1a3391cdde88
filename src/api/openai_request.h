// Parsing and validation of requests: the OpenAI bodies of POST /v1/chat/completions,
// POST /v1/completions and POST /v1/embeddings, and the sampling fields the native POST /api/v1/chat shares with them.
// Everything a client can send is checked here: malformed JSON, invalid UTF-8, wrong types, values
// out of range, unknown roles, each answered with a 400 ApiError that names the field. What needs
// the model (vocabulary size, context length, the chat template) is checked later by the route.
//
// Pure functions of the body; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/api_error.h"
#include "sampling/sampling_params.h"

namespace sinan::api {

// Most choices per request (`n`), and most stop strings.
inline constexpr int32_t kMaxChoices = 16;
inline constexpr size_t kMaxStopStrings = 16;

// What every generation route takes besides its prompt.
struct GenerationParams {
    std::string model;  // "" = the server's default model
    sampling::SamplingParams sampling;
    bool temperature_given = false, top_p_given = false;  // else the model's defaults apply (R1: 0.6 / 0.95)
    bool seed_given = false;
    int64_t max_tokens = -1;            // -1: until the model stops or the context is full
    int64_t max_reasoning_tokens = -1;  // extension: reasoning budget after which </think> is forced
    int32_t n = 1;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    bool logprobs = false;
    int32_t top_logprobs = 0;
    bool score_prompt = false;  // completions with echo and logprobs: the prompt's tokens are scored too

    // For the response cache: the output depends only on the request (greedy or seeded).
    bool deterministic() const { return sampling.temperature == 0.0f || seed_given; }
};

struct ChatRequest {
    GenerationParams params;
    // [{role, content[, name, tool_calls, tool_call_id]}], content flattened to a string;
    // reasoning_content and reasoning of input messages are dropped.
    nlohmann::ordered_json messages;
    nlohmann::json body;  // the parsed body, for the cache key
};

using PromptInput = std::variant<std::string, std::vector<int32_t>>;

struct CompletionRequest {
    GenerationParams params;
    std::vector<PromptInput> prompts;  // one choice set per prompt
    bool echo = false;
    nlohmann::json body;
};

// Most inputs per embeddings request (OpenAI's limit).
inline constexpr size_t kMaxEmbeddingInputs = 2048;

struct EmbeddingRequest {
    std::string model;                // "" = the server's default model
    std::vector<PromptInput> inputs;  // texts (special tokens added) or token ids (taken as given)
    bool base64 = false;              // encoding_format "base64": little-endian float32 bytes
    bool truncate = false;            // extension: cut inputs longer than the model's context
};

// Parses `body` as JSON (an object); errors: malformed JSON or invalid UTF-8 (400).
std::optional<ApiError> parse_json_object(std::string_view body, nlohmann::ordered_json* out);

// Reads the fields of GenerationParams from a parsed body (shared by every generation route).
std::optional<ApiError> parse_generation_params(const nlohmann::ordered_json& body, GenerationParams* out);

// Validates a chat message list (non-empty array of {role, content}); `param` names the field in
// errors ("messages" or "history").
std::optional<ApiError> parse_messages(const nlohmann::ordered_json& value, const std::string& param,
                                       nlohmann::ordered_json* out);

std::optional<ApiError> parse_chat_request(std::string_view body, ChatRequest* out);
std::optional<ApiError> parse_completion_request(std::string_view body, CompletionRequest* out);
// input: a string, an array of strings, an array of token ids or an array of such arrays (not
// empty, at most kMaxEmbeddingInputs, no empty string); encoding_format float or base64;
// truncate true or false; dimensions is refused (the models have one size).
std::optional<ApiError> parse_embedding_request(std::string_view body, EmbeddingRequest* out);

// The parsed body without the fields that do not change the generated text (stream,
// stream_options, user), for cache_key().
nlohmann::json cache_identity(const nlohmann::ordered_json& body);

}  // namespace sinan::api
