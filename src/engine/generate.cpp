#include "engine/generate.h"

#include <chrono>

#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"
#include "text/detokenizer.h"

namespace sinan::engine {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

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

    const std::optional<int32_t> think_open = tokenizer.find_token("<think>");
    const std::optional<int32_t> think_close = tokenizer.find_token("</think>");
    bool reasoning = options.starts_in_reasoning;
    text::StreamingDetokenizer detok(tokenizer, /*skip_special=*/true, /*continues_text=*/true);
    sampling::StopMatcher stops(options.sampling.stop);
    sampling::ConfidenceTracker confidence(tokenizer.n_vocab());
    auto deliver = [&](std::string_view text) {
        if (text.empty()) return;
        r.text.append(text);
        if (!reasoning) r.answer.append(text);
        on_text(reasoning ? TextKind::kReasoning : TextKind::kAnswer, text);
    };
    auto emit = [&](std::string_view piece) {
        if (!piece.empty()) deliver(stops.feed(piece).text);
    };

    t0 = std::chrono::steady_clock::now();
    r.finish = FinishReason::kLength;
    while (options.n_predict < 0 || r.n_generated < options.n_predict) {
        const sampling::TokenChoice choice = sampler->sample(session.logits());
        const int32_t token = choice.token;
        sampler->accept(token);
        ++r.n_generated;
        if (tokenizer.is_eog(token) || choice.is_stop) {
            r.finish = FinishReason::kStop;
            break;
        }
        if ((think_open && token == *think_open) || (think_close && token == *think_close)) {
            emit(detok.flush());
            deliver(stops.finish());  // thinking and answer are matched for stop strings apart
            stops = sampling::StopMatcher(options.sampling.stop);
            reasoning = think_open && token == *think_open;
        } else {
            if (!reasoning) confidence.add(choice);
            emit(detok.push(token));
            if (stops.stopped()) {
                r.finish = FinishReason::kStop;
                break;
            }
        }
        if (options.n_predict >= 0 && r.n_generated >= options.n_predict) break;
        if (session.tokens().size() >= static_cast<size_t>(session.n_ctx())) {
            r.finish = FinishReason::kContext;
            break;
        }
        SINAN_RETURN_IF_ERROR(session.append(token));
    }
    emit(detok.flush());
    deliver(stops.finish());
    r.generate_seconds = seconds_since(t0);
    r.confidence = confidence.confidence();
    return r;
}

}  // namespace sinan::engine
