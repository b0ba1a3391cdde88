// From a parsed request to what the scheduler runs: the prompt tokens (chat messages rendered with
// the model's chat template, or a completion prompt) and one engine::Request per choice with the
// model's defaults applied and the limits that need the model checked (context length, vocabulary,
// max_tokens). Errors are 400 ApiErrors naming the field.
// Pure functions of their arguments; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/api_error.h"
#include "api/model_registry.h"
#include "api/openai_request.h"
#include "engine/scheduler.h"

namespace sinan::api {

struct Prompt {
    std::vector<int32_t> tokens;
    std::string text;                  // the rendered text (completions: the prompt text for echo)
    bool starts_in_reasoning = false;  // the rendered prompt ends with <think> (R1 templates pre-fill it)
    std::string field = "messages";    // the request field it came from, for errors
};

// Renders `messages` with the model's template (generation prompt added) and tokenizes it; BOS
// is added unless the template wrote it. Error when the model has no chat template.
std::variant<Prompt, ApiError> chat_prompt(const ServedModel& model, const nlohmann::ordered_json& messages);

// A completion prompt: text (tokenized with BOS as the model wants) or token ids (checked
// against the vocabulary).
std::variant<Prompt, ApiError> completion_prompt(const ServedModel& model, const PromptInput& input);

// One request per choice: choice i gets seed + i when a seed is given. The reasoning model's
// sampling defaults (temperature 0.6, top_p 0.95) apply unless the request set them. Checks the
// prompt length and max_tokens against the context and the sampling params against the vocab.
std::variant<std::vector<engine::Request>, ApiError> make_requests(const ServedModel& model, const Prompt& prompt,
                                                                   const GenerationParams& params,
                                                                   std::optional<engine::Clock::time_point> deadline);

// The params with the model's defaults applied (what make_requests uses), for the cache decision.
GenerationParams with_model_defaults(const ServedModel& model, GenerationParams params);

}  // namespace sinan::api
