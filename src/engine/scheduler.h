// Scheduler: the serving engine. Many requests share one model and one KV cache; every step runs
// one forward pass over a batch made of every running sequence's next token (decode) plus chunks
// of waiting prompts (chunked prefill), so a new request joins within one step and the batch size
// follows the load (continuous batching).
//
// Life of a request:
//   submit() -> waiting queue (bounded; beyond it submit fails with kQueueFull: the API answers
//   503 + Retry-After) -> admitted to a slot when a slot is free and the KV cache can hold its
//   prompt + max new tokens, at most n_ctx (cells are reserved at admission, so a running sequence
//   never runs out of cache) -> prefilled in chunks of at most n_batch tokens per step, decode
//   tokens first, and while sequences decode only as many prompt tokens as take about
//   prompt_step_seconds (prompt_chunk), so a long prompt does not stall the streams -> decoded one
//   token per step (with context shift, the sequence's oldest tokens
//   after its kept start are dropped when it fills n_ctx; see Request) -> finished (stop,
//   length, context, cancelled, deadline).
//   Admission is first come, first served: no request can starve another.
//
// Prefix cache: a finished sequence's KV stays in the cache (an idle slot) until its cells are
// needed. A new request takes the longest common token prefix found in any slot, running or
// idle, by sharing those cells (KvCache::seq_cp, no copy) and computes only the rest. When a
// running request is still prefilling a longer common prefix (requests with one system prompt
// arriving together), the new one waits for those cells instead of computing them again. Idle
// slots are evicted least recently used first when admission needs cells.
//
// Sliding-window attention (the model's Hparams::n_swa = W > 0): a sequence keeps only the cells of
// its last W positions (older ones are dropped after every step, as engine::Session does), so it
// never holds more than W + n_batch cells however long it runs. Admission then counts, instead of
// cells reserved per token, each running sequence's most cells: min(prompt + max new tokens,
// W + n_batch); a request is admitted while those sum to at most n_cells, and idle slots are evicted
// when a step needs their cells. A prefix is reused only when its holder still has the positions the
// new sequence's first token sees (the last W - 1 before it); n_ctx then bounds positions, not memory.
//
// Samplers: each slot's is made when the scheduler is (n_parallel x about 20 bytes per vocabulary
// entry, 3 MiB each at 152k), and an ended request's is restarted for the next one, so admission
// allocates none (SchedulerStats::samplers counts those made).
//
// Output: the engine thread never blocks on a client. Each request's events go into its
// RequestHandle's own queue; the API thread reads them with next(). A client that goes away
// calls cancel(): the slot is freed at the next step.
//
// Threads: one engine thread per Scheduler runs the loop (forward passes use the model's thread
// pool). submit(), stats() and every RequestHandle method are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "engine/generate.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "text/tokenizer.h"

