// KnowledgeBaseService on a real store: SQLite in a temp data directory and a PostgreSQL server
// started by the test (tests/store/postgres_server.h; skipped when absent).
#include "knowledge/knowledge_base.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "postgres_server.h"
#include "run_binary.h"

namespace sinan::knowledge {
namespace {

namespace fs = std::filesystem;
using store::FileStatus;
using store::JobStatus;

const char* kGuide =
    "# Install\n\nRun the installer as root. The ferret daemon listens on port 8443 once installed.\n\n"
    "# Usage\n\nOpen the console in a browser and sign in with the admin account.\n";

std::string random_bytes(size_t n) {
    std::mt19937 rng(42);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xff);
    s[0] = '\0';  // not text
    return s;
}

class KnowledgeBaseTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        options_.data_dir = test::make_temp_dir();
        if (GetParam() == "postgres") {
            std::string why;
            test::PostgresServer* pg = test::PostgresServer::shared(&why);
            if (pg == nullptr) GTEST_SKIP() << why;
            options_.store_spec = pg->create_database();
        }
        service_ = open();
        ASSERT_NE(service_, nullptr);
        ASSERT_TRUE(service_->create("handbook", "ops docs").ok());
    }
    void TearDown() override {
        service_.reset();
        fs::remove_all(options_.data_dir);
    }

    std::unique_ptr<KnowledgeBaseService> open() {
        Result<std::unique_ptr<KnowledgeBaseService>> s = KnowledgeBaseService::open(options_);
        EXPECT_TRUE(s.ok()) << s.message();
        return s.ok() ? std::move(*s) : nullptr;
    }

    AddResult add(const std::string& source, const std::string& text, const std::string& meta = "") {
        Result<AddResult> r = service_->add_document("handbook", source, text, meta);
        EXPECT_TRUE(r.ok()) << r.message();
        return r.ok() ? *r : AddResult{};
    }

    std::vector<Passage> search(const std::string& q, size_t k = 5, const MetadataFilter& filter = {}) {
        Result<std::vector<Passage>> r = service_->search("handbook", q, k, filter);
        EXPECT_TRUE(r.ok()) << r.message();
        return r.ok() ? *r : std::vector<Passage>{};
    }

    // `n` writers adding `source` at the same moment, writer i with content(i), the even ones
    // through service_ and the odd ones through `other` (a second process on the same store).
    std::vector<Result<AddResult>> add_at_once(KnowledgeBaseService& other, int n, const std::string& source,
                                               const std::function<std::string(int)>& content) {
        std::vector<Result<AddResult>> results(static_cast<size_t>(n), Status::error("not run"));
        std::latch go(n);
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i)
            threads.emplace_back([&, i] {
                const std::string bytes = content(i);
                go.arrive_and_wait();
                results[i] = (i % 2 == 0 ? *service_ : other).add_document("handbook", source, bytes);
            });
        for (std::thread& t : threads) t.join();
        return results;
    }

    KnowledgeBaseOptions options_;
    std::unique_ptr<KnowledgeBaseService> service_;
};

TEST_P(KnowledgeBaseTest, ReAddingUnchangedContentDoesNothing) {
    const AddResult first = add("guide.md", kGuide);
    EXPECT_EQ(first.status, FileStatus::kAdded);
    EXPECT_EQ(first.version, 1);
    EXPECT_GT(first.n_chunks, 0);
    const AddResult again = add("guide.md", kGuide);
    EXPECT_EQ(again.status, FileStatus::kUnchanged);
    EXPECT_EQ(again.document_id, first.document_id);
    EXPECT_EQ(again.version, 1);
    Result<std::vector<store::DocumentRow>> docs = service_->documents("handbook");
    ASSERT_EQ(docs->size(), 1u);
    EXPECT_EQ((*docs)[0].version, 1);
    EXPECT_EQ((*docs)[0].content_sha256, sha256_hex(kGuide));
}

TEST_P(KnowledgeBaseTest, ChangedContentBumpsTheVersionAndReplacesTheChunks) {
    add("notes.txt", "The quarterly budget review happens in March.");
    ASSERT_EQ(search("budget").size(), 1u);
    const AddResult updated = add("notes.txt", "The onboarding checklist lives in the wiki.");
    EXPECT_EQ(updated.status, FileStatus::kUpdated);
    EXPECT_EQ(updated.version, 2);
    EXPECT_TRUE(search("budget").empty()) << "the old version's chunks are gone";
    const std::vector<Passage> hits = search("onboarding checklist");
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].source, "notes.txt");
    EXPECT_EQ(service_->documents("handbook")->front().version, 2);
}

