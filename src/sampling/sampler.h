// Sampler: turns one sequence's logits into its next token, with OpenAI-style log-probabilities.
// One Sampler per sequence; the engine keeps it for the sequence's lifetime.
//
// The chain (llama.cpp's default order; docs/sampling.md explains each step):
//   logit bias -> repetition penalty -> presence/frequency penalties      (the "model distribution")
//   -> top-k -> top-p -> min-p -> temperature -> draw                     (how the token is chosen)
// temperature == 0 skips the second line and takes the argmax (ties to the lowest id).
//
// Log-probabilities are log-softmax of the logits after bias and penalties, before truncation
// and temperature: the distribution the request's model assigns, which is what OpenAI reports,
// and independent of how adventurous the sampling settings are. The entropy in TokenChoice is of
// the same distribution (ConfidenceTracker uses it).
//
// Determinism: the RNG is std::mt19937_64 seeded with params.seed (the standard fixes its output
// sequence), and the uniform draw is computed here (top 53 bits / 2^53), never with
// std::uniform_real_distribution, whose output differs between standard libraries. Each sample()
// with temperature > 0 consumes exactly CandidateList::kDrawUniforms (33) 64-bit draws, whether
// the draw uses them all or not (CandidateList::draw_proposed). Same seed + same logits + same
// accepted tokens = same tokens, on any platform with IEEE float.
//
// Memory: create() sizes every buffer to n_vocab (about 20 bytes per vocabulary entry, 3 MiB for
// 151936); sample() allocates nothing after that, and restart() reuses them for the next sequence
// (an engine that keeps finished samplers spares each request the allocation and the first touch
// of those pages). Cost per sample(): a few vector passes over the logits (vector_passes.h:
// AVX-512 or AVX2 where the CPU has it): the max and one softmax pass, for greedy the argmax; with
// temperature top-p's sums of mass by distance below the best logit and the draw (proposals from
// the softmax pass's weights up to temperature 1, an exp pass above it), or O(n_vocab log k) for
// top-k. The logits are copied only when a bias or penalty changes them (sample_in_place: not
// even then); penalties visit the distinct recent tokens only; the top-N scan skips, 16 at a
// time, logits below its current N-th.
// Thread-safety: none; one thread uses a Sampler at a time. Samplers are independent, so many
// sequences can be sampled in parallel, one Sampler each.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "base/status.h"
#include "sampling/candidates.h"
#include "sampling/sampling_params.h"
#include "sampling/token_counts.h"

namespace sinan::sampling {

struct TokenLogprob {
    int32_t token;
    float logprob;  // natural log
};

// What sample() chose. Self-contained (no views into the sampler): safe to keep.
struct TokenChoice {
    int32_t token = -1;
    float logprob = 0.0f;                          // log p(token) under the model distribution (see the header comment)
    float entropy = 0.0f;                          // entropy of that distribution in nats, in [0, log n_vocab]
    bool is_stop = false;                          // token is one of params.stop_tokens
    int32_t n_top = 0;                             // params.n_logprobs, or fewer when fewer tokens are not banned
    std::array<TokenLogprob, kMaxLogprobs> top{};  // most likely first; ties to the lower id

    std::span<const TokenLogprob> top_logprobs() const { return {top.data(), static_cast<size_t>(n_top)}; }
};

class Sampler {
  public:
    // Fails when validate(params, n_vocab) does.
    static Result<Sampler> create(const SamplingParams& params, int32_t n_vocab);
    // Starts a new sequence with `params`: afterwards the sampler is what create(params, n_vocab())
    // gives, but its vocabulary-sized buffers are kept (only the small per-sequence tables are
    // made anew). Fails when validate(params, n_vocab()) does, and the sampler is unchanged then.
    Status restart(const SamplingParams& params);

    // logits: [n_vocab], read once and not kept. -inf is a token the model rules out; NaN and
    // +inf (a broken model's numbers: NaN weights, an overflow) count as -inf too. Fails, with a
    // message for the user, when no logit is finite. Does not record the token: call accept()
    // with the token the sequence actually takes (usually the one returned).
    Result<TokenChoice> sample(std::span<const float> logits);
    // sample() for a caller whose logits are scratch (the engine's rows, read by nothing after):
    // a bias or penalty is applied to them in place instead of to a copy (608 KB a token at 152k
    // tokens), so their values afterwards are unspecified. The same choice, log-probabilities and
    // draws as sample(logits) gives.
    Result<TokenChoice> sample_in_place(std::span<float> logits);

    // The model's own distribution at one position of a prompt: `token`'s logprob under
    // log-softmax(logits), with the entropy and params.n_logprobs top alternatives, as sample()
    // reports them, but with no bias or penalty (a prompt is scored as the model sees it) and
    // nothing drawn or recorded. A NaN or +inf logit counts as -inf (such a token's logprob is
    // -inf); fails, as sample() does, when no logit is finite.
    Result<TokenChoice> score(std::span<const float> logits, int32_t token);
    // Records a generated token: enters the repetition window and the presence/frequency counts.
    void accept(int32_t token);
    // Records prompt tokens: they enter the repetition window only (OpenAI's presence/frequency
    // penalties count generated tokens only).
    void accept_prompt(std::span<const int32_t> tokens);

    bool is_stop_token(int32_t token) const;
    const SamplingParams& params() const { return params_; }
    int32_t n_vocab() const { return n_vocab_; }

  private:
    // logits, candidates: the buffers to use (empty ones are sized to n_vocab).
    Sampler(const SamplingParams& params, int32_t n_vocab, std::vector<float> logits, CandidateList candidates);
    void push_window(int32_t token);
    // The bias and penalties applied to `logits` written to `out` (logits itself, or logits_);
    // false, and out untouched, when none applies.
    bool apply_bias_and_penalties(std::span<const float> logits, std::span<float> out);
    // sample()'s choice from the model distribution's logits (bias and penalties applied).
    Result<TokenChoice> sample_model(std::span<const float> model);
    // `model` with its NaN and +inf logits set to -inf, in logits_.
    std::span<const float> without_broken_logits(std::span<const float> model);
    // candidates_ over *model (the max and the softmax sums; with the unit weights where a
    // truncation step or a draw follows), *model moved to without_broken_logits' copy when it
    // holds NaN or +inf; fails when no logit is finite.
    Status reset_candidates(std::span<const float>* model, bool draw);

    struct Bias {
        int32_t token;
        float bias;  // -inf for a ban
    };

    SamplingParams params_;
    int32_t n_vocab_;
    std::mt19937_64 rng_;
    std::vector<Bias> biases_;  // logit_bias, flattened once

    // Repetition window: ring buffer of the last penalty_last_n tokens and their counts.
    std::vector<int32_t> window_;  // [penalty_last_n]
    size_t window_head_ = 0;       // next slot to write
    size_t window_size_ = 0;
    detail::TokenCounts window_counts_;
    detail::TokenCounts generated_counts_;

    std::vector<float> logits_;  // [n_vocab] working copy: bias and penalties applied
    CandidateList candidates_;
};

}  // namespace sinan::sampling
