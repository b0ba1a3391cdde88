// The Store's behaviour, one suite run on both backends: SQLite in a temp data directory and a
// real PostgreSQL server started by the test (postgres_server.h; skipped when it is absent).
#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "postgres_server.h"
#include "run_binary.h"
#include "store/sql_connection.h"

namespace sinan::store {
namespace {

class StoreTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        data_dir_ = test::make_temp_dir();
        if (GetParam() == "postgres") {
            std::string why;
            test::PostgresServer* pg = test::PostgresServer::shared(&why);
            if (pg == nullptr) GTEST_SKIP() << why;
            spec_ = pg->create_database();
            ASSERT_FALSE(spec_.empty());
        }
        store_ = open();
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(data_dir_);
    }

    std::unique_ptr<Store> open() {
        Result<std::unique_ptr<Store>> s = Store::open(spec_, data_dir_);
        EXPECT_TRUE(s.ok()) << s.message();
        return s.ok() ? std::move(*s) : nullptr;
    }

    int64_t make_kb(const std::string& name) {
        Result<KnowledgeBaseRow> kb = store_->create_knowledge_base(name, "");
        EXPECT_TRUE(kb.ok()) << kb.message();
        return kb.ok() ? kb->id : 0;
    }

    // A document row of `kb` named `source` whose content hash is 64 times `hash`.
    static DocumentRow document(int64_t kb, const std::string& source, char hash) {
        DocumentRow d;
        d.kb_id = kb;
        d.source = source;
        d.content_sha256 = std::string(64, hash);
        return d;
    }

    static std::vector<ChunkRow> chunks(int n, const std::string& prefix) {
        std::vector<ChunkRow> out;
        for (int i = 0; i < n; ++i) {
            ChunkRow c;
            c.ordinal = i;
            c.text = prefix + " chunk " + std::to_string(i);
            c.location = "Section " + std::to_string(i);
            c.page = i + 1;
            c.n_tokens = 3 + i;
            out.push_back(c);
        }
        return out;
    }

    std::string data_dir_, spec_;
    std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, KnowledgeBaseNamesAreUniqueAndListedByName) {
    Result<KnowledgeBaseRow> b = store_->create_knowledge_base("beta", "second");
    ASSERT_TRUE(b.ok()) << b.message();
    EXPECT_GT(b->id, 0);
    EXPECT_GT(b->created_at, 0);
    ASSERT_TRUE(store_->create_knowledge_base("alpha", "first").ok());
    Result<KnowledgeBaseRow> dup = store_->create_knowledge_base("beta", "again");
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.message().find("knowledge base beta already exists"), std::string::npos) << dup.message();

    Result<std::vector<KnowledgeBaseRow>> all = store_->list_knowledge_bases();
    ASSERT_TRUE(all.ok()) << all.message();
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].name, "alpha");
    EXPECT_EQ((*all)[0].description, "first");
    EXPECT_EQ((*all)[1].name, "beta");

    Result<std::optional<KnowledgeBaseRow>> found = store_->find_knowledge_base("beta");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->id, b->id);
    EXPECT_FALSE(store_->find_knowledge_base("gamma")->has_value());
}

TEST_P(StoreTest, TheFirstEmbeddingModelClaimedStaysTheKnowledgeBases) {
    const int64_t kb = make_kb("docs");
    EXPECT_EQ((*store_->find_knowledge_base("docs"))->embedding_model, "");
    Result<std::string> first = store_->claim_embedding_model(kb, "bert-tiny/128");
    ASSERT_TRUE(first.ok()) << first.message();
    EXPECT_EQ(*first, "bert-tiny/128");
    Result<std::string> second = store_->claim_embedding_model(kb, "bge-small/384");
    ASSERT_TRUE(second.ok()) << second.message();
    EXPECT_EQ(*second, "bert-tiny/128");  // not replaced
    EXPECT_EQ((*store_->find_knowledge_base("docs"))->embedding_model, "bert-tiny/128");
    EXPECT_EQ(store_->list_knowledge_bases()->front().embedding_model, "bert-tiny/128");
    ASSERT_TRUE(store_->delete_knowledge_base(kb).ok());
    EXPECT_FALSE(store_->claim_embedding_model(kb, "bert-tiny/128").ok());
}

