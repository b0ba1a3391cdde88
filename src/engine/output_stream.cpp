#include "engine/output_stream.h"

#include <utility>

namespace sinan::engine {

namespace {

// Whether the last think tag in `prompt` is an open one (generation continues inside <think>).
bool ends_inside_think(std::span<const int32_t> prompt, std::optional<int32_t> open, std::optional<int32_t> close) {
    for (size_t i = prompt.size(); i-- > 0;) {
        if (open && prompt[i] == *open) return true;
        if (close && prompt[i] == *close) return false;
    }
    return false;
}

}  // namespace

OutputStream::OutputStream(const text::Tokenizer& tokenizer, const GenerateOptions& options,
                           std::span<const int32_t> prompt, int64_t max_reasoning_tokens, TextCallback on_text)
    : tokenizer_(tokenizer),
      options_(options),
      max_reasoning_tokens_(max_reasoning_tokens),
      on_text_(std::move(on_text)),
      think_open_(tokenizer.find_token("<think>")),
      think_close_(tokenizer.find_token("</think>")),
      reasoning_(options.starts_in_reasoning || ends_inside_think(prompt, think_open_, think_close_)),
      detok_(tokenizer, /*skip_special=*/true, /*continues_text=*/true),
      stops_(options.sampling.stop),
      confidence_(tokenizer.n_vocab()) {}

std::optional<int32_t> OutputStream::forced_token() const {
    if (reasoning_ && think_close_ && max_reasoning_tokens_ >= 0 && n_reasoning_ >= max_reasoning_tokens_)
        return think_close_;
    return std::nullopt;
}

sampling::TokenChoice OutputStream::forced_choice(int32_t token) {
    sampling::TokenChoice c;
    c.token = token;
    return c;
}

void OutputStream::deliver(std::string_view text) {
    if (text.empty()) return;
    text_.append(text);
    if (!reasoning_) answer_.append(text);
    on_text_(reasoning_ ? TextKind::kReasoning : TextKind::kAnswer, text);
}

void OutputStream::emit(std::string_view piece) {
    if (!piece.empty()) deliver(stops_.feed(piece).text);
}

// Releases everything held for the part that ends (thinking and answer are matched apart).
void OutputStream::end_part() {
    emit(detok_.flush());
    deliver(stops_.finish());
}

OutputStream::Step OutputStream::add(const sampling::TokenChoice& choice) {
    const int32_t token = choice.token;
    ++n_generated_;
    Step step;
    step.kind = reasoning_ ? TextKind::kReasoning : TextKind::kAnswer;
    if (tokenizer_.is_eog(token) || choice.is_stop) {
        step.finish = FinishReason::kStop;
        return step;
    }
    const bool opens = think_open_ && token == *think_open_;
    if (opens || (think_close_ && token == *think_close_)) {
        end_part();
        stops_ = sampling::StopMatcher(options_.sampling.stop);
        reasoning_ = opens;
        step.kind = TextKind::kReasoning;
    } else {
        if (reasoning_)
            ++n_reasoning_;
        else
            confidence_.add(choice);
        emit(detok_.push(token));
        if (stops_.stopped()) step.finish = FinishReason::kStop;
    }
    if (!step.finish && options_.n_predict >= 0 && n_generated_ >= options_.n_predict)
        step.finish = FinishReason::kLength;
    return step;
}

void OutputStream::finish() {
    if (finished_) return;
    finished_ = true;
    end_part();
}

}  // namespace sinan::engine