namespace sinan::engine {

// Out-of-range values are brought into range by the constructor (options() returns what is used):
// n_parallel to [1, KvCache::kMaxSequences], n_batch to at least n_parallel (every running sequence
// decodes every step), n_ctx to at most n_cells (with a window: n_cells must hold one sequence's
// min(n_ctx, W + n_batch) cells, else n_ctx is cut to n_cells).
struct SchedulerOptions {
    int32_t n_parallel = 4;  // sequences running at once (slots); at most KvCache::kMaxSequences
    int64_t n_ctx = 4096;    // most tokens one sequence holds (prompt + generated)
    int64_t n_cells = 0;     // KV cells shared by all sequences; 0 = n_parallel full sequences: n_ctx * n_parallel,
                             // with a window min(n_ctx, W + n_batch) * n_parallel
    int64_t n_batch = 512;   // most tokens in one forward step
    int32_t max_queue = 64;  // most requests waiting for a slot; more are refused (kQueueFull)
    gguf::TensorType kv_type = gguf::TensorType::F16;  // KV cache type; Model::check_kv_type must accept it
    // While sequences decode, every step holds each of them up for as long as it takes: a step
    // then takes only the prompt tokens the engine computes in about this long (prompt_chunk),
    // from its measured seconds per token. 0: up to n_batch, as when nothing decodes.
    double prompt_step_seconds = 0.25;
};

// A step's prompt chunks read in one forward pass at least this many tokens (while the budget
// allows): the batched kernels and the reference's tiled attention (model/attention.h) start there.
inline constexpr int64_t kMinPromptChunk = 64;

// Most prompt tokens one step takes beside n_decode decode tokens, by the options'
// n_batch and prompt_step_seconds, with the engine's measured seconds per token (0: not measured
// yet, no time budget): n_batch - n_decode, and while n_decode > 0 at most
// max(kMinPromptChunk, prompt_step_seconds / seconds_per_token).
int64_t prompt_chunk(const SchedulerOptions& o, int64_t n_decode, double seconds_per_token);

using Clock = std::chrono::steady_clock;

struct Request {
    std::vector<int32_t> prompt;  // non-empty, at most n_ctx - 1 tokens
    // n_predict -1: until end of generation or n_ctx; otherwise >= 1 (beyond n_ctx - prompt only
    // with context shift; else the sequence ends at n_ctx). A prompt whose last think tag is
    // <think> starts in the reasoning even without starts_in_reasoning (OutputStream).
    //
    // options.context_shift (as engine::Session's): when the sequence fills n_ctx, its first n_keep
    // tokens stay, the older half of the tokens after them is dropped, and the newer half moves
    // down to follow them (keys re-rotated by Model::shift_keys), so generation goes on up to
    // n_predict. Only a request with a token limit (n_predict >= 1) shifts: with n_predict -1 it
    // still ends at n_ctx. Cells shared with another sequence (the prefix cache) are never moved
    // under it: the sequence leaves the shared cells it drops and takes copies of the shared cells
    // it moves (KvCache::seq_unshare), evicting idle slots for room; when even that leaves too few
    // free cells, it ends with FinishReason::kContext as without shift. After a shift its cells
    // past n_keep no longer equal a fresh computation of its tokens, so the prefix cache reuses
    // only its first n_keep tokens from then on.
    GenerateOptions options;
    int64_t n_keep = -1;                // context shift: tokens kept at the start; -1 = the prompt, at most n_ctx / 2
    int64_t max_reasoning_tokens = -1;  // >= 0: after this many reasoning tokens, </think> is forced
    std::optional<Clock::time_point> deadline;  // passed: finishes with FinishReason::kDeadline
    // Every prompt token after the first is scored: its logprob given the tokens before it, with
    // options.sampling.n_logprobs alternatives (sampling::Sampler::score: the model's own
    // distribution, no bias or penalty), in Event::prompt_scores. Such a request computes its
    // whole prompt (it takes no prefix from the prefix cache) and at most kScoredPromptChunk of
    // its prompt tokens a step (each needs a row of logits).
    bool score_prompt = false;
};

// Most prompt tokens of a Request::score_prompt request in one step: 64 rows of logits (39 MB at
// 151,936 tokens).
inline constexpr int64_t kScoredPromptChunk = 64;

// One sampled token with what the API reports for logprobs.
struct TokenInfo {
    int32_t token = -1;
    std::string piece;  // the token's raw bytes (may be part of a UTF-8 character)
    TextKind kind = TextKind::kAnswer;
    sampling::TokenChoice choice;  // logprob, entropy, top alternatives (n_top = sampling.n_logprobs)
    bool forced = false;           // not sampled: </think> forced by the reasoning budget (choice has no probabilities)
};

struct Event {
    enum class Type { kText, kFinished, kFailed };
    Type type = Type::kText;
    // kText: UTF-8-complete text of one kind (reasoning or answer), stop strings already cut, and
    // the tokens sampled since the previous kText event (text may lag tokens by a partial
    // character or a held-back possible stop string, so text may be empty; every token appears
    // in exactly one event). Usually one event per token per step.
    // End-of-generation and stop tokens appear in tokens but produce no text; think tags appear
    // with kind kReasoning and produce no text.
    TextKind kind = TextKind::kAnswer;
    std::string text;
    std::vector<TokenInfo> tokens;
    // Request::score_prompt: the scores of prompt tokens 1 .. n - 1 (prompt_scores[i].token is
    // prompt token i + 1), in the request's first kText event (sent when its first token is taken).
    std::vector<sampling::TokenChoice> prompt_scores;
    // kFinished: the summary (n_prompt = prompt tokens computed, n_cached = reused from the prefix
    // cache, timings, finish reason, confidence, whole text and answer). prompt_seconds: admitted
    // -> prompt computed; generate_seconds: prompt computed -> finished. A request that ends while
    // still queued (cancelled, deadline) gets a kFinished with n_generated 0.
    // Events of one step are delivered after stats() counts that step.
    GenerateResult result;
    int64_t n_cached = 0;
    int64_t n_shifted = 0;           // tokens dropped by context shift
    double queue_seconds = 0;        // submit -> admitted
    double first_token_seconds = 0;  // submit -> first token sampled (time to first token)
    // kFailed: why (the model's forward pass failed); the request is over.
    Status error;
};

class RequestHandle {
  public:
    // Waits up to `timeout` for the next event. False on timeout. After kFinished or kFailed
    // there are no more events (next() returns false at once).
    bool next(Event* out, std::chrono::milliseconds timeout);
    // Whether a kText event ends a waiting next() (the default). Off, next() waits for the
    // request's end (kFinished or kFailed) or the timeout, then hands out what has arrived, in
    // order: for a consumer that needs only the whole result (a response that is not streamed),
    // whose thread the engine then does not wake once per token.
    void set_text_wakeups(bool on);
    // The least time between two text wake-ups (default 0: every text event wakes a waiting
    // next()). After next() hands out a kText event, text that arrives within `interval` wakes no
    // one: a next() waiting then returns at the interval's end with what has come (or later, at
    // the first event after it), and one whose timeout ends first returns false, the text still
    // queued. The request's end wakes at once, and next() with timeout 0 hands out what is
    // queued. For a streaming consumer of a fast model: its thread is woken once per interval
    // instead of once per token (8 streams of 1,000 tokens/s each are 8,000 wake-ups a second, on
    // the CPUs the forward passes use).
    void set_text_interval(std::chrono::microseconds interval);
    // Ends the request at the next step (FinishReason::kCancelled); idempotent, thread-safe.
    void cancel();
    bool cancelled() const { return cancelled_.load(); }
    uint64_t id() const { return id_; }