TEST_P(StoreTest, DocumentAndChunksRoundTrip) {
    const int64_t kb = make_kb("docs");
    DocumentRow d = document(kb, "guide/install.md", 'a');
    d.metadata_json = R"({"team":"ops"})";
    d.size_bytes = 1234;
    std::vector<ChunkRow> cs = chunks(3, "install");
    cs[1].embedding = {0.5f, -1.25f, 3.0f};
    cs[2].text = "中文文本 with\nnewlines and 'quotes' ? marks";
    Result<int64_t> id = store_->put_document(d, cs);
    ASSERT_TRUE(id.ok()) << id.message();

    Result<std::optional<DocumentRow>> got = store_->find_document(kb, "guide/install.md");
    ASSERT_TRUE(got.ok() && got->has_value()) << got.message();
    const DocumentRow& g = **got;
    EXPECT_EQ(g.id, *id);
    EXPECT_EQ(g.content_sha256, d.content_sha256);
    EXPECT_EQ(g.version, 1);
    EXPECT_EQ(g.metadata_json, d.metadata_json);
    EXPECT_EQ(g.status, DocumentStatus::kReady);
    EXPECT_EQ(g.n_chunks, 3);
    EXPECT_EQ(g.size_bytes, 1234);
    EXPECT_GT(g.updated_at, 0);

    Result<std::vector<ChunkRow>> stored = store_->list_chunks(kb);
    ASSERT_TRUE(stored.ok()) << stored.message();
    ASSERT_EQ(stored->size(), 3u);
    for (int i = 0; i < 3; ++i) {
        const ChunkRow& c = (*stored)[i];
        EXPECT_EQ(c.document_id, *id);
        EXPECT_EQ(c.ordinal, i);
        EXPECT_EQ(c.text, cs[i].text);
        EXPECT_EQ(c.location, cs[i].location);
        EXPECT_EQ(c.page, i + 1);
        EXPECT_EQ(c.n_tokens, 3 + i);
        EXPECT_EQ(c.embedding, cs[i].embedding);
    }
}

TEST_P(StoreTest, UpdatingADocumentReplacesAllItsChunks) {
    const int64_t kb = make_kb("docs");
    DocumentRow d = document(kb, "a.txt", '1');
    Result<int64_t> id = store_->put_document(d, chunks(5, "old"));
    ASSERT_TRUE(id.ok()) << id.message();

    d.id = *id;
    d.version = 2;
    d.content_sha256 = std::string(64, '2');
    Result<int64_t> again = store_->put_document(d, chunks(2, "new"));
    ASSERT_TRUE(again.ok()) << again.message();
    EXPECT_EQ(*again, *id);

    Result<std::vector<ChunkRow>> stored = store_->list_chunks(kb);
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(stored->size(), 2u);
    EXPECT_EQ((*stored)[0].text, "new chunk 0");
    EXPECT_EQ((*stored)[1].text, "new chunk 1");
    Result<std::optional<DocumentRow>> got = store_->find_document(kb, "a.txt");
    EXPECT_EQ((*got)->version, 2);
    EXPECT_EQ((*got)->n_chunks, 2);
    EXPECT_EQ((*got)->content_sha256, std::string(64, '2'));
}

