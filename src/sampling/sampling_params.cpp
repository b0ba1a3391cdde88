#include "sampling/sampling_params.h"

#include <cmath>
#include <string>

namespace sinan::sampling {
namespace {

bool in_range(float v, float lo, float hi) { return std::isfinite(v) && v >= lo && v <= hi; }

Status out_of_range(const std::string& field, float value, const std::string& range) {
    return Status::error(field + " is " + std::to_string(value) + ": use a value in " + range);
}

}  // namespace

Status validate(const SamplingParams& p, int32_t n_vocab) {
    SINAN_CHECK(n_vocab > 0, "validate: n_vocab must be positive");
    if (!in_range(p.temperature, 0.0f, 100.0f)) return out_of_range("temperature", p.temperature, "[0, 100]");
    if (p.top_k < 0) return out_of_range("top_k", static_cast<float>(p.top_k), "[0, n_vocab] (0 = off)");
    if (!(std::isfinite(p.top_p) && p.top_p > 0.0f && p.top_p <= 1.0f)) {
        return out_of_range("top_p", p.top_p, "(0, 1] (1 = off)");
    }
    if (!in_range(p.min_p, 0.0f, 1.0f)) return out_of_range("min_p", p.min_p, "[0, 1] (0 = off)");
    if (!(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0.0f)) {
        return out_of_range("repetition_penalty", p.repetition_penalty, "(0, inf) (1 = off)");
    }
    if (p.penalty_last_n < 0) {
        return out_of_range("penalty_last_n", static_cast<float>(p.penalty_last_n), "[0, n_ctx] (0 = off)");
    }
    if (!in_range(p.presence_penalty, -2.0f, 2.0f)) {
        return out_of_range("presence_penalty", p.presence_penalty, "[-2, 2]");
    }
    if (!in_range(p.frequency_penalty, -2.0f, 2.0f)) {
        return out_of_range("frequency_penalty", p.frequency_penalty, "[-2, 2]");
    }
    if (p.n_logprobs < 0 || p.n_logprobs > kMaxLogprobs) {
        return out_of_range("top_logprobs", static_cast<float>(p.n_logprobs), "[0, 20]");
    }
    int64_t n_banned = 0;
    for (const auto& [token, bias] : p.logit_bias) {
        if (token < 0 || token >= n_vocab) {
            return Status::error("logit_bias names token " + std::to_string(token) +
                                 ", outside this model's vocabulary [0, " + std::to_string(n_vocab) + ")");
        }
        if (!in_range(bias, -100.0f, 100.0f)) {
            return out_of_range("logit_bias[" + std::to_string(token) + "]", bias, "[-100, 100]");
        }
        if (bias <= kBanBias) ++n_banned;
    }
    if (n_banned >= n_vocab) return Status::error("logit_bias bans every token: leave at least one allowed");
    for (int32_t token : p.stop_tokens) {
        if (token < 0 || token >= n_vocab) {
            return Status::error("stop token " + std::to_string(token) + " is outside this model's vocabulary [0, " +
                                 std::to_string(n_vocab) + ")");
        }
    }
    for (const std::string& s : p.stop) {
        if (s.empty()) return Status::error("stop contains an empty string: remove it");
    }
    return Status::ok();
}

}  // namespace sinan::sampling
