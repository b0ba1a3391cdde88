// `sinan kb create|add|ls|search|rm|jobs|resume` on the real binary, and crash safety: `kb add`
// killed with SIGKILL in the middle of a job loses nothing it acknowledged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "reranker_fixture.h"
#include "run_binary.h"
#include "store/sql_connection.h"

extern char** environ;

namespace sinan {
namespace {

namespace fs = std::filesystem;
using test::run_sinan;

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

class KbCli : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = test::make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }

    test::RunResult kb(std::vector<std::string> args) {
        args.insert(args.begin(), "kb");
        args.push_back("--data-dir");
        args.push_back(dir_ + "/data");
        return run_sinan(args);
    }

    // Starts `sinan kb add KB FOLDER [extra...]`, waits until it has acknowledged its job of
    // `n_files` ("queued: N files" on stderr) and is ingesting, then SIGKILLs it.
    void add_and_kill(const std::string& kb_name, const std::string& folder, int n_files,
                      const std::vector<std::string>& extra) {
        const std::string err_path = dir_ + "/add.err";
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        std::vector<std::string> args = {SINAN_BINARY, "kb", "add", kb_name, folder, "--data-dir", dir_ + "/data"};
        args.insert(args.end(), extra.begin(), extra.end());
        args = test::killed_with_parent(std::move(args));
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
        posix_spawn_file_actions_destroy(&fa);

        bool acknowledged = false;
        for (int i = 0; i < 6000 && !acknowledged; ++i) {
            acknowledged =
                read_file(err_path).find("queued: " + std::to_string(n_files) + " files") != std::string::npos;
            if (!acknowledged) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (!acknowledged) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        ASSERT_TRUE(acknowledged) << read_file(err_path);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_EQ(kill(pid, SIGKILL), 0);
        int status = 0;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status)) << "kb add finished before the kill; the test needs more files";
    }

    std::string dir_;
};