// An update given the row as its writer read it fails, changing nothing, once another writer has
// changed the row's version, status or content hash; with the row as it is now it goes through.
TEST_P(StoreTest, AnUpdateOverARowChangedSinceItWasReadFailsAndChangesNothing) {
    const int64_t kb = make_kb("docs");
    DocumentRow d = document(kb, "a.txt", '1');
    Result<int64_t> id = store_->put_document(d, chunks(2, "first"));
    ASSERT_TRUE(id.ok()) << id.message();
    const DocumentRow read = **store_->find_document(kb, "a.txt");

    DocumentRow theirs = read;  // another writer's change: a failed second version
    theirs.version = 2;
    theirs.content_sha256 = std::string(64, '2');
    theirs.status = DocumentStatus::kFailed;
    theirs.error = "cannot extract";
    ASSERT_TRUE(store_->put_document(theirs, {}, &read).ok());

    DocumentRow mine = read;  // decided on the first version
    mine.version = 2;
    mine.content_sha256 = std::string(64, '3');
    Result<int64_t> late = store_->put_document(mine, chunks(3, "mine"), &read);
    ASSERT_FALSE(late.ok());
    EXPECT_NE(late.message().find("a.txt was changed or deleted while it was being updated"), std::string::npos)
        << late.message();
    DocumentRow now = **store_->find_document(kb, "a.txt");
    EXPECT_EQ(now.content_sha256, theirs.content_sha256);
    EXPECT_EQ(now.status, DocumentStatus::kFailed);
    EXPECT_TRUE(store_->list_chunks(kb)->empty()) << "none of the late write's chunks";

    mine.version = 3;  // decided again, on what is there now
    ASSERT_TRUE(store_->put_document(mine, chunks(3, "mine"), &now).ok());
    EXPECT_EQ((*store_->find_document(kb, "a.txt"))->version, 3);
    EXPECT_EQ(store_->list_chunks(kb)->size(), 3u);
}

TEST_P(StoreTest, InsertingAnExistingSourceFailsAndChangesNothing) {
    const int64_t kb = make_kb("docs");
    DocumentRow d = document(kb, "a.txt", '1');
    ASSERT_TRUE(store_->put_document(d, chunks(2, "first")).ok());
    Result<int64_t> dup = store_->put_document(d, chunks(4, "second"));
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.message().find("a.txt is already in the knowledge base"), std::string::npos) << dup.message();
    // The failed transaction rolled back: no chunk of the second write is there.
    Result<std::vector<ChunkRow>> stored = store_->list_chunks(kb);
    ASSERT_EQ(stored->size(), 2u);
    EXPECT_EQ((*stored)[0].text, "first chunk 0");
}

TEST_P(StoreTest, FailedDocumentsAreListedButTheirChunksAreNotSearched) {
    const int64_t kb = make_kb("docs");
    DocumentRow bad = document(kb, "broken.pdf", 'f');
    bad.status = DocumentStatus::kFailed;
    bad.error = "not a PDF";
    ASSERT_TRUE(store_->put_document(bad, {}).ok());
    DocumentRow good = bad;
    good.source = "fine.txt";
    good.status = DocumentStatus::kReady;
    good.error = "";
    ASSERT_TRUE(store_->put_document(good, chunks(1, "fine")).ok());

    Result<std::vector<DocumentRow>> docs = store_->list_documents(kb);
    ASSERT_TRUE(docs.ok());
    ASSERT_EQ(docs->size(), 2u);
    EXPECT_EQ((*docs)[0].source, "broken.pdf");
    EXPECT_EQ((*docs)[0].status, DocumentStatus::kFailed);
    EXPECT_EQ((*docs)[0].error, "not a PDF");
    EXPECT_EQ((*docs)[1].status, DocumentStatus::kReady);
    Result<std::vector<ChunkRow>> stored = store_->list_chunks(kb);
    ASSERT_EQ(stored->size(), 1u);
    EXPECT_EQ((*stored)[0].text, "fine chunk 0");
}

