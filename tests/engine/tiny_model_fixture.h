// Test fixture: the tiny synthetic model (`sinan model synth --shape tiny`, F32, 2 threads) and its
// tokenizer, written to a temporary file and loaded once per test suite; removed after it. Shared
// by the scheduler tests. Derive a fixture from TinyModelTest; model_ and tokenizer_ are valid in
// the tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

    static inline std::filesystem::path* path_ = nullptr;
    static inline model::Model* model_ = nullptr;
    static inline text::Tokenizer* tokenizer_ = nullptr;
};

}  // namespace sinan::engine
