// Generation: the n scheduler requests of one API call, submitted together and read together.
// start() submits them all (any refusal cancels the ones already queued and becomes an ApiError:
// 400 invalid, 503 + Retry-After for a full queue or a draining server); run() pumps their events
// to a callback until every one has finished; collect() gathers them into ChoiceResults for a
// non-streaming answer. Destroying a Generation cancels whatever is still running, so a route that
// returns early (client gone, write failed) frees its slots.
// One thread uses a Generation at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/api_error.h"
#include "engine/scheduler.h"

namespace sinan::api {

// One choice, finished.
struct ChoiceResult {
    std::string reasoning, answer;
    std::vector<engine::TokenInfo> answer_tokens;  // the answer's tokens, for logprobs
    std::vector<sampling::TokenChoice> prompt_scores;  // engine::Request::score_prompt: prompt tokens 1 .. n - 1
    engine::GenerateResult result;                 // n_generated, timings, finish, confidence
    // Tokens seen in text events so far: what a choice generated when its client went away before
    // the end (result is then never filled), for the token accounting.
    int64_t n_tokens_received = 0;
    int64_t n_cached = 0;
    double queue_seconds = 0, first_token_seconds = 0;
    bool failed = false;
    std::string error;  // when failed
};

class Generation {
  public:
    static std::variant<Generation, ApiError> start(engine::Scheduler& scheduler,
                                                    std::vector<engine::Request> requests);
    Generation(Generation&&) = default;
    Generation& operator=(Generation&&) = default;
    ~Generation() { cancel(); }

    size_t size() const { return handles_.size(); }

    // Text of every choice wakes run() at most once per `interval` (RequestHandle::
    // set_text_interval): a stream of a fast model sends a few tokens a write instead of one.
    void pace_text(std::chrono::microseconds interval);

    // Calls on_event(choice index, event) for every event until all choices are finished.
    // When nothing arrives for `idle`, calls on_idle(); either callback returning false cancels
    // every choice and makes run() return false.
    bool run(const std::function<bool(size_t, engine::Event&)>& on_event, const std::function<bool()>& on_idle,
             std::chrono::milliseconds idle = std::chrono::milliseconds(1000));

    // Runs to the end and gathers each choice.
    std::vector<ChoiceResult> collect();

    void cancel();

  private:
    explicit Generation(std::vector<std::shared_ptr<engine::RequestHandle>> handles) : handles_(std::move(handles)) {}
    std::vector<std::shared_ptr<engine::RequestHandle>> handles_;
    std::vector<bool> done_;
};

// The error to answer when a choice failed (500 for a failed forward pass, 503 + Retry-After when
// the server was shutting down), or nothing.
std::optional<ApiError> failure_of(const std::vector<ChoiceResult>& choices);

// Folds one event into a choice (text by kind, answer tokens, the final summary).
void accumulate(ChoiceResult& choice, const engine::Event& event);

}  // namespace sinan::api