  private:
    friend class Scheduler;
    explicit RequestHandle(uint64_t id) : id_(id) {}
    void push(Event e);

    uint64_t id_;
    std::atomic<bool> cancelled_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Event> events_;
    bool closed_ = false;                                       // a kFinished/kFailed was pushed
    bool text_wakeups_ = true;                                  // set_text_wakeups
    std::chrono::microseconds text_interval_{0};                // set_text_interval
    std::chrono::steady_clock::time_point text_quiet_until_{};  // text arriving before then wakes no one
};

struct SchedulerStats {
    int32_t running = 0;  // sequences in slots (prefilling or decoding)
    int32_t waiting = 0;  // requests in the queue
    int64_t kv_cells_used = 0, kv_cells = 0;
    uint64_t prompt_tokens = 0;     // computed, all time
    uint64_t cached_tokens = 0;     // reused from the prefix cache, all time
    uint64_t generated_tokens = 0;  // all time
    uint64_t steps = 0;             // forward passes, all time
    uint64_t prompt_steps = 0;      // forward passes that carried prompt tokens, all time
    uint64_t samplers = 0;          // samplers made, all time: one per slot at start, later only
                                    // when no ended request's is free to restart
    // Where the engine thread's steps go, all time: forward passes, and sampling their tokens (on
    // the model's pool, after each pass). The rest of a step (admission, streaming the text) is
    // what the engine adds beyond these.
    double forward_seconds = 0;
    double sampling_seconds = 0;
};

class Scheduler {
  public:
    enum class SubmitError { kInvalid, kQueueFull, kShuttingDown };
    struct Submitted {
        std::shared_ptr<RequestHandle> handle;  // null on error
        SubmitError error = SubmitError::kInvalid;
        std::string message;  // on error: one line naming the field (kInvalid) or the limit
    };

    // The model and tokenizer must outlive the scheduler. Starts the engine thread.
    Scheduler(model::Model& model, const text::Tokenizer& tokenizer, const SchedulerOptions& options);
    // Stops the engine thread; requests still queued or running end with kFailed ("shutting down").
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Checks the request (prompt length against n_ctx, sampling params) and queues it.
    Submitted submit(Request request);

    // Stops admitting (submit returns kShuttingDown), waits up to `grace` for queued and running
    // requests to finish, then cancels what is left. For SIGTERM.
    void drain(std::chrono::milliseconds grace);

    SchedulerStats stats() const;
    const SchedulerOptions& options() const { return options_; }
    // The model runs one forward pass at a time and the engine thread uses it: do not run
    // forward passes on it while the scheduler exists.
    model::Model& model() { return model_; }
    const text::Tokenizer& tokenizer() const { return tokenizer_; }

  private:
    struct Impl;
    void loop();

    model::Model& model_;
    const text::Tokenizer& tokenizer_;
    SchedulerOptions options_;
    std::unique_ptr<Impl> impl_;
    std::thread thread_;
};

}  // namespace sinan::engine
