#include "sampling/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "sampling/fast_exp.h"

namespace sinan::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr size_t kBlock = 1024;     // analyse(): float partial sums are flushed to double every block
constexpr size_t kDrawBlock = 256;  // draw(): weights are summed per block, then blocks are scanned

// The model distribution of one step: softmax(logits) summarised in one pass after the max.
struct Distribution {
    float max;
    double log_z;    // log sum_i exp(logit_i): logprob_i = logit_i - log_z
    double entropy;  // -sum_i p_i log p_i, nats
};

float max_of(std::span<const float> x) {
    using detail::F4;
    F4 m0 = detail::splat4(kNegInf);
    F4 m1 = m0;
    size_t i = 0;
    for (; i + 8 <= x.size(); i += 8) {
        const F4 a = detail::load4(&x[i]);
        const F4 b = detail::load4(&x[i + 4]);
        m0 = a > m0 ? a : m0;
        m1 = b > m1 ? b : m1;
    }
    m0 = m1 > m0 ? m1 : m0;
    float m = std::max(std::max(m0[0], m0[1]), std::max(m0[2], m0[3]));
    for (; i < x.size(); ++i) m = std::max(m, x[i]);
    return m;
}

Distribution analyse(std::span<const float> x) {
    // With d_i = x_i - max and w_i = exp(d_i): Z = sum w_i, log_z = max + log Z, and
    // H = -sum (w_i / Z)(d_i - log Z) = log Z - (sum w_i d_i) / Z. One exp per token.
    using detail::F4;
    const float m = max_of(x);
    const F4 vm = detail::splat4(m);
    const F4 zero = detail::splat4(0.0f);
    double z = 0.0;
    double s = 0.0;
    size_t i = 0;
    while (i + 8 <= x.size()) {
        // float lanes over one block, then into double: rounding stays at float epsilon per block
        F4 z0 = zero, z1 = zero, s0 = zero, s1 = zero;
        const size_t end = std::min(x.size(), i + kBlock);
        for (; i + 8 <= end; i += 8) {
            const F4 d0 = detail::load4(&x[i]) - vm;
            const F4 d1 = detail::load4(&x[i + 4]) - vm;
            const F4 w0 = detail::fast_exp4(d0);
            const F4 w1 = detail::fast_exp4(d1);
            z0 += w0;
            z1 += w1;
            s0 += w0 == 0.0f ? zero : w0 * d0;  // a banned token has d = -inf: 0 * -inf would be NaN
            s1 += w1 == 0.0f ? zero : w1 * d1;
        }
        z += detail::sum4(z0 + z1);
        s += detail::sum4(s0 + s1);
    }
    for (; i < x.size(); ++i) {
        const float d = x[i] - m;
        const float w = detail::fast_exp(d);
        z += w;
        s += w == 0.0f ? 0.0f : w * d;
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
      block_sums_(static_cast<size_t>(n_vocab) / kDrawBlock + 1) {
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
    // Weights exp((logit - max) / T), summed per block in vector lanes; the draw finds its block
    // from the block sums, then its token by a scan inside the block. The same code sums in the
    // same order everywhere, so a seed gives the same token on every platform.
    const std::span<const Candidate> items = candidates_.items();
    const size_t n = items.size();
    const std::span<const float> weights = candidates_.weights(params_.temperature);
    const size_t n_blocks = (n + kDrawBlock - 1) / kDrawBlock;
    double total = 0.0;
    for (size_t b = 0; b < n_blocks; ++b) {
        const size_t begin = b * kDrawBlock;
        block_sums_[b] = detail::sum_lanes(&weights[begin], std::min(n, begin + kDrawBlock) - begin);
        total += block_sums_[b];
    }

    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;  // uniform in [0, total)
    double cum = 0.0;
    size_t last = n;  // the last token with weight in the block where the draw lands
    for (size_t b = 0; b < n_blocks; ++b) {
        if (block_sums_[b] == 0.0f) continue;
        const size_t begin = b * kDrawBlock;
        const size_t end = std::min(n, begin + kDrawBlock);
        if (u >= cum + block_sums_[b] && b + 1 < n_blocks) {
            cum += block_sums_[b];
            continue;
        }
        double c = cum;
        for (size_t i = begin; i < end; ++i) {
            if (weights[i] == 0.0f) continue;
            c += weights[i];
            last = i;
            if (u < c) return items[i].token;
        }
        // The in-block scan rounded a hair below the block sum: the draw is this block's last token.
        if (last != n) return items[last].token;
    }
    // Only reachable when the final blocks all have weight 0: the last token that has weight.
    for (size_t i = n; i-- > 0;) {
        if (weights[i] > 0.0f) return items[i].token;
    }
    SINAN_CHECK(false, "Sampler::draw: no candidate has weight");
    return -1;
}

TokenChoice Sampler::sample(std::span<const float> logits) {
    SINAN_CHECK(logits.size() == static_cast<size_t>(n_vocab_), "Sampler::sample: logits must have n_vocab entries");
    std::copy(logits.begin(), logits.end(), logits_.begin());
    apply_bias_and_penalties();

    const Distribution dist = analyse(logits_);
    SINAN_CHECK(std::isfinite(dist.max),
                "Sampler::sample: no finite logit (the model produced NaN or -inf everywhere)");
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
