// `sinan kb ask` on the real binary: locally an extractive answer with its sources, "I don't know"
// under --grounded, JSON; with --server, the answer of a real `sinan serve` over HTTP. And every
// other `kb` command with --server against that server: the same tables and JSON as on the store.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "knowledge/grounding.h"
#include "reranker_fixture.h"
#include "run_binary.h"
#include "serve_process.h"

namespace sinan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_sinan;

class KbAsk : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = test::make_temp_dir();
        std::ofstream(dir_ + "/leave.md") << "# Leave\n\nEmployees get 25 days of paid leave per year.\n\n"
                                             "# Travel\n\nTrains are booked through the travel portal.\n";
        ASSERT_EQ(kb({"create", "hr"}).exit_code, 0);
        ASSERT_EQ(kb({"add", "hr", dir_ + "/leave.md"}).exit_code, 0);
    }
    void TearDown() override { fs::remove_all(dir_); }

    test::RunResult kb(std::vector<std::string> args) {
        args.insert(args.begin(), "kb");
        args.insert(args.end(), {"--data-dir", dir_ + "/data"});
        return run_sinan(args);
    }
    std::string dir_;
};

TEST_F(KbAsk, AnswersExtractivelyWithItsSources) {
    const test::RunResult r = kb({"ask", "hr", "How many days of paid leave do employees get?"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Employees get 25 days of paid leave per year. [1]", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("[1] leave.md"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("extractive"), std::string::npos) << r.err;

    const test::RunResult j = kb({"ask", "hr", "How are trains booked?", "--json"});
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const json out = json::parse(j.out);
    EXPECT_NE(out["answer"].get<std::string>().find("travel portal"), std::string::npos) << j.out;
    ASSERT_FALSE(out["citations"].empty());
    EXPECT_EQ(out["citations"][0]["document"], "leave.md");
    EXPECT_EQ(out["grounding"]["mode"], "extractive");
}

TEST_F(KbAsk, GroundedWithoutSupportSaysItDoesNotKnow) {
    const test::RunResult r = kb({"ask", "hr", "What is the capital of Peru?", "--grounded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::string(knowledge::kNoSupportAnswer) + "\n");
}

TEST_F(KbAsk, UnknownKnowledgeBaseIsAnErrorNamingIt) {
    const test::RunResult r = kb({"ask", "nope", "anything"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no knowledge base nope"), std::string::npos) << r.err;
}

TEST_F(KbAsk, AsksARunningServer) {
    test::ServeProcess server;
    std::string why;
    const std::string models = dir_ + "/no-models";
    fs::create_directories(models);
    ASSERT_TRUE(server.start({"--data-dir", dir_ + "/data", "--models-dir", models, "--api-keys", "off"}, &why)) << why;
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    const test::RunResult r = run_sinan({"kb", "ask", "hr", "How many days of paid leave?", "--server", url, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["grounding"]["knowledge_base"], "hr");
    EXPECT_NE(out["answer"].get<std::string>().find("25 days"), std::string::npos) << r.out;

    const test::RunResult missing = run_sinan({"kb", "ask", "nope", "x", "--server", url});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("404"), std::string::npos) << missing.err;
    server.stop(SIGTERM);
    const test::RunResult down = run_sinan({"kb", "ask", "hr", "x", "--server", url});
    EXPECT_EQ(down.exit_code, 2);
    EXPECT_NE(down.err.find("cannot reach"), std::string::npos) << down.err;
}

TEST_F(KbAsk, EveryKbCommandWorksOnARunningServer) {
    test::ServeProcess server;
    std::string why;
    const std::string models = dir_ + "/no-models";
    fs::create_directories(models);
    const std::string served = dir_ + "/served";
    ASSERT_TRUE(server.start({"--data-dir", served, "--models-dir", models, "--api-keys", "off"}, &why)) << why;
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    auto remote = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "kb");
        args.insert(args.end(), {"--server", url});
        return run_sinan(args);
    };
    test::RunResult r = remote({"create", "ops", "--description", "operations"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ofstream(dir_ + "/parking.md") << "# Parking\n\nParking is free for staff in the north garage.\n";
    std::ofstream(dir_ + "/blob.bin") << std::string("\x00\x01\x02", 3) + " not a document";
    r = remote({"add", "ops", dir_ + "/parking.md", dir_ + "/leave.md", "--meta", "dept=facilities"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("2 added"), std::string::npos) << r.out;

    r = remote({"ls", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json kbs = json::parse(r.out);
    ASSERT_EQ(kbs.size(), 1u) << r.out;
    EXPECT_EQ(kbs[0]["name"], "ops");
    EXPECT_EQ(kbs[0]["documents"], 2);
    r = remote({"ls", "ops"});
    EXPECT_NE(r.out.find("parking.md"), std::string::npos) << r.out;

    r = remote({"search", "ops", "north garage parking", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json hits = json::parse(r.out);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0]["source"], "parking.md");
    EXPECT_EQ(hits[0]["lexical_rank"], 1);

    r = remote({"jobs", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json jobs = json::parse(r.out);
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0]["knowledge_base"], "ops");
    EXPECT_EQ(jobs[0]["status"], "done");

    r = remote({"rm", "ops", "parking.md"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = remote({"search", "ops", "north garage parking", "--json"});
    EXPECT_TRUE(json::parse(r.out).empty()) << r.out;
    r = remote({"rm", "ops", "parking.md"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;

    // A file the server cannot read is reported; all of them failing is exit code 2.
    r = remote({"add", "ops", dir_ + "/blob.bin"});
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("blob.bin"), std::string::npos) << r.err;

    // The server's store holds them, not the local one.
    EXPECT_EQ(kb({"ls", "ops"}).exit_code, 2);
    r = remote({"rm", "ops"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(remote({"ls", "ops"}).exit_code, 2);
    EXPECT_EQ(remote({"resume"}).exit_code, 2);
}

// A server started with --reranker-model re-ranks knowledge-base searches with it: the REST search
// (through kb search --server) returns the passages `sinan rerank` scores highest, in its order;
// "rerank": false (--no-rerank) keeps retrieval's order.
TEST_F(KbAsk, AServerWithARerankerReranksItsSearches) {
    const std::string reranker = test::reranker_fixture();
    if (reranker.empty()) GTEST_SKIP() << test::bert_tiny_path() << " is absent; no reranker fixture";
    test::ServeProcess server;
    std::string why;
    const std::string models = dir_ + "/no-models";
    fs::create_directories(models);
    ASSERT_TRUE(server.start({"--data-dir", dir_ + "/served", "--models-dir", models, "--api-keys", "off",
                              "--reranker-model", reranker},
                             &why))
        << why;
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    const std::vector<std::string> texts = {
        "The budget report lists the costs of every team for the year.",
        "A weather report: rain in the north, sun in the south.",
        "Report, report, report: this note says report many times over.",
        "The audit report found no errors in the accounts.",
    };
    std::vector<std::string> add = {"kb", "add", "notes", "--server", url};
    for (size_t i = 0; i < texts.size(); ++i) {
        const std::string path = dir_ + "/d" + std::to_string(i) + ".txt";
        std::ofstream(path) << texts[i] << "\n";
        add.push_back(path);
    }
    ASSERT_EQ(run_sinan({"kb", "create", "notes", "--server", url}).exit_code, 0);
    test::RunResult r = run_sinan(add);
    ASSERT_EQ(r.exit_code, 0) << r.err;

    std::vector<std::string> args = {"rerank", "-m", reranker, "--query", "report", "--json"};
    args.insert(args.end(), texts.begin(), texts.end());
    r = run_sinan(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json best = json::parse(r.out)["results"];

    r = run_sinan({"kb", "search", "notes", "report", "-k", "2", "--server", url, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json hits = json::parse(r.out);
    ASSERT_EQ(hits.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(hits[i]["source"], "d" + std::to_string(best[i]["index"].get<int>()) + ".txt") << r.out;
        EXPECT_FLOAT_EQ(hits[i]["rerank_score"].get<float>(), best[i]["relevance_score"].get<float>());
    }
    r = run_sinan({"kb", "search", "notes", "report", "-k", "2", "--server", url, "--json", "--no-rerank"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const json& p : json::parse(r.out)) EXPECT_FALSE(p.contains("rerank_score")) << r.out;
}

// `kb add --server` streams each file from disk: the client's peak memory stays far below the size
// of what it uploads (reading the files into memory first would need all of it, twice over).
TEST_F(KbAsk, RemoteAddStreamsFilesFromDisk) {
    test::ServeProcess server;
    std::string why;
    const std::string models = dir_ + "/no-models";
    fs::create_directories(models);
    ASSERT_TRUE(server.start({"--data-dir", dir_ + "/served", "--models-dir", models, "--api-keys", "off"}, &why))
        << why;
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    ASSERT_EQ(run_sinan({"kb", "create", "big", "--server", url}).exit_code, 0);
    constexpr size_t kMiB = size_t{1} << 20;
    {
        // Not a PDF (its extraction fails at once, so the test does not wait for ingestion).
        std::ofstream big(dir_ + "/big.pdf", std::ios::binary);
        const std::string block(kMiB, 'x');
        for (int i = 0; i < 96; ++i) big << block;
    }
    std::ofstream(dir_ + "/small.md") << "# Small\n\nA small document sent after the big one.\n";
    const test::RunResult r =
        run_sinan({"kb", "add", "big", dir_ + "/big.pdf", dir_ + "/small.md", "--server", url});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("big.pdf"), std::string::npos) << r.err;  // reported as failed
    EXPECT_NE(r.out.find("1 added"), std::string::npos) << r.out;
// Not under the sanitizers: the debug build's AddressSanitizer keeps freed memory in quarantine (up
// to 256 MiB); ThreadSanitizer's shadow memory is in the resident set (`sinan --version` alone 40 MB).
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    EXPECT_LT(r.max_rss_kib, 48 * 1024) << "kb add --server peaked at " << r.max_rss_kib << " KiB for 96 MiB of files";
#endif
}

}  // namespace
}  // namespace sinan