TEST_P(StoreTest, DeletingCascadesToChunksDocumentsAndJobs) {
    const int64_t kb = make_kb("docs");
    const int64_t other = make_kb("other");
    DocumentRow d = document(kb, "a.txt", '1');
    Result<int64_t> a = store_->put_document(d, chunks(3, "a"));
    d.source = "b.txt";
    ASSERT_TRUE(store_->put_document(d, chunks(2, "b")).ok());
    d.kb_id = other;
    ASSERT_TRUE(store_->put_document(d, chunks(1, "other")).ok());
    JobRow job;
    job.kb_id = kb;
    job.upload_dir = "uploads/x";
    job.host = "h";
    job.files = {JobFile{0, "a.txt", "0000", 1, FileStatus::kPending, ""}};
    ASSERT_TRUE(store_->create_job(job).ok());

    ASSERT_TRUE(store_->delete_document(*a).ok());
    EXPECT_EQ(store_->list_chunks(kb)->size(), 2u);
    EXPECT_FALSE(store_->find_document(kb, "a.txt")->has_value());
    ASSERT_TRUE(store_->delete_document(*a).ok()) << "deleting twice is not an error";

    ASSERT_TRUE(store_->delete_knowledge_base(kb).ok());
    EXPECT_FALSE(store_->find_knowledge_base("docs")->has_value());
    EXPECT_TRUE(store_->list_jobs()->empty());
    EXPECT_EQ(store_->list_chunks(kb)->size(), 0u);
    EXPECT_EQ(store_->list_chunks(other)->size(), 1u) << "another knowledge base is untouched";
}

TEST_P(StoreTest, ContentStampMovesOnEveryChange) {
    const int64_t kb = make_kb("docs");
    std::vector<std::string> stamps = {*store_->content_stamp(kb)};
    DocumentRow d = document(kb, "a.txt", '1');
    Result<int64_t> a = store_->put_document(d, chunks(2, "a"));
    stamps.push_back(*store_->content_stamp(kb));
    d.id = *a;
    d.version = 2;
    ASSERT_TRUE(store_->put_document(d, chunks(2, "a2")).ok());
    stamps.push_back(*store_->content_stamp(kb));
    ASSERT_TRUE(store_->delete_document(*a).ok());
    d.id = 0;
    d.version = 2;
    ASSERT_TRUE(store_->put_document(d, chunks(2, "again")).ok());  // same count and versions, new id
    stamps.push_back(*store_->content_stamp(kb));
    for (size_t i = 1; i < stamps.size(); ++i) EXPECT_NE(stamps[i], stamps[i - 1]) << "change " << i;
    EXPECT_EQ(*store_->content_stamp(kb), stamps.back()) << "no change, same stamp";
}

TEST_P(StoreTest, JobsRecordPerFileResultsAndProgress) {
    const int64_t kb = make_kb("docs");
    JobRow job;
    job.kb_id = kb;
    job.upload_dir = "uploads/20261130-abc";
    job.host = "node-1";
    job.metadata_json = R"({"k":"v"})";
    for (int i = 0; i < 3; ++i)
        job.files.push_back(
            JobFile{0, "f" + std::to_string(i), "000" + std::to_string(i), 10 * i, FileStatus::kPending, ""});
    Result<JobRow> made = store_->create_job(job);
    ASSERT_TRUE(made.ok()) << made.message();
    EXPECT_EQ(made->status, JobStatus::kQueued);
    EXPECT_EQ(made->n_total, 3);
    EXPECT_EQ(made->n_done, 0);

    ASSERT_TRUE(store_->set_job_status(made->id, JobStatus::kRunning).ok());
    ASSERT_TRUE(store_->set_job_file(made->id, 0, FileStatus::kAdded, "").ok());
    ASSERT_TRUE(store_->set_job_file(made->id, 1, FileStatus::kFailed, "not a PDF").ok());
    Result<std::optional<JobRow>> mid = store_->find_job(made->id);
    ASSERT_TRUE(mid.ok() && mid->has_value());
    EXPECT_EQ((*mid)->status, JobStatus::kRunning);
    EXPECT_EQ((*mid)->n_done, 2);
    EXPECT_EQ((*mid)->upload_dir, "uploads/20261130-abc");
    EXPECT_EQ((*mid)->host, "node-1");
    EXPECT_EQ((*mid)->metadata_json, R"({"k":"v"})");
    ASSERT_EQ((*mid)->files.size(), 3u);
    EXPECT_EQ((*mid)->files[1].source, "f1");
    EXPECT_EQ((*mid)->files[1].upload_name, "0001");
    EXPECT_EQ((*mid)->files[1].size_bytes, 10);
    EXPECT_EQ((*mid)->files[1].status, FileStatus::kFailed);
    EXPECT_EQ((*mid)->files[1].message, "not a PDF");
    EXPECT_EQ((*mid)->files[2].status, FileStatus::kPending);

    Result<std::vector<JobRow>> unfinished = store_->list_unfinished_jobs();
    ASSERT_EQ(unfinished->size(), 1u);
    ASSERT_TRUE(store_->set_job_status(made->id, JobStatus::kInterrupted, "the process stopped").ok());
    EXPECT_TRUE(store_->list_unfinished_jobs()->empty());
    Result<std::vector<JobRow>> listed = store_->list_jobs(kb);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->front().status, JobStatus::kInterrupted);
    EXPECT_EQ(listed->front().error, "the process stopped");
    EXPECT_TRUE(store_->list_jobs(kb + 1000)->empty());
}

