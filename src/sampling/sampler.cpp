#include "sampling/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "sampling/fast_exp.h"

namespace sinan::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr size_t kLanes = 8;       // independent accumulators: lets GCC vectorise the reductions
constexpr size_t kBlock = 1024;    // float partial sums are flushed to double every block

// The model distribution of one step: softmax(logits) summarised in one pass after the max.
struct Distribution {
    float max;
    double log_z;    // log sum_i exp(logit_i): logprob_i = logit_i - log_z
    double entropy;  // -sum_i p_i log p_i, nats
};

float max_of(std::span<const float> x) {
    float lane[kLanes];
    std::fill(lane, lane + kLanes, kNegInf);
    size_t i = 0;
    for (; i + kLanes <= x.size(); i += kLanes) {
        for (size_t j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    }
    float m = kNegInf;
    for (; i < x.size(); ++i) m = std::max(m, x[i]);
    for (float v : lane) m = std::max(m, v);
    return m;
}

Distribution analyse(std::span<const float> x) {
    // With d_i = x_i - max and w_i = exp(d_i): Z = sum w_i, log_z = max + log Z, and
    // H = -sum (w_i / Z)(d_i - log Z) = log Z - (sum w_i d_i) / Z. One exp per token.
    const float m = max_of(x);
    double z = 0.0;
    double s = 0.0;
    for (size_t b = 0; b < x.size(); b += kBlock) {
        const size_t end = std::min(x.size(), b + kBlock);
        float zl[kLanes] = {};
        float sl[kLanes] = {};
        size_t i = b;
        for (; i + kLanes <= end; i += kLanes) {
            for (size_t j = 0; j < kLanes; ++j) {
                const float d = x[i + j] - m;
                const float w = detail::fast_exp(d);
                zl[j] += w;
                sl[j] += w == 0.0f ? 0.0f : w * d;  // a banned token has d = -inf: 0 * -inf would be NaN
            }
        }
        for (; i < end; ++i) {
            const float d = x[i] - m;
            const float w = detail::fast_exp(d);
            zl[0] += w;
            sl[0] += w == 0.0f ? 0.0f : w * d;
        }
        for (size_t j = 0; j < kLanes; ++j) {
            z += zl[j];
            s += sl[j];
        }
    }
    const double log_sum = std::log(z);  // z >= 1: the max contributes exp(0)
    return {m, static_cast<double>(m) + log_sum, std::max(0.0, log_sum - s / z)};
}

// First index holding the max: greedy ties go to the lowest id.
int32_t first_index_of(std::span<const float> x, float value) {
    for (size_t i = 0; i < x.size(); ++i) {
        if (x[i] == value) return static_cast<int32_t>(i);
    }
    SINAN_CHECK(false, "first_index_of: value not present");
    return -1;
}

// The n best tokens (not banned), best first, into out[0, n). Returns how many were found.
int32_t top_n(std::span<const float> x, int32_t n, std::array<TokenLogprob, kMaxLogprobs>& out) {
    // Insertion into a short sorted array: after the first few hundred tokens almost every logit
    // fails the single comparison with the current n-th best.
    int32_t count = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const Candidate c{x[i], static_cast<int32_t>(i)};
        if (c.logit == kNegInf) continue;
        if (count == n && !ranks_before(c, {out[n - 1].logprob, out[n - 1].token})) continue;
        int32_t pos = count < n ? count++ : n - 1;
        while (pos > 0 && ranks_before(c, {out[pos - 1].logprob, out[pos - 1].token})) {
            out[pos] = out[pos - 1];
            --pos;
        }
        out[pos] = {c.token, c.logit};  // holds the logit until the caller subtracts log_z
    }
    return count;
}

uint64_t random_seed() {
    try {
        std::random_device device;
        return (static_cast<uint64_t>(device()) << 32) ^ device();
    } catch (...) {  // no entropy source: the clock is unpredictable enough for an unseeded request
        return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
}

}  // namespace

Result<Sampler> Sampler::create(const SamplingParams& params, int32_t n_vocab) {
    SINAN_RETURN_IF_ERROR(validate(params, n_vocab));
    return Sampler(params, n_vocab);
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params),
      n_vocab_(n_vocab),
      rng_(params.seed ? *params.seed : random_seed()),
      window_(static_cast<size_t>(params.penalty_last_n)),
      window_counts_(std::min<size_t>(window_.size(), 4096)),
      generated_counts_(1024),
      logits_(static_cast<size_t>(n_vocab)),
      weights_(static_cast<size_t>(n_vocab)) {
    biases_.reserve(params.logit_bias.size());
    for (const auto& [token, bias] : params.logit_bias) {
        biases_.push_back({token, bias <= kBanBias ? kNegInf : bias});
    }
    // Size the candidate buffer now so the first sample() does not allocate either.
    candidates_.reset(logits_);
}