TEST_F(KbCli, CreateAddListSearchRemove) {
    write_file(dir_ + "/docs/guide.md",
               "# Install\n\nRun the installer as root. The ferret daemon listens on port 8443.\n\n"
               "# Usage\n\nOpen the console in a browser.\n");
    write_file(dir_ + "/docs/sub/fruit.txt", "Bananas are yellow and rich in potassium.\n");
    write_file(dir_ + "/docs/.hidden.txt", "never indexed");
    write_file(dir_ + "/docs/broken.pdf", "%PDF-1.7 truncated");

    test::RunResult r = kb({"create", "handbook", "--description", "ops docs"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("created knowledge base handbook"), std::string::npos);
    r = kb({"create", "handbook"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sinan: error: knowledge base handbook already exists"), std::string::npos) << r.err;

    r = kb({"add", "handbook", dir_ + "/docs", "--meta", "team=ops"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("2 added, 0 updated, 0 unchanged, 1 failed"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("sinan: failed: docs/broken.pdf: "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("broken.pdf: docs/broken.pdf"), std::string::npos) << "the name once: " << r.err;

    r = kb({"add", "handbook", dir_ + "/docs/sub/fruit.txt", dir_ + "/docs"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("1 added, 0 updated, 2 unchanged, 1 failed"), std::string::npos)
        << "fruit.txt is new under its bare name; the folder's files are unchanged: " << r.out;

    r = kb({"ls", "handbook", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json docs = nlohmann::json::parse(r.out);
    std::set<std::string> sources;
    for (const nlohmann::json& d : docs) sources.insert(d["source"].get<std::string>());
    EXPECT_EQ(sources, (std::set<std::string>{"docs/broken.pdf", "docs/guide.md", "docs/sub/fruit.txt", "fruit.txt"}));
    for (const nlohmann::json& d : docs) {
        if (d["source"] == "docs/guide.md") {
            EXPECT_EQ(d["status"], "ready");
            EXPECT_EQ(d["version"], 1);
            EXPECT_EQ(d["metadata"]["team"], "ops");
        }
        if (d["source"] == "docs/broken.pdf") {
            EXPECT_EQ(d["status"], "failed");
            EXPECT_FALSE(d["error"].get<std::string>().empty());
        }
    }

    r = kb({"search", "handbook", "which port does the ferret daemon use", "-k", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json hits = nlohmann::json::parse(r.out);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0]["source"], "docs/guide.md");
    EXPECT_NE(hits[0]["text"].get<std::string>().find("8443"), std::string::npos);
    EXPECT_FALSE(hits[0]["location"].get<std::string>().empty());

    // Changed content: version 2, the old text gone from search.
    write_file(dir_ + "/docs/guide.md", "# Install\n\nThe ferret daemon now listens on port 9000.\n");
    r = kb({"add", "handbook", dir_ + "/docs"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("0 added, 1 updated, 1 unchanged, 1 failed"), std::string::npos) << r.out;
    r = kb({"ls", "handbook", "--json"});
    for (const nlohmann::json& d : nlohmann::json::parse(r.out))
        if (d["source"] == "docs/guide.md") {
            EXPECT_EQ(d["version"], 2);
        }
    r = kb({"search", "handbook", "9000", "--json"});
    ASSERT_EQ(nlohmann::json::parse(r.out).size(), 1u) << r.out;

    r = kb({"rm", "handbook", "docs/guide.md"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = kb({"search", "handbook", "8443", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(nlohmann::json::parse(r.out).empty()) << r.out;

    r = kb({"jobs", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).size(), 3u);

    r = kb({"ls"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("handbook"), std::string::npos);
    r = kb({"rm", "handbook"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = kb({"ls", "handbook"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no knowledge base handbook"), std::string::npos) << r.err;
}

TEST_F(KbCli, AddExitsTwoWhenEveryFileFails) {
    ASSERT_EQ(kb({"create", "kb1"}).exit_code, 0);
    write_file(dir_ + "/a.pdf", "not a pdf at all");
    test::RunResult r = kb({"add", "kb1", dir_ + "/a.pdf"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sinan: failed: a.pdf: "), std::string::npos) << r.err;
    r = kb({"add", "kb1", dir_ + "/missing.txt"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no such file or folder"), std::string::npos) << r.err;
    r = kb({"add", "nokb", dir_ + "/a.pdf"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no knowledge base nokb"), std::string::npos) << r.err;
}

// SIGKILL `kb add` after its job was acknowledged ("job N queued" on stderr) and while it
// ingests; every file of the job must then be ingested by `kb resume`, and the database must
// pass SQLite's integrity check.
TEST_F(KbCli, KillNineDuringIngestionLosesNothingAcknowledged) {
    const int n_files = 600;  // enough that ingestion outlasts the kill even on tmpfs
    for (int i = 0; i < n_files; ++i)
        write_file(dir_ + "/many/doc" + std::to_string(1000 + i) + ".md",
                   "# Note " + std::to_string(i) + "\n\nThis note is about topic marker" + std::to_string(i) +
                       " and nothing else. It has a second sentence to make it a paragraph.\n");
    ASSERT_EQ(kb({"create", "crash"}).exit_code, 0);

    ASSERT_NO_FATAL_FAILURE(add_and_kill("crash", dir_ + "/many", n_files, {}));

    test::RunResult r = kb({"jobs", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json jobs = nlohmann::json::parse(r.out);
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0]["total"], n_files) << "the acknowledged job lists every file";
    std::printf("killed with %d of %d files done\n", jobs[0]["done"].get<int>(), n_files);
    if (jobs[0]["done"].get<int>() < n_files) {
        EXPECT_EQ(jobs[0]["status"], "interrupted");
    }

    r = kb({"resume"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = kb({"ls", "crash", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json docs = nlohmann::json::parse(r.out);
    ASSERT_EQ(docs.size(), static_cast<size_t>(n_files));
    for (const nlohmann::json& d : docs) EXPECT_EQ(d["status"], "ready") << d.dump();
    r = kb({"jobs", "--json"});
    EXPECT_EQ(nlohmann::json::parse(r.out)[0]["status"], "done");
    EXPECT_TRUE(fs::is_empty(dir_ + "/data/uploads")) << "the job's uploads are removed once it is done";
    r = kb({"search", "crash", "marker" + std::to_string(n_files - 1), "--json"});
    ASSERT_EQ(nlohmann::json::parse(r.out).size(), 1u);

    Result<std::unique_ptr<store::SqlConnection>> db = store::open_sqlite(dir_ + "/data/knowledge.db");
    ASSERT_TRUE(db.ok()) << db.message();
    Result<std::vector<store::SqlRow>> check = (*db)->query("PRAGMA integrity_check");
    ASSERT_TRUE(check.ok()) << check.message();
    EXPECT_EQ(check->front().text(0), "ok");
}

// `kb add --embedding-model` stores vectors; `kb search --mode dense|hybrid` searches by them.
TEST_F(KbCli, AddWithAnEmbeddingModelThenSearchDenseAndHybrid) {
    const std::string model = std::string(SINAN_SHARED_DIR) + "/models/bert-tiny-f32.gguf";
    if (!fs::exists(model)) GTEST_SKIP() << model << " is absent";
    write_file(dir_ + "/docs/cats.txt", "The cat sat on the warm mat and watched the garden.\n");
    write_file(dir_ + "/docs/bread.txt", "Bread is baked in a hot oven for forty minutes.\n");
    write_file(dir_ + "/docs/rivers.txt", "Rivers carry water and sand from the mountains to the sea.\n");
    ASSERT_EQ(kb({"create", "notes"}).exit_code, 0);
    test::RunResult r = kb({"add", "notes", dir_ + "/docs", "--embedding-model", model});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    r = kb({"search", "notes", "Rivers carry water and sand from the mountains to the sea.", "--mode", "dense",
            "--embedding-model", model, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json hits = nlohmann::json::parse(r.out);
    ASSERT_EQ(hits.size(), 3u);  // every chunk has a vector
    EXPECT_EQ(hits[0]["source"], "docs/rivers.txt");
    EXPECT_EQ(hits[0]["dense_rank"], 1);
    EXPECT_EQ(hits[0]["lexical_rank"], 0);

    r = kb({"search", "notes", "oven", "--embedding-model", model, "--json"});  // auto: hybrid
    ASSERT_EQ(r.exit_code, 0) << r.err;
    hits = nlohmann::json::parse(r.out);
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0]["source"], "docs/bread.txt");
    EXPECT_EQ(hits[0]["lexical_rank"], 1);
    EXPECT_GT(hits[0]["dense_rank"].get<int>(), 0);

    r = kb({"search", "notes", "oven", "--json"});  // no model: lexical
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);

    r = kb({"search", "notes", "oven", "--mode", "dense"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sinan: error: dense search of knowledge base notes needs an embedding model"),
              std::string::npos)
        << r.err;
    r = kb({"search", "notes", "oven", "--mode", "sideways"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sideways"), std::string::npos) << r.err;
    r = kb({"add", "notes", dir_ + "/docs", "--embedding-model", dir_ + "/missing.gguf"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;

    // kb ask finds passages by vectors too: no word of the question is in any document, so only
    // the dense side of hybrid search returns passages.
    r = kb({"ask", "notes", "Zyxwv qwerty?", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(nlohmann::json::parse(r.out)["citations"].empty()) << r.out;
    r = kb({"ask", "notes", "Zyxwv qwerty?", "--embedding-model", model, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["citations"].size(), 3u) << r.out;
}

// `kb search --reranker-model` returns the passages `sinan rerank` scores highest, in its order.
TEST_F(KbCli, SearchWithARerankerReturnsItsBestPassages) {
    const std::string reranker = test::reranker_fixture();
    if (reranker.empty()) GTEST_SKIP() << test::bert_tiny_path() << " is absent; no reranker fixture";
    const std::vector<std::string> texts = {
        "The budget report lists the costs of every team for the year.",
        "A weather report: rain in the north, sun in the south.",
        "Report, report, report: this note says report many times over.",
        "The audit report found no errors in the accounts.",
        "The incident report describes the outage and how it was fixed.",
    };
    for (size_t i = 0; i < texts.size(); ++i) write_file(dir_ + "/docs/d" + std::to_string(i) + ".txt", texts[i] + "\n");
    ASSERT_EQ(kb({"create", "notes"}).exit_code, 0);
    ASSERT_EQ(kb({"add", "notes", dir_ + "/docs"}).exit_code, 0);

    std::vector<std::string> args = {"rerank", "-m", reranker, "--query", "report", "--json"};
    args.insert(args.end(), texts.begin(), texts.end());
    test::RunResult r = run_sinan(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json best = nlohmann::json::parse(r.out)["results"];

    r = kb({"search", "notes", "report", "-k", "2", "--reranker-model", reranker, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json hits = nlohmann::json::parse(r.out);
    ASSERT_EQ(hits.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(hits[i]["source"], "docs/d" + std::to_string(best[i]["index"].get<int>()) + ".txt") << r.out;
        EXPECT_FLOAT_EQ(hits[i]["rerank_score"].get<float>(), best[i]["relevance_score"].get<float>());
    }
    r = kb({"search", "notes", "report", "-k", "2", "--reranker-model", reranker});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("(rerank score "), std::string::npos) << r.out;

    r = kb({"search", "notes", "report", "--reranker-model", test::bert_tiny_path()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not a cross-encoder reranker"), std::string::npos) << r.err;
    r = run_sinan({"kb", "search", "notes", "report", "--reranker-model", reranker, "--server", "http://127.0.0.1:9"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "sinan: error: --reranker-model is the server's own (sinan serve --reranker-model)\n");
}

// `kb resume --embedding-model` embeds the documents it finishes, as `kb add` would have.
TEST_F(KbCli, ResumeWithAnEmbeddingModelEmbedsWhatItIngests) {
    const std::string model = std::string(SINAN_SHARED_DIR) + "/models/bert-tiny-f32.gguf";
    if (!fs::exists(model)) GTEST_SKIP() << model << " is absent";
    const int n_files = 300;
    for (int i = 0; i < n_files; ++i)
        write_file(dir_ + "/many/doc" + std::to_string(1000 + i) + ".md",
                   "# Note " + std::to_string(i) + "\n\nThis note is about topic marker" + std::to_string(i) + ".\n");
    ASSERT_EQ(kb({"create", "crash"}).exit_code, 0);
    ASSERT_NO_FATAL_FAILURE(add_and_kill("crash", dir_ + "/many", n_files, {"--embedding-model", model}));
    test::RunResult r = kb({"jobs", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const int done = nlohmann::json::parse(r.out)[0]["done"].get<int>();
    if (done == n_files) GTEST_SKIP() << "every file was ingested before the kill; nothing left to resume";

    r = kb({"resume", "--embedding-model", model});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = kb({"search", "crash", "topic", "--mode", "dense", "--embedding-model", model, "-k", "1000", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).size(), static_cast<size_t>(n_files)) << "every chunk has a vector";
}

}  // namespace
}  // namespace sinan