TEST_P(StoreTest, JobsAreListedNewestFirst) {
    const int64_t kb = make_kb("docs");
    JobRow job;
    job.kb_id = kb;
    job.upload_dir = "u";
    job.host = "h";
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->create_job(job).ok());
    Result<std::vector<JobRow>> jobs = store_->list_jobs(0, 2);
    ASSERT_EQ(jobs->size(), 2u);
    EXPECT_GT((*jobs)[0].id, (*jobs)[1].id);
}

TEST_P(StoreTest, WhatWasWrittenIsThereAfterReopening) {
    const int64_t kb = make_kb("persist");
    DocumentRow d = document(kb, "a.txt", '1');
    ASSERT_TRUE(store_->put_document(d, chunks(2, "kept")).ok());
    store_.reset();
    store_ = open();  // runs the migration check again on an up-to-date schema
    ASSERT_NE(store_, nullptr);
    Result<std::optional<KnowledgeBaseRow>> found = store_->find_knowledge_base("persist");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ(store_->list_chunks((*found)->id)->size(), 2u);
}

TEST_P(StoreTest, ConcurrentWritersFromManyThreadsAllLand) {
    const int64_t kb = make_kb("threads");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                DocumentRow d = document(kb, "t" + std::to_string(t) + "-" + std::to_string(i), '0');
                EXPECT_TRUE(store_->put_document(d, chunks(2, d.source)).ok());
            }
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(store_->list_documents(kb)->size(), 20u);
    EXPECT_EQ(store_->list_chunks(kb)->size(), 40u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// --- backend-specific behaviour ---

TEST(SqliteStore, UsesWalAndRefusesANewerSchema) {
    const std::string dir = test::make_temp_dir();
    {
        Result<std::unique_ptr<Store>> s = Store::open("", dir);
        ASSERT_TRUE(s.ok()) << s.message();
        EXPECT_EQ((*s)->describe(), "sqlite " + dir + "/knowledge.db");
    }
    // WAL mode is a property of the database file: its header's read/write versions are 2.
    std::ifstream f(dir + "/knowledge.db", std::ios::binary);
    char header[20];
    f.read(header, sizeof header);
    EXPECT_EQ(header[18], 2);
    EXPECT_EQ(header[19], 2);

    Result<std::unique_ptr<SqlConnection>> conn = open_sqlite(dir + "/knowledge.db");
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->query("UPDATE schema_version SET version = 99").ok());
    conn->reset();
    Result<std::unique_ptr<Store>> newer = Store::open("", dir);
    ASSERT_FALSE(newer.ok());
    EXPECT_NE(newer.message().find("schema version 99 is newer than this sinan"), std::string::npos) << newer.message();
    std::filesystem::remove_all(dir);
}

