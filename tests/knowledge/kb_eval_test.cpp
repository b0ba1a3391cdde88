// `sinan kb eval` end to end: the real binary on SciFact's train judgements (../shared), and
// the one-line errors with exit code 2 on bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;

const std::string kSciFact = std::string(SINAN_SHARED_DIR) + "/data/beir-scifact";

TEST(KbEval, SciFactTrainReachesPublishedBm25Level) {
    if (!fs::exists(kSciFact + "/qrels/train.tsv")) GTEST_SKIP() << kSciFact << " absent; skipping the SciFact check";
    const RunResult r = run_sinan({"kb", "eval", "--beir", kSciFact, "--split", "train", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["queries"], 809);
    // Measured 0.6990 / 0.9320 (defaults k1 1.2, b 0.75); published BM25 on the test split: 0.665-0.679.
    EXPECT_GE(j["ndcg@10"].get<double>(), 0.68) << r.out;
    EXPECT_GE(j["recall@100"].get<double>(), 0.91) << r.out;
    EXPECT_NE(r.err.find("5183 documents"), std::string::npos) << r.err;
}

// Chinese lexical retrieval (ICU word breaking) on CMRC 2018's trial set: 1002 questions, each
// against the 256 paragraphs, its own paragraph the one relevant document. SOURCE.txt of the data
// gives BM25 over character bigrams at MRR@10 0.9703 and over single characters at 0.8651 (on the
// dev set): word breaking must do at least as well as bigrams. Measured: MRR@10 0.9870, nDCG@10
TEST(KbEval, ChineseQuestionsFindTheirParagraphs) {
    const std::string file = std::string(SINAN_SHARED_DIR) + "/data/cmrc2018/cmrc2018_trial.squad.json";
    if (!fs::exists(file)) GTEST_SKIP() << file << " absent; skipping the CMRC 2018 check";
    const RunResult r = run_sinan({"kb", "eval", "--squad", file, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["queries"], 1002);
    EXPECT_GE(j["mrr@10"].get<double>(), 0.9703) << r.out;
    EXPECT_GE(j["recall@100"].get<double>(), 0.99) << r.out;
    EXPECT_NE(r.err.find("256 documents"), std::string::npos) << r.err;
}

TEST(KbEval, NeedsADataSet) {
    const RunResult r = run_sinan({"kb", "eval"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "sinan: error: kb eval needs --beir DIR or --squad FILE\n");
}

TEST(KbEval, MalformedCorpusLineFailsWithFileAndLine) {
    const std::string dir = make_temp_dir();
    fs::create_directories(dir + "/qrels");
    std::ofstream(dir + "/corpus.jsonl") << "{\"_id\": \"d1\", \"text\": \"a\"}\nnot json\n";
    std::ofstream(dir + "/queries.jsonl") << "{\"_id\": \"q\", \"text\": \"a\"}\n";
    std::ofstream(dir + "/qrels/test.tsv") << "q\td1\t1\n";
    const RunResult r = run_sinan({"kb", "eval", "--beir", dir});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "sinan: error: " + dir + "/corpus.jsonl:2: not a JSON object; fix or remove the line\n");
    EXPECT_TRUE(r.out.empty());
    fs::remove_all(dir);
}

TEST(KbEval, TinyDataSetGivesPerfectScores) {
    const std::string dir = make_temp_dir();
    fs::create_directories(dir + "/qrels");
    std::ofstream(dir + "/corpus.jsonl") << "{\"_id\": \"d1\", \"title\": \"Foxes\", \"text\": \"red foxes run\"}\n"
                                            "{\"_id\": \"d2\", \"text\": \"blue whales swim\"}\n";
    std::ofstream(dir + "/queries.jsonl")
        << "{\"_id\": \"q1\", \"text\": \"a fox\"}\n{\"_id\": \"q2\", \"text\": \"whale\"}\n";
    std::ofstream(dir + "/qrels/test.tsv") << "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n";
    const RunResult r = run_sinan({"kb", "eval", "--beir", dir, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out),
              nlohmann::json::parse(R"({"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0, "queries": 2})"));
    fs::remove_all(dir);
}

TEST(KbEval, MissingDirectoryFails) {
    const RunResult r = run_sinan({"kb", "eval", "--beir", "/nonexistent/beir"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("/nonexistent/beir: not a directory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sinan::test
