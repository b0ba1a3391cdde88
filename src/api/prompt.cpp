#include "api/prompt.h"

#include <cmath>
#include <random>

namespace sinan::api {

namespace {

bool ends_with_think_open(const std::string& rendered) {
    static const std::string kOpen = "<think>";
    const size_t end = rendered.find_last_not_of(" \n");
    return end != std::string::npos && end + 1 >= kOpen.size() &&
           rendered.compare(end + 1 - kOpen.size(), kOpen.size(), kOpen) == 0;
}

}  // namespace

std::variant<Prompt, ApiError> chat_prompt(const ServedModel& model, const nlohmann::ordered_json& messages) {
    if (!model.chat_template)
        return bad_request("model \"" + model.id +
                               "\" has no chat template (tokenizer.chat_template); use "
                               "/v1/completions with a plain prompt",
                           "model", "no_chat_template");
    Result<std::string> rendered = model.chat_template->render(messages, /*add_generation_prompt=*/true);
    if (!rendered.ok())
        return bad_request("the messages do not fit model \"" + model.id + "\"'s chat template: " + rendered.message(),
                           "messages");
    Prompt p;
    p.text = std::move(rendered).value();
    const std::string& bos = model.chat_template->bos_token();
    const bool has_bos = !bos.empty() && p.text.rfind(bos, 0) == 0;
    p.tokens = model.tokenizer.encode(p.text, /*add_special=*/!has_bos, /*parse_special=*/true);
    p.starts_in_reasoning = ends_with_think_open(p.text);
    return p;
}

std::variant<Prompt, ApiError> completion_prompt(const ServedModel& model, const PromptInput& input) {
    Prompt p;
    p.field = "prompt";
    if (const auto* text = std::get_if<std::string>(&input)) {
        p.text = *text;
        p.tokens = model.tokenizer.encode(p.text, /*add_special=*/true, /*parse_special=*/true);
        return p;
    }
    p.tokens = std::get<std::vector<int32_t>>(input);
    for (int32_t id : p.tokens)
        if (!model.tokenizer.is_valid_id(id))
            return bad_request("prompt token id " + std::to_string(id) + " is outside model \"" + model.id +
                                   "\"'s vocabulary of " + std::to_string(model.tokenizer.n_vocab()),
                               "prompt");
    p.text = model.tokenizer.decode(p.tokens);
    return p;
}

GenerationParams with_model_defaults(const ServedModel& model, GenerationParams params) {
    if (model.reasoning) {
        if (!params.temperature_given) params.sampling.temperature = sampling::kReasoningTemperature;
        if (!params.top_p_given) params.sampling.top_p = sampling::kReasoningTopP;
    }
    if (!params.sampling.seed) {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        params.sampling.seed = rng() >> 11;  // 53 bits: exact as a JavaScript client's number
    }
    return params;
}

nlohmann::ordered_json sampling_json(const GenerationParams& params) {
    // Floats as the client wrote them (0.6, not 0.6000000238418579).
    auto decimal = [](float v) { return std::round(static_cast<double>(v) * 1e6) / 1e6; };
    return {{"temperature", decimal(params.sampling.temperature)},
            {"top_p", decimal(params.sampling.top_p)},
            {"seed", params.sampling.seed.value_or(0)}};
}

std::variant<std::vector<engine::Request>, ApiError> make_requests(const ServedModel& model, const Prompt& prompt,
                                                                   const GenerationParams& params,
                                                                   std::optional<engine::Clock::time_point> deadline,
                                                                   const ContextShift& shift) {
    const int64_t n_ctx = model.scheduler->options().n_ctx;
    const int64_t n_prompt = static_cast<int64_t>(prompt.tokens.size());
    if (n_prompt == 0) return bad_request("the prompt is empty", prompt.field);
    if (n_prompt >= n_ctx)
        return bad_request("the prompt is " + std::to_string(n_prompt) + " tokens; model \"" + model.id +
                               "\" takes at most " + std::to_string(n_ctx - 1) + " (the context is " +
                               std::to_string(n_ctx) + " tokens, --ctx-size)",
                           prompt.field, "context_length_exceeded");
    if (!shift.enabled && params.max_tokens > n_ctx - n_prompt)
        return bad_request("max_tokens " + std::to_string(params.max_tokens) +
                               " is more than the context has room for: " + std::to_string(n_ctx) +
                               " tokens of context - " + std::to_string(n_prompt) + " of prompt = " +
                               std::to_string(n_ctx - n_prompt) + " (sinan serve --context-shift on lets it go on)",
                           "max_tokens", "context_length_exceeded");
    sampling::SamplingParams sp = params.sampling;
    sp.n_logprobs = params.logprobs ? params.top_logprobs : 0;
    // What is left to check depends on the model (the ranges were checked when the request was
    // read): logit_bias's token ids against this vocabulary.
    if (Status s = sampling::validate(sp, model.tokenizer.n_vocab()); !s.is_ok())
        return bad_request(s.message(), s.message().rfind("logit_bias", 0) == 0 ? "logit_bias" : "");
    std::vector<engine::Request> out;
    for (int32_t i = 0; i < params.n; ++i) {
        engine::Request r;
        r.prompt = prompt.tokens;
        r.options.n_predict = params.max_tokens;
        r.options.sampling = sp;
        if (sp.seed) r.options.sampling.seed = *sp.seed + static_cast<uint64_t>(i);
        r.options.starts_in_reasoning = prompt.starts_in_reasoning;
        // The first choice scores the prompt; the others share its computed prompt (the scheduler's
        // in-flight prefix) and, in the route, its scores.
        r.score_prompt = params.score_prompt && i == 0;
        r.options.context_shift = shift.enabled;
        r.n_keep = shift.n_keep;
        r.max_reasoning_tokens = params.max_reasoning_tokens;
        r.deadline = deadline;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace sinan::api