TEST(SqliteStore, ASchemaOneDatabaseIsMigratedKeepingItsKnowledgeBases) {
    const std::string dir = test::make_temp_dir();
    {
        Result<std::unique_ptr<Store>> s = Store::open("", dir);
        ASSERT_TRUE(s.ok()) << s.message();
        ASSERT_TRUE((*s)->create_knowledge_base("old", "before embeddings").ok());
    }
    {  // back to what schema 1 was: no embedding_model column
        Result<std::unique_ptr<SqlConnection>> conn = open_sqlite(dir + "/knowledge.db");
        ASSERT_TRUE(conn.ok());
        ASSERT_TRUE((*conn)->query("ALTER TABLE knowledge_bases DROP COLUMN embedding_model").ok());
        ASSERT_TRUE((*conn)->query("UPDATE schema_version SET version = 1").ok());
    }
    Result<std::unique_ptr<Store>> s = Store::open("", dir);
    ASSERT_TRUE(s.ok()) << s.message();
    Result<std::optional<KnowledgeBaseRow>> kb = (*s)->find_knowledge_base("old");
    ASSERT_TRUE(kb.ok() && kb->has_value()) << kb.message();
    EXPECT_EQ((*kb)->description, "before embeddings");
    EXPECT_EQ((*kb)->embedding_model, "");
    EXPECT_EQ(*(*s)->claim_embedding_model((*kb)->id, "m/8"), "m/8");
    s->reset();
    std::filesystem::remove_all(dir);
}

TEST(SqliteStore, NotADatabaseIsAnErrorNotACrash) {
    const std::string dir = test::make_temp_dir();
    std::ofstream(dir + "/knowledge.db") << "this is not an SQLite file, it is just some text that is long enough";
    Result<std::unique_ptr<Store>> s = Store::open("", dir);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("knowledge.db"), std::string::npos) << s.message();
    std::filesystem::remove_all(dir);
}

TEST(Store, UnknownSpecAndUnreachablePostgresAreErrors) {
    Result<std::unique_ptr<Store>> bad = Store::open("mysql://x", "/tmp");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.message().find("give postgres://"), std::string::npos) << bad.message();
    // Port 1 on loopback: nothing listens there.
    Result<std::unique_ptr<Store>> down = Store::open("postgres://nobody:secret@127.0.0.1:1/db", "/tmp");
    ASSERT_FALSE(down.ok());
    EXPECT_NE(down.message().find("cannot connect"), std::string::npos) << down.message();
    EXPECT_EQ(down.message().find("secret"), std::string::npos) << "the password is not echoed: " << down.message();
}

TEST(PostgresStore, ReplicasOpeningTogetherMigrateOnce) {
    std::string why;
    test::PostgresServer* pg = test::PostgresServer::shared(&why);
    if (pg == nullptr) GTEST_SKIP() << why;
    const std::string uri = pg->create_database();
    std::vector<std::thread> replicas;
    std::vector<std::string> errors(4);
    for (int i = 0; i < 4; ++i)
        replicas.emplace_back([&, i] {
            Result<std::unique_ptr<Store>> s = Store::open(uri, "/tmp");
            if (!s.ok()) errors[i] = s.message();
        });
    for (std::thread& t : replicas) t.join();
    for (const std::string& e : errors) EXPECT_EQ(e, "");
    // One replica's knowledge base is seen by another.
    Result<std::unique_ptr<Store>> a = Store::open(uri, "/tmp");
    Result<std::unique_ptr<Store>> b = Store::open(uri, "/tmp");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*a)->create_knowledge_base("shared", "").ok());
    EXPECT_TRUE((*b)->find_knowledge_base("shared")->has_value());
}

}  // namespace
}  // namespace sinan::store
