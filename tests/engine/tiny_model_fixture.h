// Test fixture: the tiny synthetic model (`sinan model synth --shape tiny`, F32, 2 threads) and its
// tokenizer, written to a temporary file and loaded once per test suite; removed after it; and the
// helpers the scheduler tests share to run greedy requests and collect what they stream. Derive a
// fixture from TinyModelTest; model_ and tokenizer_ are valid in the tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "engine/session.h"
#include "model/model.h"
#include "model/synth.h"
#include "text/tokenizer.h"

namespace sinan::engine {

class TinyModelTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        path_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                          ("sinan_tiny_model_" + std::to_string(::getpid()) + ".gguf"));
        model::SynthOptions o;
        o.shape = "tiny";
        o.n_threads = 2;
        ASSERT_TRUE(model::synth_model(o, path_->string()).is_ok());
        Result<std::unique_ptr<model::Model>> m = model::Model::load(path_->string(), {.n_threads = 2});
        ASSERT_TRUE(m.ok()) << m.message();
        model_ = std::move(m).value().release();
        Result<text::Tokenizer> t = text::Tokenizer::from_gguf(model_->file());
        ASSERT_TRUE(t.ok()) << t.message();
        tokenizer_ = new text::Tokenizer(std::move(t).value());
    }
    static void TearDownTestSuite() {
        delete tokenizer_;
        delete model_;
        std::filesystem::remove(*path_);
        delete path_;
    }

    static std::vector<int32_t> tokens(const std::string& text) { return tokenizer_->encode(text, false, false); }

    // Greedy, with end-of-generation tokens banned (unless ban_eog is false) so the length is up to the test.
    static GenerateOptions greedy(int64_t n_predict, bool ban_eog = true) {
        GenerateOptions o;
        o.n_predict = n_predict;
        o.sampling.temperature = 0.0f;
        if (ban_eog)
            for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id)
                if (tokenizer_->is_eog(id)) o.sampling.logit_bias[id] = sampling::kBanBias;
        return o;
    }

    static Request request(const std::vector<int32_t>& prompt, const GenerateOptions& options, int64_t n_keep = -1) {
        Request r;
        r.prompt = prompt;
        r.options = options;
        r.n_keep = n_keep;
        return r;
    }

    static std::shared_ptr<RequestHandle> submit(Scheduler& s, Request r) {
        Scheduler::Submitted sub = s.submit(std::move(r));
        EXPECT_NE(sub.handle, nullptr) << sub.message;
        return sub.handle;
    }

    // What a request streamed: its text, tokens and their log-probabilities, the kText events, and
    // the kFinished or kFailed event that ended it.
    struct Outcome {
        std::string text;
        std::vector<int32_t> tokens;
        std::vector<float> logprobs;
        std::vector<Event> texts;
        Event end;
    };

    static Outcome collect(RequestHandle& h) {
        Outcome o;
        Event e;
        while (h.next(&e, std::chrono::seconds(120))) {
            if (e.type != Event::Type::kText) {
                o.end = std::move(e);
                return o;
            }
            o.text += e.text;
            for (const TokenInfo& t : e.tokens) {
                o.tokens.push_back(t.token);
                o.logprobs.push_back(t.choice.logprob);
            }
            o.texts.push_back(std::move(e));
        }
        ADD_FAILURE() << "request " << h.id() << " never finished";
        return o;
    }

    // The reference for a request run alone: its sampling on `session` (made by the caller, with
    // the cache and context shift to compare with), token by token, until n_predict tokens or, with
    // stop_at_full, a full context. Fills tokens and logprobs.
    static Outcome on_session(Session& session, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              bool stop_at_full) {
        Result<sampling::Sampler> sampler = sampling::Sampler::create(options.sampling, tokenizer_->n_vocab());
        EXPECT_TRUE(sampler.ok()) << sampler.message();
        sampler->accept_prompt(prompt);
        Outcome o;
        Status st = session.set_prompt(prompt);
        while (st.is_ok()) {
            const sampling::TokenChoice c = sampler->sample(session.logits()).value();
            sampler->accept(c.token);
            o.tokens.push_back(c.token);
            o.logprobs.push_back(c.logprob);
            if (static_cast<int64_t>(o.tokens.size()) == options.n_predict) break;
            if (stop_at_full && static_cast<int64_t>(session.tokens().size()) >= session.n_ctx()) break;
            st = session.append(c.token);
        }
        EXPECT_TRUE(st.is_ok()) << st.message();
        return o;
    }

    // submit, then collect (an empty Outcome when the request was refused).
    static Outcome run(Scheduler& s, Request r) {
        std::shared_ptr<RequestHandle> h = submit(s, std::move(r));
        return h ? collect(*h) : Outcome{};
    }

    static inline std::filesystem::path* path_ = nullptr;
    static inline model::Model* model_ = nullptr;
    static inline text::Tokenizer* tokenizer_ = nullptr;
};

}  // namespace sinan::engine
