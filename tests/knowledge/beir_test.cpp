// Reading BEIR data sets: the layout, corpus parts in numeric order, judged queries only, and a
// one-line error naming file and line for each kind of bad input.
#include "knowledge/beir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace sinan::knowledge {
namespace {

namespace fs = std::filesystem;

class BeirTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("sinan_beir_" + std::to_string(std::random_device{}()));
        fs::create_directories(dir_ / "qrels");
        write("queries.jsonl",
              "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": 2, \"text\": \"second\"}\n"
              "{\"_id\": \"q3\", \"text\": \"unjudged\"}\n");
        write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n2\td2\t2\n2\td1\t0\n");
    }
    void TearDown() override { fs::remove_all(dir_); }
    void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    fs::path dir_;
};

TEST_F(BeirTest, ReadsCorpusQueriesAndJudgements) {
    write("corpus.jsonl",
          "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\", \"metadata\": {}}\n\n"
          "{\"_id\": \"d2\", \"text\": \"two\"}\n");
    Result<BeirDataset> ds = load_beir(dir_.string(), "test");
    ASSERT_TRUE(ds.ok()) << ds.message();
    ASSERT_EQ(ds->corpus.size(), 2u);
    EXPECT_EQ(ds->corpus[0].title, "T");
    EXPECT_EQ(ds->corpus[1].title, "");
    EXPECT_EQ(ds->corpus_bytes, 7u);
    ASSERT_EQ(ds->queries.size(), 2u);  // q3 has no judgement
    EXPECT_EQ(ds->queries[0].id, "q1");
    EXPECT_EQ(ds->queries[1].id, "2");
    EXPECT_EQ(ds->queries[1].qrels.at("d2"), 2);
    EXPECT_EQ(ds->queries[1].qrels.at("d1"), 0);
}

TEST_F(BeirTest, ConcatenatesCorpusPartsInNumericOrder) {
    write("corpus.part10.jsonl", "{\"_id\": \"c\", \"text\": \"x\"}\n");
    write("corpus.part2.jsonl", "{\"_id\": \"b\", \"text\": \"x\"}\n");
    write("corpus.part1.jsonl", "{\"_id\": \"a\", \"text\": \"x\"}\n");
    Result<BeirDataset> ds = load_beir(dir_.string(), "test");
    ASSERT_TRUE(ds.ok()) << ds.message();
    ASSERT_EQ(ds->corpus.size(), 3u);
    EXPECT_EQ(ds->corpus[0].id, "a");
    EXPECT_EQ(ds->corpus[1].id, "b");
    EXPECT_EQ(ds->corpus[2].id, "c");
}

TEST_F(BeirTest, MalformedJsonLineNamesFileAndLine) {
    write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \n");
    Result<BeirDataset> ds = load_beir(dir_.string(), "test");
    ASSERT_FALSE(ds.ok());
    EXPECT_EQ(ds.message(), path("corpus.jsonl") + ":2: not a JSON object; fix or remove the line");
}

TEST_F(BeirTest, MissingFieldsAndDuplicatesNameFileAndLine) {
    write("corpus.jsonl", "{\"_id\": \"d1\"}\n");
    EXPECT_EQ(load_beir(dir_.string(), "test").message(), path("corpus.jsonl") + ":1: missing string \"text\"");
    write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n");
    EXPECT_EQ(load_beir(dir_.string(), "test").message(), path("corpus.jsonl") + ":2: duplicate document id \"d1\"");
    write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\", \"title\": [5]}\n");
    EXPECT_EQ(load_beir(dir_.string(), "test").message(), path("corpus.jsonl") + ":1: \"title\" is not a string");
}

TEST_F(BeirTest, BadQrelsRowsNameFileAndLine) {
    write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n");
    write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\tone\n");
    EXPECT_EQ(load_beir(dir_.string(), "test").message(),
              path("qrels/test.tsv") + ":2: score \"one\" is not an integer");
    write("qrels/test.tsv", "q1 d1 1\n");
    EXPECT_EQ(load_beir(dir_.string(), "test").message(),
              path("qrels/test.tsv") + ":1: expected 3 tab-separated columns: query-id, corpus-id, score");
    write("qrels/test.tsv", "nope\td1\t1\n");
    EXPECT_EQ(load_beir(dir_.string(), "test").message(),
              path("qrels/test.tsv") + ": query \"nope\" is judged but not in queries.jsonl");
}

TEST_F(BeirTest, MissingFilesAreNamed) {
    EXPECT_EQ(load_beir(dir_.string(), "test").message(),
              path("corpus.jsonl") + ": not found (nor corpus.part*.jsonl)");
    write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n");
    EXPECT_EQ(load_beir(dir_.string(), "dev").message(),
              path("qrels/dev.tsv") + ": cannot open; is the split name right (--split)?");
    EXPECT_FALSE(load_beir(path("nowhere"), "test").ok());
}

}  // namespace
}  // namespace sinan::knowledge