void Sampler::push_window(int32_t token) {
    if (window_.empty()) return;
    if (window_size_ == window_.size()) {
        window_counts_.remove(window_[window_head_]);
    } else {
        ++window_size_;
    }
    window_[window_head_] = token;
    window_counts_.add(token);
    window_head_ = (window_head_ + 1) % window_.size();
}

void Sampler::accept(int32_t token) {
    SINAN_CHECK(token >= 0 && token < n_vocab_, "Sampler::accept: token outside the vocabulary");
    push_window(token);
    generated_counts_.add(token);
}

void Sampler::accept_prompt(std::span<const int32_t> tokens) {
    // Only the last penalty_last_n can still be in the window.
    const size_t skip = tokens.size() > window_.size() ? tokens.size() - window_.size() : 0;
    for (int32_t token : tokens.subspan(skip)) {
        SINAN_CHECK(token >= 0 && token < n_vocab_, "Sampler::accept_prompt: token outside the vocabulary");
        push_window(token);
    }
}

bool Sampler::is_stop_token(int32_t token) const {
    return std::find(params_.stop_tokens.begin(), params_.stop_tokens.end(), token) != params_.stop_tokens.end();
}

void Sampler::apply_bias_and_penalties() {
    for (const Bias& b : biases_) logits_[static_cast<size_t>(b.token)] += b.bias;

    const float rp = params_.repetition_penalty;
    if (rp != 1.0f) {
        for (const detail::TokenCount& e : window_counts_.entries()) {
            float& l = logits_[static_cast<size_t>(e.token)];
            l = l <= 0.0f ? l * rp : l / rp;  // CTRL: always towards "less likely" for rp > 1
        }
    }
    const float presence = params_.presence_penalty;
    const float frequency = params_.frequency_penalty;
    if (presence != 0.0f || frequency != 0.0f) {
        for (const detail::TokenCount& e : generated_counts_.entries()) {
            logits_[static_cast<size_t>(e.token)] -= presence + frequency * static_cast<float>(e.count);
        }
    }
}

int32_t Sampler::draw() {
    const std::span<const Candidate> items = candidates_.items();
    const float m = candidates_.max_logit();
    const float inv_t = 1.0f / params_.temperature;
    for (size_t i = 0; i < items.size(); ++i) weights_[i] = detail::fast_exp((items[i].logit - m) * inv_t);
    double total = 0.0;
    for (size_t i = 0; i < items.size(); ++i) total += weights_[i];

    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;  // uniform in [0, total)
    double cum = 0.0;
    for (size_t i = 0; i < items.size(); ++i) {
        cum += weights_[i];
        if (u < cum) return items[i].token;
    }
    // u rounded up to total: the last token that can be drawn at all.
    for (size_t i = items.size(); i-- > 0;) {
        if (weights_[i] > 0.0f) return items[i].token;
    }
    SINAN_CHECK(false, "Sampler::draw: no candidate has weight");
    return -1;
}

TokenChoice Sampler::sample(std::span<const float> logits) {
    SINAN_CHECK(logits.size() == static_cast<size_t>(n_vocab_), "Sampler::sample: logits must have n_vocab entries");
    std::copy(logits.begin(), logits.end(), logits_.begin());
    apply_bias_and_penalties();

    const Distribution dist = analyse(logits_);
    TokenChoice choice;
    if (params_.temperature == 0.0f) {
        choice.token = first_index_of(logits_, dist.max);
    } else {
        candidates_.reset(logits_);
        candidates_.keep_top_k(params_.top_k);
        candidates_.keep_top_p(params_.top_p);
        candidates_.keep_min_p(params_.min_p);
        choice.token = draw();
    }
    choice.logprob = static_cast<float>(logits_[static_cast<size_t>(choice.token)] - dist.log_z);
    choice.entropy = static_cast<float>(dist.entropy);
    choice.is_stop = is_stop_token(choice.token);
    if (params_.n_logprobs > 0) {
        choice.n_top = top_n(logits_, params_.n_logprobs, choice.top);
        for (int32_t i = 0; i < choice.n_top; ++i) {
            choice.top[i].logprob = static_cast<float>(choice.top[i].logprob - dist.log_z);
        }
    }
    return choice;
}

}  // namespace sinan::sampling
