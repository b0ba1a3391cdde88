// `sinan rerank` as a user runs it, on the tiny reranker fixture: documents from arguments, stdin
// lines or --file; the table and --json best first with engine::Reranker's scores; --top-n; and
// `sinan: error:` with exit code 2 for what it cannot do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/reranker.h"
#include "reranker_fixture.h"
#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kDocs = {"the weather in the mountains is cold in winter",
                                        "to reset your password open the account settings page",
                                        "passwords must have twelve characters"};
const std::string kQuery = "how do I reset my password";

class RerankCommand : public ::testing::Test {
  protected:
    void SetUp() override {
        if (reranker_fixture().empty()) GTEST_SKIP() << "reference model not found: " << bert_tiny_path();
    }
    // engine::Reranker's scores in this process, in document order.
    static std::vector<float> expected_scores() {
        Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(reranker_fixture());
        EXPECT_TRUE(m.ok()) << m.message();
        Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
        engine::Reranker reranker(**m, std::move(tok).value());
        Result<engine::RerankScores> r = reranker.rerank(kQuery, kDocs);
        EXPECT_TRUE(r.ok()) << r.message();
        return r->scores;
    }
};

TEST_F(RerankCommand, JsonIsEveryDocumentBestFirstWithTheRerankersScores) {
    std::vector<std::string> args = {"rerank", "-m", reranker_fixture(), "--query", kQuery, "--json"};
    args.insert(args.end(), kDocs.begin(), kDocs.end());
    const RunResult r = run_sinan(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["query"], kQuery);
    const std::vector<float> want = expected_scores();
    ASSERT_EQ(out["results"].size(), kDocs.size());
    double previous = 1e30;
    for (const json& item : out["results"]) {
        const size_t i = item["index"];
        ASSERT_LT(i, kDocs.size());
        EXPECT_FLOAT_EQ(item["relevance_score"].get<float>(), want[i]);
        EXPECT_EQ(item["text"], kDocs[i]);
        EXPECT_LE(item["relevance_score"].get<double>(), previous);
        previous = item["relevance_score"];
    }
    EXPECT_GT(out["n_tokens"].get<int64_t>(), 0);
}

TEST_F(RerankCommand, TableFromStdinAndFileWithTopN) {
    const RunResult json_run = run_sinan({"rerank", "-m", reranker_fixture(), "-q", kQuery, "--json"},
                                         kDocs[0] + "\n\n" + kDocs[1] + "\r\n" + kDocs[2] + "\n");
    ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
    const json best = json::parse(json_run.out)["results"];
    ASSERT_EQ(best.size(), 3u);

    const fs::path file = fs::path(make_temp_dir()) / "docs.txt";
    std::ofstream(file) << kDocs[0] << "\n" << kDocs[1] << "\n" << kDocs[2] << "\n";
    const RunResult r =
        run_sinan({"rerank", "-m", reranker_fixture(), "-q", kQuery, "--file", file.string(), "-n", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string header, line;
    std::getline(lines, header);
    EXPECT_EQ(header, "rank  index      score  text");
    for (size_t k = 0; k < 2; ++k) {
        ASSERT_TRUE(std::getline(lines, line));
        size_t rank = 0, index = 0;
        double score = 0;
        char text[256] = {};
        ASSERT_EQ(std::sscanf(line.c_str(), "%zu %zu %lf %255[^\n]", &rank, &index, &score, text), 4) << line;
        EXPECT_EQ(rank, k + 1);
        EXPECT_EQ(index, best[k]["index"].get<size_t>());
        EXPECT_NEAR(score, best[k]["relevance_score"].get<double>(), 1e-4);
        EXPECT_EQ(std::string(text), kDocs[index]);
    }
    EXPECT_FALSE(std::getline(lines, line)) << "--top-n 2 printed more: " << line;
}

TEST_F(RerankCommand, BadInputIsOneErrorLineAndExitCode2) {
    struct Case {
        std::vector<std::string> args;
        std::string stdin_text, message;
    };
    std::string long_doc;
    for (int i = 0; i < 600; ++i) long_doc += "word ";
    const std::vector<Case> cases = {
        {{"rerank", "-m", bert_tiny_path(), "-q", kQuery, "doc"}, "", "is not a cross-encoder reranker"},
        {{"rerank", "-m", reranker_fixture(), "-q", kQuery}, "", "no documents to rank"},
        {{"rerank", "-m", reranker_fixture(), "-q", kQuery, "--file", "/nonexistent/docs.txt"},
         "",
         "cannot read the documents file"},
        {{"rerank", "-m", reranker_fixture(), "-q", kQuery, "short", long_doc},
         "",
         "document 1: with the query it has"},
        {{"rerank", "-m", "/nonexistent/model.gguf", "-q", kQuery, "doc"}, "", "/nonexistent/model.gguf"},
    };
    for (const Case& c : cases) {
        const RunResult r = run_sinan(c.args, c.stdin_text);
        EXPECT_EQ(r.exit_code, 2) << c.message << ": " << r.err;
        EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    // --truncate makes the long document fit.
    const RunResult cut =
        run_sinan({"rerank", "-m", reranker_fixture(), "-q", kQuery, "--truncate", "short", long_doc});
    EXPECT_EQ(cut.exit_code, 0) << cut.err;
}

}  // namespace
}  // namespace sinan::test