TEST_P(KnowledgeBaseTest, SearchReturnsThePassageWithSourceAndLocation) {
    add("guide.md", kGuide);
    add("fruit.txt", "Bananas are yellow and rich in potassium.");
    const std::vector<Passage> hits = search("which port does the ferret daemon listen on");
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].source, "guide.md");
    EXPECT_EQ(hits[0].location, "Install");
    EXPECT_NE(hits[0].text.find("8443"), std::string::npos);
    EXPECT_GT(hits[0].score, 0);
    const std::vector<Passage> fruit = search("potassium");
    ASSERT_EQ(fruit.size(), 1u);
    EXPECT_EQ(fruit[0].source, "fruit.txt");
}

TEST_P(KnowledgeBaseTest, MetadataFiltersSearches) {
    add("a.txt", "Backups run nightly at two.", R"({"team": "ops"})");
    add("b.txt", "Backups of laptops are the owner's job.", R"({"team": "it"})");
    MetadataFilter ops;
    ops.equals = {{"team", "ops"}};
    const std::vector<Passage> hits = search("backups", 5, ops);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].source, "a.txt");
    EXPECT_EQ(search("backups").size(), 2u);
}

TEST_P(KnowledgeBaseTest, DeletedDocumentsAndKnowledgeBasesLeaveSearch) {
    add("guide.md", kGuide);
    add("fruit.txt", "Bananas are yellow.");
    ASSERT_TRUE(service_->remove_document("handbook", "guide.md").ok());
    EXPECT_TRUE(search("ferret daemon").empty());
    Status again = service_->remove_document("handbook", "guide.md");
    ASSERT_FALSE(again.is_ok());
    EXPECT_NE(again.message().find("has no document guide.md"), std::string::npos) << again.message();
    ASSERT_TRUE(service_->remove("handbook").ok());
    Result<std::vector<Passage>> gone = service_->search("handbook", "bananas", 5);
    ASSERT_FALSE(gone.ok());
    EXPECT_NE(gone.message().find("no knowledge base handbook"), std::string::npos) << gone.message();
}

TEST_P(KnowledgeBaseTest, BadNamesAndMetadataAreErrors) {
    EXPECT_FALSE(service_->create("", "").ok());
    EXPECT_FALSE(service_->create("../etc", "").ok());
    EXPECT_FALSE(service_->create("has space", "").ok());
    Result<store::KnowledgeBaseRow> dup = service_->create("handbook", "");
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.message().find("already exists"), std::string::npos);
    Result<AddResult> bad_meta = service_->add_document("handbook", "a.txt", "text", "[1, 2]");
    ASSERT_FALSE(bad_meta.ok());
    EXPECT_NE(bad_meta.message().find("not a JSON object"), std::string::npos) << bad_meta.message();
}

