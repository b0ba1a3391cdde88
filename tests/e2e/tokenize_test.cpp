// `sinan tokenize` / `sinan detokenize` through the real binary: ids match the Hugging Face
// reference vectors, text round-trips, and user errors are one line with exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "run_binary.h"

namespace {

using sinan::test::run_sinan;

const std::string kQwenVocab = SINAN_SHARED_DIR "/models/ggml-vocab-deepseek-r1-qwen.gguf";
const std::string kVectors = SINAN_SHARED_DIR "/data/llamacpp-vocab-tests/ggml-vocab-qwen2.gguf";

bool have_vocab() { return std::filesystem::exists(kQwenVocab); }

std::string trim_newline(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

TEST(TokenizeCommand, PrintsTheReferenceIdsOfTheVectors) {
    if (!have_vocab() || !std::filesystem::exists(kVectors + ".inp"))
        GTEST_SKIP() << "no vocab or vectors in ../shared";
    std::ifstream inp(kVectors + ".inp", std::ios::binary), out(kVectors + ".out");
    std::stringstream ss;
    ss << inp.rdbuf();
    const std::string all = ss.str();
    // Case 32 of the vectors: mixed English, emoji, Chinese and digits.
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    std::string line;
    for (int i = 0; i < 32; ++i) {
        pos = all.find(sep, pos) + sep.size();
        std::getline(out, line);
    }
    const std::string text = all.substr(pos, all.find(sep, pos) - pos);
    std::getline(out, line);
    const auto r = run_sinan({"tokenize", "-m", kQwenVocab, "--no-special"}, text);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(" " + trim_newline(r.out), line);
}

TEST(TokenizeCommand, AddsBosUnlessToldNotToAndShowsPieces) {
    if (!have_vocab()) GTEST_SKIP() << "no vocab in ../shared";
    const auto with = run_sinan({"tokenize", "-m", kQwenVocab}, "Hello world");
    ASSERT_EQ(with.exit_code, 0) << with.err;
    EXPECT_EQ(with.out, "151646 9707 1879\n");
    const auto without = run_sinan({"tokenize", "-m", kQwenVocab, "--no-special"}, "Hello world");
    EXPECT_EQ(without.out, "9707 1879\n");
    const auto pieces = run_sinan({"tokenize", "-m", kQwenVocab, "--no-special", "--pieces"}, "Hello world\n");
    EXPECT_EQ(pieces.out, "9707:'Hello' 1879:' world' 198:'\\n'\n");
}

TEST(TokenizeCommand, ParseSpecialIsOnByDefault) {
    if (!have_vocab()) GTEST_SKIP() << "no vocab in ../shared";
    const std::string eos = "<｜end▁of▁sentence｜>";
    const auto parsed = run_sinan({"tokenize", "-m", kQwenVocab, "--no-special"}, eos);
    EXPECT_EQ(parsed.out, "151643\n");
    const auto plain = run_sinan({"tokenize", "-m", kQwenVocab, "--no-special", "--no-parse-special"}, eos);
    EXPECT_NE(plain.out, "151643\n");
    EXPECT_EQ(plain.out.find("151643"), std::string::npos);
}

TEST(DetokenizeCommand, RoundTripsMultilingualText) {
    if (!have_vocab()) GTEST_SKIP() << "no vocab in ../shared";
    const std::string text = "深度求索 DeepSeek-R1: 🦙 Привет\tمرحبا\r\n  done  ";
    const auto ids = run_sinan({"tokenize", "-m", kQwenVocab, "--no-special"}, text);
    ASSERT_EQ(ids.exit_code, 0) << ids.err;
    const auto back = run_sinan({"detokenize", "-m", kQwenVocab}, ids.out);
    ASSERT_EQ(back.exit_code, 0) << back.err;
    EXPECT_EQ(back.out, text);
    const auto skip = run_sinan({"detokenize", "-m", kQwenVocab, "--skip-special"}, "151646, 9707, 1879");
    EXPECT_EQ(skip.out, "Hello world");
}

TEST(TokenizeCommand, UserErrorsAreOneLineWithExitCode2) {
    if (!have_vocab()) GTEST_SKIP() << "no vocab in ../shared";
    auto expect_user_error = [](const sinan::test::RunResult& r, const std::string& needle) {
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    };
    expect_user_error(run_sinan({"tokenize", "-m", kQwenVocab}, "bad \xFF byte"), "not valid UTF-8");
    expect_user_error(run_sinan({"detokenize", "-m", kQwenVocab}, "1 2 999999999"), "999999999");
    expect_user_error(run_sinan({"detokenize", "-m", kQwenVocab}, "1 two 3"), "'two'");
    expect_user_error(run_sinan({"detokenize", "-m", kQwenVocab}, "-4"), "-4");

    const std::string dir = sinan::test::make_temp_dir();
    const std::string not_gguf = dir + "/notes.txt";
    std::ofstream(not_gguf) << "this is not a model\n";
    expect_user_error(run_sinan({"tokenize", "-m", not_gguf}, "hi"), "notes.txt");
    expect_user_error(run_sinan({"tokenize", "-m", dir + "/missing.gguf"}, "hi"), "missing.gguf");
    std::filesystem::remove_all(dir);

    const auto no_model = run_sinan({"tokenize"}, "hi");
    EXPECT_EQ(no_model.exit_code, 2);
}

TEST(TokenizeCommand, HelpNamesTheOptions) {
    const auto r = run_sinan({"tokenize", "--help"});
    EXPECT_EQ(r.exit_code, 0);
    for (const char* opt : {"--model", "--pieces", "--no-special", "--no-parse-special"}) {
        EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
    }
}

}  // namespace
