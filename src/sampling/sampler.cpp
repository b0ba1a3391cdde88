#include "sampling/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "sampling/vector_passes.h"

namespace sinan::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The model distribution of one step: softmax(logits) summarised in one pass after the max.
struct Distribution {
    float max;
    double log_z;    // log sum_i exp(logit_i): logprob_i = logit_i - log_z
    double entropy;  // -sum_i p_i log p_i, nats
};

Distribution analyse(const CandidateList& candidates) {
    // With d_i = x_i - max and w_i = exp(d_i): Z = sum w_i, log_z = max + log Z, and
    // H = -sum (w_i / Z)(d_i - log Z) = log Z - (sum w_i d_i) / Z.
    const float m = candidates.max_logit();
    const SoftmaxSums& sums = candidates.softmax();
    const double log_sum = std::log(sums.z);  // z >= 1: the max contributes exp(0)
    return {m, static_cast<double>(m) + log_sum, std::max(0.0, log_sum - sums.s / sums.z)};
}

// The n best tokens (not banned), best first, into out[0, n). Returns how many were found.
int32_t top_n(const VectorPasses& passes, std::span<const float> x, int32_t n,
              std::array<TokenLogprob, kMaxLogprobs>& out) {
    // Insertion into a short sorted array; once it is full, the vector pass skips every logit
    // below the current n-th best (after the first few hundred tokens, almost all of them).
    int32_t count = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (count == n) {
            i = passes.find_at_least(x.data(), x.size(), i, out[n - 1].logprob);
            if (i == x.size()) break;
        }
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

// logprob, entropy and the n_logprobs best alternatives of choice->token under `dist`, the
// distribution of `model`.
void describe(const VectorPasses& passes, std::span<const float> model, const Distribution& dist, int32_t n_logprobs,
              TokenChoice* choice) {
    choice->logprob = static_cast<float>(model[static_cast<size_t>(choice->token)] - dist.log_z);
    choice->entropy = static_cast<float>(dist.entropy);
    if (n_logprobs > 0) {
        choice->n_top = top_n(passes, model, n_logprobs, choice->top);
        for (int32_t i = 0; i < choice->n_top; ++i) {
            choice->top[i].logprob = static_cast<float>(choice->top[i].logprob - dist.log_z);
        }
    }
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
    return Sampler(params, n_vocab, {}, {});
}

Status Sampler::restart(const SamplingParams& params) {
    SINAN_RETURN_IF_ERROR(validate(params, n_vocab_));
    *this = Sampler(params, n_vocab_, std::move(logits_), std::move(candidates_));
    return Status::ok();
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab, std::vector<float> logits, CandidateList candidates)
    : params_(params),
      n_vocab_(n_vocab),
      rng_(params.seed ? *params.seed : random_seed()),
      window_(static_cast<size_t>(params.penalty_last_n)),
      window_counts_(std::min<size_t>(window_.size(), 4096)),
      generated_counts_(1024),
      logits_(std::move(logits)),
      candidates_(std::move(candidates)) {
    logits_.resize(static_cast<size_t>(n_vocab));
    biases_.reserve(params.logit_bias.size());
    for (const auto& [token, bias] : params.logit_bias) {
        biases_.push_back({token, bias <= kBanBias ? kNegInf : bias});
    }
    candidates_.reserve(logits_.size());  // so that the first sample() does not allocate either
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

bool Sampler::apply_bias_and_penalties(std::span<const float> logits, std::span<float> out) {
    const float rp = params_.repetition_penalty;
    const float presence = params_.presence_penalty;
    const float frequency = params_.frequency_penalty;
    const bool repetition = rp != 1.0f && !window_counts_.entries().empty();
    const bool counts = (presence != 0.0f || frequency != 0.0f) && !generated_counts_.entries().empty();
    if (biases_.empty() && !repetition && !counts) return false;

    if (out.data() != logits.data()) std::copy(logits.begin(), logits.end(), out.begin());
    for (const Bias& b : biases_) out[static_cast<size_t>(b.token)] += b.bias;
    if (repetition) {
        for (const detail::TokenCount& e : window_counts_.entries()) {
            float& l = out[static_cast<size_t>(e.token)];
            l = l <= 0.0f ? l * rp : l / rp;  // CTRL: always towards "less likely" for rp > 1
        }
    }
    if (counts) {
        for (const detail::TokenCount& e : generated_counts_.entries()) {
            out[static_cast<size_t>(e.token)] -= presence + frequency * static_cast<float>(e.count);
        }
    }
    return true;
}

std::span<const float> Sampler::without_broken_logits(std::span<const float> model) {
    if (model.data() != logits_.data()) std::copy(model.begin(), model.end(), logits_.begin());
    for (float& l : logits_) {
        if (!(l < -kNegInf)) l = kNegInf;  // NaN or +inf
    }
    return logits_;
}

Status Sampler::reset_candidates(std::span<const float>* model, bool draw) {
    // A top-k list draws without the proposals' block sums: the softmax pass leaves them out.
    const bool proposals = params_.top_k <= 0 || params_.top_k >= n_vocab_;
    auto reset = [&] { draw ? candidates_.reset(*model, proposals) : candidates_.reset_sums_only(*model); };
    reset();  // the max and the softmax sums: one exp per token
    // With finite logits z is in [1, n_vocab]; a NaN or +inf logit makes it NaN. Such a model's
    // numbers are broken: those tokens are ruled out, as -inf ones are (the passes need no test).
    if (!std::isfinite(candidates_.softmax().z)) {
        *model = without_broken_logits(*model);
        reset();
    }
    if (!std::isfinite(candidates_.max_logit())) {
        return Status::error(
            "the model gave no finite logit (NaN or infinity for every token): its weights hold NaN or infinity, or "
            "its numbers overflowed; check the model file");
    }
    return Status::ok();
}

Result<TokenChoice> Sampler::score(std::span<const float> logits, int32_t token) {
    SINAN_CHECK(logits.size() == static_cast<size_t>(n_vocab_), "Sampler::score: logits must have n_vocab entries");
    SINAN_CHECK(token >= 0 && token < n_vocab_, "Sampler::score: token outside the vocabulary");
    std::span<const float> model = logits;
    SINAN_RETURN_IF_ERROR(reset_candidates(&model, false));
    TokenChoice choice;
    choice.token = token;
    describe(vector_passes(), model, analyse(candidates_), params_.n_logprobs, &choice);
    choice.is_stop = is_stop_token(token);
    return choice;
}

Result<TokenChoice> Sampler::sample(std::span<const float> logits) {
    SINAN_CHECK(logits.size() == static_cast<size_t>(n_vocab_), "Sampler::sample: logits must have n_vocab entries");
    return sample_model(apply_bias_and_penalties(logits, logits_) ? std::span<const float>(logits_) : logits);
}

Result<TokenChoice> Sampler::sample_in_place(std::span<float> logits) {
    SINAN_CHECK(logits.size() == static_cast<size_t>(n_vocab_),
                "Sampler::sample_in_place: logits must have n_vocab entries");
    apply_bias_and_penalties(logits, logits);
    return sample_model(logits);
}

Result<TokenChoice> Sampler::sample_model(std::span<const float> model) {
    const VectorPasses& passes = vector_passes();
    SINAN_RETURN_IF_ERROR(reset_candidates(&model, params_.temperature != 0.0f));
    const Distribution dist = analyse(candidates_);
    TokenChoice choice;
    if (params_.temperature == 0.0f) {
        // The first index holding the max: greedy ties go to the lowest id.
        choice.token = static_cast<int32_t>(passes.find_at_least(model.data(), model.size(), 0, dist.max));
    } else {
        candidates_.keep_top_k(params_.top_k);
        candidates_.keep_top_p(params_.top_p);
        candidates_.keep_min_p(params_.min_p);
        std::array<double, CandidateList::kDrawUniforms> u;
        for (double& v : u) v = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
        choice.token = candidates_.draw_proposed(params_.temperature, u);
    }
    describe(passes, model, dist, params_.n_logprobs, &choice);
    choice.is_stop = is_stop_token(choice.token);
    return choice;
}

}  // namespace sinan::sampling
