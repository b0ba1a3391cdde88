// `sinan kb ask` on the real binary: locally an extractive answer with its sources, "I don't know"
// under --grounded, JSON; with --server, the answer of a real `sinan serve` over HTTP.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "knowledge/grounding.h"
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

}  // namespace
}  // namespace sinan
