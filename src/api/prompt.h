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

// The params a request runs with: the reasoning model's sampling defaults (temperature 0.6,
// top_p 0.95) unless the request set them, and a random seed when it gave none (reported in the
// response, so any answer can be reproduced). Call once per request.
GenerationParams with_model_defaults(const ServedModel& model, GenerationParams params);

// Context shift for the requests of one API call (engine::Request: a sequence that fills the
// context drops its oldest tokens after the first n_keep and goes on, up to max_tokens).
struct ContextShift {
    bool enabled = false;
    int64_t n_keep = -1;  // -1: the prompt, at most half the context
};

// One request per choice (params from with_model_defaults): choice i gets seed + i; with
// params.score_prompt only choice 0 scores the prompt (the route gives its scores to the others).
// Checks the prompt length against the context, max_tokens against the room the prompt leaves
// (unless the context shifts) and the sampling params against the vocab.
std::variant<std::vector<engine::Request>, ApiError> make_requests(const ServedModel& model, const Prompt& prompt,
                                                                   const GenerationParams& params,
                                                                   std::optional<engine::Clock::time_point> deadline,
                                                                   const ContextShift& shift = {});

// {"temperature", "top_p", "seed"} the request ran with, for the response's `sinan` object.
nlohmann::ordered_json sampling_json(const GenerationParams& params);

}  // namespace sinan::api
