#include "engine/generate.h"

#include <chrono>

#include "engine/output_stream.h"
#include "sampling/sampler.h"

namespace sinan::engine {

bool is_reasoning_model(const text::Tokenizer& tokenizer, const text::ChatTemplate* chat_template) {
    const bool think_tokens =
        tokenizer.find_token("<think>").has_value() && tokenizer.find_token("</think>").has_value();
    return think_tokens || (chat_template && chat_template->source().find("<think>") != std::string::npos);
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::kStop: return "stop";
        case FinishReason::kLength: return "length";
        case FinishReason::kContext: return "context";
        case FinishReason::kCancelled: return "cancelled";
        case FinishReason::kDeadline: return "deadline";
    }
    return "unknown";
}

Result<GenerateResult> generate(Session& session, const text::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TextCallback& on_text) {
    GenerateResult r;
    Result<sampling::Sampler> sampler = sampling::Sampler::create(options.sampling, tokenizer.n_vocab());
    if (!sampler.ok()) return sampler.status();
    sampler->accept_prompt(prompt);

    auto t0 = std::chrono::steady_clock::now();
    SINAN_RETURN_IF_ERROR(session.set_prompt(prompt));
    r.n_prompt = static_cast<int64_t>(prompt.size()) - session.n_reused();
    r.prompt_seconds = seconds_since(t0);

    OutputStream out(tokenizer, options, prompt, /*max_reasoning_tokens=*/-1, on_text);
    t0 = std::chrono::steady_clock::now();
    r.finish = FinishReason::kLength;
    while (options.n_predict != 0) {
        Result<sampling::TokenChoice> sampled = sampler->sample(session.logits());
        if (!sampled.ok()) return sampled.status();
        const sampling::TokenChoice& choice = *sampled;
        sampler->accept(choice.token);
        if (const OutputStream::Step step = out.add(choice); step.finish) {
            r.finish = *step.finish;
            break;
        }
        if (!options.context_shift && session.tokens().size() >= static_cast<size_t>(session.n_ctx())) {
            r.finish = FinishReason::kContext;
            break;
        }
        SINAN_RETURN_IF_ERROR(session.append(choice.token));
    }
    out.finish();
    r.n_generated = out.n_generated();
    r.generate_seconds = seconds_since(t0);
    r.confidence = out.confidence();
    r.text = out.text();
    r.answer = out.answer();
    return r;
}

}  // namespace sinan::engine