TEST_P(KnowledgeBaseTest, AJobRecordsPerFileFailuresAndGoesOn) {
    Result<Upload> up = service_->begin_upload("handbook");
    ASSERT_TRUE(up.ok()) << up.message();
    ASSERT_TRUE(up->begin_file("guide.md").ok());
    ASSERT_TRUE(up->write(std::string(kGuide).substr(0, 20)).ok());
    ASSERT_TRUE(up->write(std::string(kGuide).substr(20)).ok());
    ASSERT_TRUE(up->end_file().ok());
    ASSERT_TRUE(up->begin_file("scan.pdf").ok());
    ASSERT_TRUE(up->write(random_bytes(4000)).ok());
    ASSERT_TRUE(up->end_file().ok());
    ASSERT_TRUE(up->begin_file("fruit.txt").ok());
    ASSERT_TRUE(up->write("Bananas are yellow.").ok());
    ASSERT_TRUE(up->end_file().ok());
    Result<store::JobRow> job = service_->submit(std::move(*up), R"({"batch": "1"})");
    ASSERT_TRUE(job.ok()) << job.message();
    EXPECT_EQ(job->n_total, 3);
    service_->wait_idle();

    Result<store::JobRow> done = service_->job(job->id);
    ASSERT_TRUE(done.ok()) << done.message();
    EXPECT_EQ(done->status, JobStatus::kDone);
    EXPECT_EQ(done->n_done, 3);
    EXPECT_EQ(done->files[0].status, FileStatus::kAdded);
    EXPECT_EQ(done->files[1].status, FileStatus::kFailed);
    EXPECT_NE(done->files[1].message.find("scan.pdf"), std::string::npos) << done->files[1].message;
    EXPECT_EQ(done->files[2].status, FileStatus::kAdded);
    EXPECT_FALSE(fs::exists(fs::path(options_.data_dir) / done->upload_dir)) << "uploads are removed after the job";

    Result<std::vector<store::DocumentRow>> docs = service_->documents("handbook");
    ASSERT_EQ(docs->size(), 3u);  // by source: fruit.txt, guide.md, scan.pdf
    EXPECT_EQ((*docs)[2].source, "scan.pdf");
    EXPECT_EQ((*docs)[2].status, store::DocumentStatus::kFailed);
    EXPECT_EQ((*docs)[2].error, done->files[1].message);
    EXPECT_EQ((*docs)[1].status, store::DocumentStatus::kReady);
    EXPECT_EQ((*docs)[1].metadata_json, R"({"batch":"1"})");
    EXPECT_EQ(search("ferret").size(), 1u);
}

// Deleting a knowledge base whose jobs are still queued (the worker busy with an earlier one)
// deletes their rows with it; their uploaded files go too, not only at the next start.
TEST_P(KnowledgeBaseTest, DeletingAKnowledgeBaseRemovesTheUploadsOfItsQueuedJobs) {
    auto submit = [&](int n_files, size_t words) -> int64_t {
        Result<Upload> up = service_->begin_upload("handbook");
        EXPECT_TRUE(up.ok()) << up.message();
        if (!up.ok()) return 0;
        std::string text;
        for (size_t w = 0; w < words; ++w) text += "word" + std::to_string(w % 977) + (w % 12 == 11 ? ".\n\n" : " ");
        for (int i = 0; i < n_files; ++i) {
            EXPECT_TRUE(up->begin_file("f" + std::to_string(i) + ".txt").ok());
            EXPECT_TRUE(up->write(text).ok());
            EXPECT_TRUE(up->end_file().ok());
        }
        Result<store::JobRow> job = service_->submit(std::move(*up));
        EXPECT_TRUE(job.ok()) << job.message();
        return job.ok() ? job->id : 0;
    };
    submit(20, 40000);  // keeps the worker busy
    const int64_t queued = submit(3, 100);
    ASSERT_NE(queued, 0);
    EXPECT_EQ(service_->job(queued)->status, JobStatus::kQueued);
    ASSERT_TRUE(service_->remove("handbook").is_ok());
    service_->wait_idle();
    std::vector<std::string> left;
    for (const fs::directory_entry& e : fs::directory_iterator(fs::path(options_.data_dir) / "uploads"))
        left.push_back(e.path().filename().string());
    EXPECT_TRUE(left.empty()) << left.size() << " upload directories left, e.g. " << left.front();
}

TEST_P(KnowledgeBaseTest, AFailedUpdateKeepsThePreviousVersion) {
    ASSERT_EQ(add("report.txt", "Revenue grew in the third quarter.").status, FileStatus::kAdded);
    Result<AddResult> r = service_->add_document("handbook", "report.txt", random_bytes(1000));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, FileStatus::kFailed);
    EXPECT_FALSE(r->message.empty());
    EXPECT_EQ(search("revenue").size(), 1u);
    EXPECT_EQ(service_->documents("handbook")->front().status, store::DocumentStatus::kReady);
}

