// engine/output_stream.h: the per-token rules shared by generate() and the scheduler, fed token
// by token with the synthetic DeepSeek-R1 vocabulary (which has <think> and </think>).
#include "engine/output_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "gguf/gguf.h"
#include "model/synth.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;

class OutputStreamTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const fs::path path =
            fs::temp_directory_path() / ("sinan_output_stream_test_" + std::to_string(::getpid()) + ".gguf");
        model::SynthOptions o;
        o.shape = "tiny";
        ASSERT_TRUE(model::synth_model(o, path.string()).is_ok());
        Result<gguf::File> f = gguf::File::open(path.string());
        ASSERT_TRUE(f.ok()) << f.message();
        Result<text::Tokenizer> t = text::Tokenizer::from_gguf(*f);
        ASSERT_TRUE(t.ok()) << t.message();
        tokenizer_ = new text::Tokenizer(std::move(t).value());
        fs::remove(path);
    }
    static void TearDownTestSuite() { delete tokenizer_; }

    struct Piece {
        TextKind kind;
        std::string text;
    };

    // An OutputStream whose text lands in pieces_ (adjacent pieces of one kind merged).
    OutputStream make(const GenerateOptions& options, std::span<const int32_t> prompt = {}, int64_t budget = -1) {
        return OutputStream(*tokenizer_, options, prompt, budget, [this](TextKind kind, std::string_view text) {
            if (!pieces_.empty() && pieces_.back().kind == kind)
                pieces_.back().text += text;
            else
                pieces_.push_back({kind, std::string(text)});
        });
    }
    static int32_t id(const char* text) { return *tokenizer_->find_token(text); }
    // A sampled token with probability p.
    static sampling::TokenChoice choice(int32_t token, float logprob = -0.5f) {
        sampling::TokenChoice c;
        c.token = token;
        c.logprob = logprob;
        return c;
    }
    // Adds the text's tokens; returns the last step.
    static OutputStream::Step add_text(OutputStream& out, const std::string& text) {
        OutputStream::Step step;
        for (int32_t t : tokenizer_->encode(text, false, false)) step = out.add(choice(t));
        return step;
    }

    std::vector<Piece> pieces_;
    static inline text::Tokenizer* tokenizer_ = nullptr;
};

TEST_F(OutputStreamTest, AModelThatWritesThinkTagsItselfIsSplitIntoReasoningAndAnswer) {
    OutputStream out = make({});
    add_text(out, "Hi ");
    EXPECT_EQ(out.add(choice(id("<think>"))).kind, TextKind::kReasoning);
    EXPECT_TRUE(out.in_reasoning());
    add_text(out, "hmm");
    EXPECT_EQ(out.add(choice(id("</think>"))).kind, TextKind::kReasoning);
    add_text(out, "Yes.");
    out.finish();
    ASSERT_EQ(pieces_.size(), 3u);
    EXPECT_EQ(pieces_[0].kind, TextKind::kAnswer);
    EXPECT_EQ(pieces_[0].text, "Hi ");
    EXPECT_EQ(pieces_[1].kind, TextKind::kReasoning);
    EXPECT_EQ(pieces_[1].text, "hmm");
    EXPECT_EQ(pieces_[2].kind, TextKind::kAnswer);
    EXPECT_EQ(pieces_[2].text, "Yes.");
    EXPECT_EQ(out.text(), "Hi hmmYes.");
    EXPECT_EQ(out.answer(), "Hi Yes.");
    const int64_t n_answer = static_cast<int64_t>(tokenizer_->encode("Hi ", false, false).size() +
                                                  tokenizer_->encode("Yes.", false, false).size());
    EXPECT_EQ(out.confidence().n_tokens, n_answer);
    EXPECT_EQ(out.n_reasoning(), static_cast<int64_t>(tokenizer_->encode("hmm", false, false).size()));
}

TEST_F(OutputStreamTest, APromptEndingInsideThinkStartsInTheReasoning) {
    const std::vector<int32_t> open = {id("<think>"), tokenizer_->encode("\n", false, false)[0]};
    EXPECT_TRUE(make({}, open).in_reasoning());
    const std::vector<int32_t> closed = {id("<think>"), id("</think>"), tokenizer_->encode("ok", false, false)[0]};
    EXPECT_FALSE(make({}, closed).in_reasoning());
    GenerateOptions told;
    told.starts_in_reasoning = true;
    EXPECT_TRUE(make(told).in_reasoning());

    OutputStream out = make({}, open);
    add_text(out, "think");
    out.add(choice(id("</think>")));
    add_text(out, "answer");
    out.finish();
    EXPECT_EQ(out.answer(), "answer");
    EXPECT_EQ(out.text(), "thinkanswer");
}

TEST_F(OutputStreamTest, TheReasoningBudgetNamesTheClosingTagOnceSpent) {
    const std::vector<int32_t> prompt = {id("<think>")};
    OutputStream out = make({}, prompt, /*budget=*/2);
    const int32_t a = tokenizer_->encode("a", false, false)[0];
    EXPECT_FALSE(out.forced_token());
    out.add(choice(a));
    EXPECT_FALSE(out.forced_token());
    out.add(choice(a));
    ASSERT_TRUE(out.forced_token());
    EXPECT_EQ(*out.forced_token(), id("</think>"));
    out.add(OutputStream::forced_choice(*out.forced_token()));
    EXPECT_FALSE(out.in_reasoning());
    EXPECT_FALSE(out.forced_token());
    out.add(choice(a));
    EXPECT_FALSE(out.forced_token());
    EXPECT_EQ(out.answer(), "a");
}

TEST_F(OutputStreamTest, EndOfGenerationStopTokensAndTheTokenLimitEndTheSequence) {
    {
        OutputStream out = make({});
        const OutputStream::Step s = out.add(choice(tokenizer_->eos_id()));
        ASSERT_TRUE(s.finish);
        EXPECT_EQ(*s.finish, FinishReason::kStop);
    }
    {
        OutputStream out = make({});
        sampling::TokenChoice c = choice(tokenizer_->encode("a", false, false)[0]);
        c.is_stop = true;
        EXPECT_EQ(out.add(c).finish, FinishReason::kStop);
        out.finish();
        EXPECT_EQ(out.text(), "");  // a stop token is not text
    }
    {
        GenerateOptions o;
        o.n_predict = 2;
        OutputStream out = make(o);
        const int32_t a = tokenizer_->encode("a", false, false)[0];
        EXPECT_FALSE(out.add(choice(a)).finish);
        EXPECT_EQ(out.add(choice(a)).finish, FinishReason::kLength);
        EXPECT_EQ(out.n_generated(), 2);
    }
}

TEST_F(OutputStreamTest, StopStringsAreMatchedInTheReasoningAndTheAnswerApart) {
    GenerateOptions o;
    o.sampling.stop = {"xy"};
    OutputStream out = make(o);
    out.add(choice(id("<think>")));
    add_text(out, "ax");
    out.add(choice(id("</think>")));  // "x" + "y" across the boundary is no match
    EXPECT_FALSE(add_text(out, "yb").finish);
    EXPECT_EQ(add_text(out, "cxy").finish, FinishReason::kStop);
    out.finish();
    EXPECT_EQ(out.text(), "axybc");
    EXPECT_EQ(out.answer(), "ybc");
}

}  // namespace
}  // namespace sinan::engine
