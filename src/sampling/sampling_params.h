// SamplingParams: what one generation request asks of the sampler, with the OpenAI chat-completion
// defaults and meanings (docs/sampling.md has the full semantics and the order they apply in).
// `validate` checks a request before a Sampler is built from it; the API layer turns its Status
// into a 400. Plain value type: copy freely, no thread-safety concerns.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace sinan::sampling {

// OpenAI's limit on `top_logprobs`; TokenChoice holds this many alternatives inline.
inline constexpr int32_t kMaxLogprobs = 20;
// A logit bias at or below this bans the token outright (its logit becomes -inf), as OpenAI
// documents for -100; a bias between -100 and 100 is added to the logit.
inline constexpr float kBanBias = -100.0f;

// DeepSeek's recommended sampling for its R1 models (greedy decoding makes them repeat
// themselves): what `sinan serve` and `sinan run` sample a reasoning model with unless told
// otherwise (engine::is_reasoning_model).
inline constexpr float kReasoningTemperature = 0.6f;
inline constexpr float kReasoningTopP = 0.95f;

struct SamplingParams {
    float temperature = 1.0f;  // 0 = greedy (argmax, ties to the lowest id); otherwise logits / T
    int32_t top_k = 0;         // keep the k most likely tokens; 0 = off
    float top_p = 1.0f;        // keep the smallest most-likely prefix with mass >= top_p; 1 = off
    float min_p = 0.0f;        // keep tokens with p >= min_p * p_max; 0 = off

    // llama.cpp / CTRL repetition penalty over the last `penalty_last_n` tokens of the sequence
    // (prompt and generated): a positive logit is divided by it, a negative one multiplied. 1 = off.
    float repetition_penalty = 1.0f;
    int32_t penalty_last_n = 64;  // window of the repetition penalty; 0 = off

    // OpenAI penalties over the tokens generated so far (not the prompt), in [-2, 2]:
    // logit -= presence_penalty * (count > 0) + frequency_penalty * count.
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;

    std::map<int32_t, float> logit_bias;  // token -> bias in [-100, 100] added to its logit; -100 bans

    std::optional<uint64_t> seed;  // same seed + same logits = same tokens; none = a random seed
    int32_t n_logprobs = 0;        // top alternatives reported per token, 0..kMaxLogprobs

    std::vector<int32_t> stop_tokens;  // ends generation when sampled (EOS/EOT ids, from the caller)
    std::vector<std::string> stop;     // stop strings, matched over the streamed text (StopMatcher)
};

// Ok, or a one-line message naming the first field that is out of range and its allowed range.
// `n_vocab` bounds the token ids in logit_bias and stop_tokens.
Status validate(const SamplingParams& params, int32_t n_vocab);

}  // namespace sinan::sampling