TEST_P(KnowledgeBaseTest, JobsLeftByADeadProcessAreResumedOrReportedInterrupted) {
    // What a process killed after acknowledging two jobs leaves behind: job rows, and for the
    // first its upload directory with one file already done.
    Result<std::unique_ptr<store::Store>> st = store::Store::open(options_.store_spec, options_.data_dir);
    ASSERT_TRUE(st.ok()) << st.message();
    const int64_t kb_id = service_->get("handbook")->id;
    service_.reset();
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const fs::path dir = fs::path(options_.data_dir) / "uploads" / "deadbeef";
    fs::create_directories(dir);
    std::ofstream(dir / "000000") << "This file was ingested before the crash.";
    std::ofstream(dir / "000001") << kGuide;
    store::JobRow job;
    job.kb_id = kb_id;
    job.upload_dir = "uploads/deadbeef";
    job.host = host;
    job.files = {{0, "first.txt", "000000", 40, FileStatus::kPending, ""},
                 {1, "guide.md", "000001", 100, FileStatus::kPending, ""}};
    Result<store::JobRow> made = (*st)->create_job(job);
    ASSERT_TRUE(made.ok());
    ASSERT_TRUE((*st)->set_job_status(made->id, JobStatus::kRunning).ok());
    ASSERT_TRUE((*st)->set_job_file(made->id, 0, FileStatus::kAdded, "").ok());
    job.upload_dir = "uploads/lost";
    Result<store::JobRow> lost = (*st)->create_job(job);
    ASSERT_TRUE(lost.ok());
    fs::create_directories(fs::path(options_.data_dir) / "uploads" / "never-committed");

    // A service that does not resume reports both as interrupted.
    options_.resume_jobs = false;
    service_ = open();
    EXPECT_EQ(service_->job(made->id)->status, JobStatus::kInterrupted);
    service_.reset();

    options_.resume_jobs = true;
    service_ = open();
    ASSERT_NE(service_, nullptr);
    EXPECT_EQ(service_->resumed_jobs(), std::vector<int64_t>{made->id});
    service_->wait_idle();
    Result<store::JobRow> resumed = service_->job(made->id);
    EXPECT_EQ(resumed->status, JobStatus::kDone);
    EXPECT_EQ(resumed->files[0].status, FileStatus::kAdded) << "a file done before the crash is not redone";
    EXPECT_EQ(resumed->files[1].status, FileStatus::kAdded);
    EXPECT_EQ(search("ferret daemon").size(), 1u);
    EXPECT_TRUE(search("crash").empty()) << "the first file's outcome was recorded; it is not ingested twice";

    Result<store::JobRow> interrupted = service_->job(lost->id);
    EXPECT_EQ(interrupted->status, JobStatus::kInterrupted);
    EXPECT_NE(interrupted->error.find("is gone"), std::string::npos) << interrupted->error;
    EXPECT_EQ(interrupted->files[1].status, FileStatus::kFailed);
    EXPECT_FALSE(fs::exists(fs::path(options_.data_dir) / "uploads" / "never-committed"))
        << "an upload no job acknowledged is removed";
}

// A vector index save killed mid-way leaves its temporary file in <data-dir>/vectors; the next
// start that resumes jobs (sinan serve, kb add) removes it, a start that does not leaves it.
TEST_P(KnowledgeBaseTest, AStartThatResumesJobsRemovesTheFilesOfVectorSavesCutShort) {
    service_.reset();
    const fs::path vectors = fs::path(options_.data_dir) / "vectors";
    fs::create_directories(vectors);
    const fs::path left = vectors / "kb-1-0123456789abcdef.hnsw.tmp.4242.0";
    std::ofstream(left) << "half a vector index";
    fs::last_write_time(left, fs::file_time_type::clock::now() - std::chrono::minutes(5));
    options_.resume_jobs = false;
    service_ = open();
    EXPECT_TRUE(fs::exists(left));
    service_.reset();
    options_.resume_jobs = true;
    service_ = open();
    ASSERT_NE(service_, nullptr);
    EXPECT_FALSE(fs::exists(left));
}

TEST_P(KnowledgeBaseTest, AReplicaSharingTheStoreSeesTheOthersChanges) {
    std::unique_ptr<KnowledgeBaseService> other = open();  // a second process on the same store
    ASSERT_NE(other, nullptr);
    add("fruit.txt", "Bananas are yellow.");
    ASSERT_EQ(other->search("handbook", "bananas", 5)->size(), 1u);
    add("guide.md", kGuide);
    EXPECT_EQ(other->search("handbook", "ferret daemon", 5)->size(), 1u) << "a document added elsewhere";
    ASSERT_TRUE(service_->remove_document("handbook", "fruit.txt").ok());
    EXPECT_TRUE(other->search("handbook", "bananas", 5)->empty()) << "a document deleted elsewhere";
}

