// generate(): one answer from a Session: sample, stream UTF-8-complete text, stop at an
// end-of-generation token, a stop string, the token limit or the full context. Used by `sinan run`.
// Reasoning models (DeepSeek-R1) think first: text between <think> and </think> is reported as
// reasoning (TextKind::kReasoning), the rest as the answer; the confidence score covers the
// answer's tokens only (the thinking is exploration, not the claim). The per-token rules live in
// OutputStream (output_stream.h), shared with the serving Scheduler.
// Not thread-safe; one call at a time per Session.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/session.h"
#include "sampling/confidence.h"
#include "sampling/sampling_params.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace sinan::engine {

enum class TextKind { kReasoning, kAnswer };
enum class FinishReason { kStop, kLength, kContext, kCancelled, kDeadline };
// "stop", "length", "context", "cancelled", "deadline".
std::string_view finish_reason_name(FinishReason reason);

// Whether a model thinks before it answers (DeepSeek-R1 and its distills): <think> and </think>
// in its vocabulary, or <think> in its chat template (null: none). Such a model is sampled at
// sampling::kReasoningTemperature and kReasoningTopP unless the user says otherwise.
bool is_reasoning_model(const text::Tokenizer& tokenizer, const text::ChatTemplate* chat_template);

struct GenerateOptions {
    int64_t n_predict = -1;  // -1: until end of generation or the context is full
    sampling::SamplingParams sampling;  // stop strings in sampling.stop
    bool starts_in_reasoning = false;   // the prompt ended with <think> (R1 chat templates do)
    bool context_shift = false;         // the session shifts a full context (Session::set_context_shift)
                                        // instead of ending with FinishReason::kContext
};

struct GenerateResult {
    int64_t n_prompt = 0;      // prompt tokens computed (not reused from the cache)
    int64_t n_generated = 0;
    double prompt_seconds = 0;
    double generate_seconds = 0;
    FinishReason finish = FinishReason::kStop;
    sampling::Confidence confidence;
    std::string text;          // the whole output, reasoning included (what was streamed)
    std::string answer;        // the answer part only (what a chat history keeps)
};

using TextCallback = std::function<void(TextKind kind, std::string_view text)>;

// Feeds `prompt` (reusing the session's cached prefix) and generates.
Result<GenerateResult> generate(Session& session, const text::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TextCallback& on_text);

}  // namespace sinan::engine
