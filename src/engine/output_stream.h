// OutputStream: one sequence's generated tokens -> the text its client sees, and when the
// sequence ends. generate() (`sinan run`) and the Scheduler (`sinan serve`) both feed every token
// through one, so they end, split and cut text the same way.
//
// For each token, in order:
//   - an end-of-generation token or a sampling stop token ends the sequence (FinishReason::kStop);
//     it produces no text;
//   - <think> and </think> switch between reasoning and answer (the tag tokens produce no text;
//     held text of the part that ends is released first). A prompt whose last think tag is an
//     open <think> (R1 templates pre-fill "<think>\n") starts in reasoning, as does
//     GenerateOptions::starts_in_reasoning; a model that writes <think> itself enters it;
//   - other tokens are detokenized to UTF-8-complete text (text::StreamingDetokenizer) and cut at
//     stop strings (sampling::StopMatcher; reasoning and answer are matched apart). A stop string
//     ends the sequence (kStop);
//   - answer tokens feed the confidence score (the thinking is exploration, not the claim);
//   - at GenerateOptions::n_predict tokens the sequence ends (kLength).
// The context limit is the caller's (it knows the cache).
//
// Reasoning budget: with max_reasoning_tokens >= 0, once that many tokens were generated inside
// the reasoning, forced_token() names </think>: the caller takes it as the next token instead of
// sampling (and feeds it to the model), so the model continues with the answer.
//
// Text goes to the TextCallback as it completes; finish() releases what is held at the end.
// Not thread-safe; one per sequence. Keeps its own handle on the tokenizer's shared state.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "engine/generate.h"
#include "sampling/confidence.h"
#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"
#include "text/detokenizer.h"
#include "text/tokenizer.h"

namespace sinan::engine {

class OutputStream {
  public:
    // prompt: the tokens before the generation (only read here, to see whether it ends inside a
    // <think> block). max_reasoning_tokens < 0: no budget.
    OutputStream(const text::Tokenizer& tokenizer, const GenerateOptions& options, std::span<const int32_t> prompt,
                 int64_t max_reasoning_tokens, TextCallback on_text);

    // The token the caller must take next instead of sampling, or nullopt: </think> once the
    // reasoning budget is spent.
    std::optional<int32_t> forced_token() const;
    // A TokenChoice for a forced token: no probabilities (logprob 0, entropy 0, no alternatives).
    static sampling::TokenChoice forced_choice(int32_t token);

    struct Step {
        TextKind kind = TextKind::kAnswer;   // the part the token belongs to (think tags: reasoning)
        std::optional<FinishReason> finish;  // set: the sequence ends with this token (do not feed it)
    };
    // Takes the sequence's next token (sampled, or forced with forced_choice). Call only while no
    // Step has returned a finish.
    Step add(const sampling::TokenChoice& choice);

    // Ends the stream: releases held text (an unfinished character as U+FFFD, a tail that could
    // have begun a stop string). Idempotent.
    void finish();

    bool in_reasoning() const { return reasoning_; }
    int64_t n_generated() const { return n_generated_; }
    int64_t n_reasoning() const { return n_reasoning_; }   // tokens generated inside <think>
    const std::string& text() const { return text_; }      // everything streamed, reasoning included
    const std::string& answer() const { return answer_; }  // the answer part only
    sampling::Confidence confidence() const { return confidence_.confidence(); }

  private:
    void deliver(std::string_view text);
    void emit(std::string_view piece);
    void end_part();

    text::Tokenizer tokenizer_;  // a handle on shared, immutable state
    GenerateOptions options_;
    int64_t max_reasoning_tokens_;
    TextCallback on_text_;
    std::optional<int32_t> think_open_, think_close_;
    bool reasoning_;
    bool finished_ = false;
    int64_t n_generated_ = 0;
    int64_t n_reasoning_ = 0;
    text::StreamingDetokenizer detok_;
    sampling::StopMatcher stops_;
    sampling::ConfidenceTracker confidence_;
    std::string text_, answer_;
};

}  // namespace sinan::engine