TEST_P(KnowledgeBaseTest, ChineseTextIsSearchable) {
    add("zh.md", "# 安装\n\n运行安装程序。服务监听端口八四四三。\n\n# 使用\n\n在浏览器中打开控制台。\n");
    const std::vector<Passage> hits = search("控制台");
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].source, "zh.md");
    EXPECT_NE(hits[0].text.find("控制台"), std::string::npos);
    EXPECT_TRUE(search("香蕉").empty());
}

// Two replicas (and threads in each) adding the same source at once, with different contents:
// every add succeeds (the first to commit adds it, the others put theirs over it as updates, each
// a version of its own), and the document ends as one of the contents, whole.
TEST_P(KnowledgeBaseTest, TheSameSourceAddedAtOnceEverywhereEndsAsOneOfTheContents) {
    std::unique_ptr<KnowledgeBaseService> other = open();
    ASSERT_NE(other, nullptr);
    constexpr int kThreads = 6;
    for (int round = 0; round < 5; ++round) {
        const std::vector<Result<AddResult>> results = add_at_once(*other, kThreads, "same.md", [&](int i) {
            return "# Page\n\nRound " + std::to_string(round) + " writer " + std::to_string(i) +
                   " wrote this page about ferrets.\n";
        });
        int added = 0;
        for (int i = 0; i < kThreads; ++i) {
            ASSERT_TRUE(results[i].ok()) << "round " << round << " writer " << i << ": " << results[i].message();
            added += results[i]->status == FileStatus::kAdded;
            EXPECT_TRUE(results[i]->status == FileStatus::kAdded || results[i]->status == FileStatus::kUpdated)
                << results[i]->message;
        }
        EXPECT_EQ(added, round == 0 ? 1 : 0) << "round " << round;
        Result<std::vector<store::DocumentRow>> docs = service_->documents("handbook");
        ASSERT_TRUE(docs.ok()) << docs.message();
        ASSERT_EQ(docs->size(), 1u);
        EXPECT_EQ((*docs)[0].status, store::DocumentStatus::kReady);
        EXPECT_EQ((*docs)[0].version, kThreads * (round + 1)) << "every writer's content a version of its own";
        const std::vector<Passage> hits = search("ferrets", 10);
        ASSERT_EQ(hits.size(), 1u) << "round " << round;
        EXPECT_NE(hits[0].text.find("Round " + std::to_string(round) + " writer "), std::string::npos) << hits[0].text;
    }
}

// A new source added at once by one writer with text and by others with bytes that fail
// extraction: whichever commits first, the failures never hide the good version (a failure over
// an existing document leaves it, as for a document added before).
TEST_P(KnowledgeBaseTest, FailedAddsRacingAGoodOneNeverHideIt) {
    std::unique_ptr<KnowledgeBaseService> other = open();
    ASSERT_NE(other, nullptr);
    constexpr int kThreads = 6;
    const std::string junk = random_bytes(2000);
    for (int round = 0; round < 5; ++round) {
        const std::string source = "page" + std::to_string(round) + ".md";
        const std::vector<Result<AddResult>> results = add_at_once(*other, kThreads, source, [&](int i) {
            return i == 0 ? "# Page\n\nThe good page of round " + std::to_string(round) + " about otters.\n" : junk;
        });
        for (int i = 0; i < kThreads; ++i) {
            ASSERT_TRUE(results[i].ok()) << "round " << round << " writer " << i << ": " << results[i].message();
            EXPECT_EQ(results[i]->status, i == 0 ? FileStatus::kAdded : FileStatus::kFailed) << results[i]->message;
        }
        Result<std::vector<store::DocumentRow>> docs = service_->documents("handbook");
        ASSERT_TRUE(docs.ok()) << docs.message();
        ASSERT_EQ(docs->size(), size_t(round + 1));
        for (const store::DocumentRow& d : *docs) EXPECT_EQ(d.status, store::DocumentStatus::kReady) << d.source;
        const std::vector<Passage> hits = search("otters round " + std::to_string(round), 10);
        ASSERT_FALSE(hits.empty());
        EXPECT_EQ(hits[0].source, source);
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, KnowledgeBaseTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace sinan::knowledge
