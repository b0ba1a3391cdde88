// `sinan run` through the real binary: the reference's greedy text for the trained TinyStories
// model, sampling controls, reasoning split, confidence, and errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";
const std::string kStories = (kModels / "stories260K.gguf").string();

double confidence_of(const std::string& err) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(err, m, std::regex("confidence ([0-9.]+)"))) << err;
    return m.size() > 1 ? std::stod(m[1]) : -1;
}

TEST(RunCommand, GreedyTextMatchesTheReferenceForTinyStories) {
    const fs::path golden = kModels / "golden" / "stories260K.greedy.json";
    if (!fs::exists(golden)) GTEST_SKIP() << "reference files not found: " << golden;
    std::ifstream in(golden);
    const nlohmann::json g = nlohmann::json::parse(in);
    ASSERT_FALSE(g["items"].empty());
    for (const auto& item : g["items"]) {
        const std::string prompt = item["prompt"];
        RunResult r = run_sinan(
            {"run", "-m", kStories, "-p", prompt, "-n", std::to_string(item["n_predict"].get<int>()), "--temp", "0"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, item["completion"].get<std::string>()) << "prompt: " << prompt;
        EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << "speed goes to stderr";
    }
}

TEST(RunCommand, StopStringsEndTheAnswerBeforeThem) {
    if (!fs::exists(kStories)) GTEST_SKIP() << "not found: " << kStories;
    RunResult r =
        run_sinan({"run", "-m", kStories, "-p", "Once upon a time", "-n", "64", "--temp", "0", "--stop", "Lily"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, ", there was a little girl named ");
    EXPECT_NE(r.err.find("finish: stop"), std::string::npos) << r.err;
}

TEST(RunCommand, SameSeedSameTextOtherSeedOtherText) {
    if (!fs::exists(kStories)) GTEST_SKIP() << "not found: " << kStories;
    auto sample = [](const char* seed) {
        return run_sinan({"run", "-m", kStories, "-p", "One day", "-n", "40", "--temp", "1.0", "--seed", seed}).out;
    };
    const std::string a = sample("11"), b = sample("11"), c = sample("12");
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(RunCommand, ConfidenceIsLowerForAModelThatGuesses) {
    if (!fs::exists(kStories)) GTEST_SKIP() << "not found: " << kStories;
    const std::string dir = make_temp_dir();
    const std::string guesser = dir + "/random.gguf";
    // Same tokenizer, random weights: its next-token distributions are nearly flat.
    ASSERT_EQ(run_sinan({"model", "synth", "--shape", "tiny-llama", "--vocab", kStories, "-o", guesser}).exit_code, 0);
    RunResult sure = run_sinan({"run", "-m", kStories, "-p", "Once upon a time", "-n", "32", "--temp", "0"});
    RunResult guess = run_sinan({"run", "-m", guesser, "-p", "Once upon a time", "-n", "32", "--temp", "0"});
    ASSERT_EQ(sure.exit_code, 0) << sure.err;
    ASSERT_EQ(guess.exit_code, 0) << guess.err;
    const double cs = confidence_of(sure.err), cg = confidence_of(guess.err);
    EXPECT_GT(cs, 0.3);
    EXPECT_LT(cg, 0.1);
    EXPECT_LT(cg, cs / 3);
    fs::remove_all(dir);
}

const fs::path kR1Vocab = kModels / "ggml-vocab-deepseek-r1-qwen.gguf";

// A tiny synthetic model with the R1-Distill-Qwen vocabulary and chat template (which opens
// <think>), written to dir/r1.gguf.
std::string synth_r1(const std::string& dir) {
    const std::string m = dir + "/r1.gguf";
    const RunResult r =
        run_sinan({"model", "synth", "--shape", "tiny", "--type", "q8_0", "--vocab", kR1Vocab.string(), "-o", m});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return m;
}

TEST(RunCommand, ChatModeSeparatesReasoningFromTheAnswer) {
    if (!fs::exists(kR1Vocab)) GTEST_SKIP() << "not found: " << kR1Vocab;
    const std::string dir = make_temp_dir();
    const std::string m = synth_r1(dir);
    // The R1 template's generation prompt opens <think>: what the model writes first is reasoning.
    RunResult r = run_sinan({"run", "-m", m, "--chat", "-p", "Hi", "-n", "8", "--temp", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("[thinking]"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << "no </think> yet: nothing of the answer on stdout";
    RunResult hidden = run_sinan({"run", "-m", m, "--chat", "-p", "Hi", "-n", "8", "--temp", "0", "--hide-reasoning"});
    EXPECT_EQ(hidden.err.find("[thinking]"), std::string::npos);
    fs::remove_all(dir);
}

TEST(RunCommand, AReasoningModelSamplesAsDeepSeekRecommendsUnlessTold) {
    if (!fs::exists(kR1Vocab)) GTEST_SKIP() << "not found: " << kR1Vocab;
    const std::string dir = make_temp_dir();
    const std::string m = synth_r1(dir);
    auto run = [&](std::vector<std::string> sampling) {
        std::vector<std::string> args = {"run", "-m", m, "-p", "Hello", "-n", "12", "--seed", "5"};
        args.insert(args.end(), sampling.begin(), sampling.end());
        RunResult r = run_sinan(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r;
    };
    const RunResult by_default = run({});
    EXPECT_NE(by_default.err.find("sampling at temperature 0.6, top-p 0.95"), std::string::npos) << by_default.err;
    const RunResult told = run({"--temp", "0.6", "--top-p", "0.95"});
    EXPECT_EQ(told.err.find("sampling at temperature"), std::string::npos) << told.err;
    EXPECT_EQ(by_default.out, told.out) << "the defaults are temperature 0.6 and top-p 0.95";
    EXPECT_NE(by_default.out, run({"--temp", "1", "--top-p", "1"}).out) << "not the plain defaults";
    const RunResult half_told = run({"--temp", "1"});
    EXPECT_NE(half_told.err.find("sampling at temperature 1, top-p 0.95"), std::string::npos) << half_told.err;
    const RunResult greedy = run({"--temp", "0"});
    EXPECT_EQ(greedy.err.find("sampling at temperature"), std::string::npos) << "greedy draws nothing";
    fs::remove_all(dir);
    if (fs::exists(kStories)) {
        const RunResult plain = run_sinan({"run", "-m", kStories, "-p", "One day", "-n", "4", "--seed", "5"});
        EXPECT_EQ(plain.err.find("sampling at temperature"), std::string::npos) << "not a reasoning model";
    }
}

TEST(RunCommand, InteractiveModeKeepsTheHistory) {
    if (!fs::exists(kR1Vocab)) GTEST_SKIP() << "not found: " << kR1Vocab;
    const std::string dir = make_temp_dir();
    const std::string m = synth_r1(dir);
    RunResult r = run_sinan({"run", "-m", m, "-i", "-n", "4", "--temp", "0"}, "first\nsecond\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Two turns, each with its statistics; the second reuses the first turn's cache, so it
    // computes fewer prompt tokens than its whole prompt.
    std::smatch m1;
    std::string err = r.err;
    std::vector<int> prompts;
    while (std::regex_search(err, m1, std::regex("prompt: ([0-9]+) tokens"))) {
        prompts.push_back(std::stoi(m1[1]));
        err = m1.suffix();
    }
    ASSERT_EQ(prompts.size(), 2u) << r.err;
    EXPECT_LT(prompts[1], prompts[0] + 8) << "the second turn only computes what is new";
    fs::remove_all(dir);
}

TEST(RunCommand, KvTypeQ8_0RunsWhereHeadsAreWholeBlocksAndIsRefusedElsewhere) {
    const std::string qwen2 = (kModels / "qwen2-small-f32.gguf").string();
    if (!fs::exists(qwen2) || !fs::exists(kStories)) GTEST_SKIP() << "reference models not found in " << kModels;
    RunResult r =
        run_sinan({"run", "-m", qwen2, "-p", "Once upon a time", "-n", "8", "--temp", "0", "--kv-type", "q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("generation: 8 tokens"), std::string::npos) << r.err;
    // TinyStories' heads are 8 values: not whole Q8_0 blocks.
    r = run_sinan({"run", "-m", kStories, "-p", "x", "--kv-type", "q8_0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("multiples of 32"), std::string::npos) << r.err;
    r = run_sinan({"run", "-m", kStories, "-p", "x", "--kv-type", "q4_0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << r.err;
}

TEST(RunCommand, ContextShiftGoesOnPastAFullContext) {
    if (!fs::exists(kStories)) GTEST_SKIP() << "not found: " << kStories;
    RunResult r = run_sinan({"run", "-m", kStories, "-p", "Once upon a time", "-n", "120", "-c", "48", "--temp", "0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("finish: context"), std::string::npos) << r.err;
    r = run_sinan(
        {"run", "-m", kStories, "-p", "Once upon a time", "-n", "120", "-c", "48", "--temp", "0", "--context-shift"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("generation: 120 tokens"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("finish: length"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("old tokens dropped"), std::string::npos) << r.err;
    r = run_sinan({"run", "-m", kStories, "-i", "--context-shift", "--no-context-shift"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not both"), std::string::npos) << r.err;
}

TEST(RunCommand, InteractiveChatLetsOldExchangesGoWhenTheHistoryOutgrowsTheContext) {
    if (!fs::exists(kR1Vocab)) GTEST_SKIP() << "not found: " << kR1Vocab;
    const std::string dir = make_temp_dir();
    const std::string m = synth_r1(dir);
    // Six messages of ~10 tokens each, rendered with the whole history: more than 48 of a 64-token
    // context from the fourth on.
    const std::string six =
        "Tell me about the moon and the tides please\nAnd what about the sun and the planets around it\n"
        "Why do stars twinkle at night in the sky\nHow far away is the nearest star from here\n"
        "What is a comet made of and where from\nThanks a lot for all of it\n";
    RunResult r = run_sinan({"run", "-m", m, "-i", "-n", "24", "-c", "64", "--temp", "0"}, six);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto count = [](const std::string& text, const std::string& what) {
        size_t n = 0;
        for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
        return n;
    };
    EXPECT_EQ(count(r.err, "generation: 24 tokens"), 6u) << r.err;
    EXPECT_GE(count(r.err, "oldest exchange left the history"), 1u) << r.err;
    // An answer longer than the context shifts within the turn.
    r = run_sinan({"run", "-m", m, "-i", "-n", "100", "-c", "64", "--temp", "0"}, "Hello there\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("generation: 100 tokens"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("old tokens dropped"), std::string::npos) << r.err;
    // --no-context-shift: the history that does not fit is refused with a message, the chat goes on.
    r = run_sinan({"run", "-m", m, "-i", "-n", "24", "-c", "64", "--temp", "0", "--no-context-shift"}, six);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("may take at most 64 of the 64-token context; raise it with -c"), std::string::npos) << r.err;
    EXPECT_EQ(count(r.err, "oldest exchange"), 0u) << r.err;
    fs::remove_all(dir);
}

TEST(RunCommand, BadInputGivesOneLineAndExitCode2) {
    if (!fs::exists(kStories)) GTEST_SKIP() << "not found: " << kStories;
    const std::vector<std::vector<std::string>> cases = {
        {"run", "-m", "/no/such.gguf", "-p", "x"},
        {"run", "-m", kStories},
        {"run", "-m", kStories, "-p", "x", "-f", "/etc/hostname"},
        {"run", "-m", kStories, "-f", "/no/such/prompt.txt"},
        {"run", "-m", kStories, "-p", "x", "--chat"},  // stories has no chat template
        {"run", "-m", kStories, "-p", "x", "--temp", "-1"},
        {"run", "-m", kStories, "-p", "x", "--top-p", "2"},
        {"run", "-m", kStories, "-p", "x", "-c", "0"},
        {"run", "-m", kStories, "-p", "x", "-n", "-5"},
    };
    for (const auto& args : cases) {
        RunResult r = run_sinan(args);
        std::string cmd;
        for (const auto& a : args) cmd += a + " ";
        EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
        EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << cmd << r.err;
        EXPECT_TRUE(r.out.empty()) << cmd;
    }
}

}  // namespace
}  // namespace sinan::test
