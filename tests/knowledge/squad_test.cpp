// Reading SQuAD-format files as retrieval data sets: paragraphs become documents, questions
// queries judged against their own paragraph; one-line errors with the JSON path of bad input.
#include "knowledge/squad.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "run_binary.h"

namespace sinan::knowledge {
namespace {

namespace fs = std::filesystem;

class SquadTest : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = test::make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }
    std::string write(const std::string& text) {
        const std::string path = dir_ + "/squad.json";
        std::ofstream(path) << text;
        return path;
    }
    std::string dir_;
};

TEST_F(SquadTest, ParagraphsAreDocumentsAndQuestionsAreJudgedAgainstTheirOwn) {
    const std::string file = write(R"({"version": "v1.0", "data": [
        {"title": "猫", "paragraphs": [
            {"id": "P1", "context": "猫是一种小型哺乳动物。", "qas": [
                {"id": "Q1", "question": "猫是什么？", "answers": [{"text": "小型哺乳动物", "answer_start": 2}]},
                {"id": "Q2", "question": "猫有多大？"}]},
            {"context": "没有编号的段落。", "qas": []}]},
        {"paragraphs": [{"id": "P3", "context": "第三段。", "qas": [{"id": "Q3", "question": "第三？"}]}]}]})");
    Result<BeirDataset> d = load_squad(file);
    ASSERT_TRUE(d.ok()) << d.message();
    ASSERT_EQ(d->corpus.size(), 3u);
    EXPECT_EQ(d->corpus[0].id, "P1");
    EXPECT_EQ(d->corpus[0].title, "猫");
    EXPECT_EQ(d->corpus[0].text, "猫是一种小型哺乳动物。");
    EXPECT_EQ(d->corpus[1].id, "0-1");  // no id: article-paragraph
    EXPECT_EQ(d->corpus[2].title, "");
    ASSERT_EQ(d->queries.size(), 3u);
    EXPECT_EQ(d->queries[1].id, "Q2");
    EXPECT_EQ(d->queries[1].text, "猫有多大？");
    EXPECT_EQ(d->queries[1].qrels, (Judgements{{"P1", 1}}));
    EXPECT_EQ(d->queries[2].qrels, (Judgements{{"P3", 1}}));
    EXPECT_EQ(d->corpus_bytes, std::string("猫猫是一种小型哺乳动物。猫没有编号的段落。第三段。").size());
}

TEST_F(SquadTest, BadInputNamesTheFileAndTheJsonPath) {
    const struct {
        const char* json;
        const char* error;
    } cases[] = {
        {"[1, 2]", ": not a JSON object"},
        {"{\"data\": 3}", ": .data is missing or not an array"},
        {R"({"data": [{"paragraphs": [{"qas": []}]}]})", ": data[0].paragraphs[0].context is missing"},
        {R"({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "q", "question": 7}]}]}]})",
         ": data[0].paragraphs[0].qas[0].question is not a string"},
        {R"({"data": [{"paragraphs": [{"id": "p", "context": "x", "qas": []}, {"id": "p", "context": "y", "qas": []}]}]})",
         ": data[0].paragraphs[1].id p is a duplicate paragraph id"},
        {R"({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "q", "question": "a"}, {"id": "q", "question": "b"}]}]}]})",
         ": data[0].paragraphs[0].qas[1].id q is a duplicate question id"},
        {"{\"data\": [", ": not a JSON object"},
    };
    for (const auto& c : cases) {
        const std::string file = write(c.json);
        Result<BeirDataset> d = load_squad(file);
        ASSERT_FALSE(d.ok()) << c.json;
        EXPECT_EQ(d.message(), file + c.error) << c.json;
    }
    Result<BeirDataset> missing = load_squad(dir_ + "/absent.json");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.message(), dir_ + "/absent.json: cannot open; give a SQuAD-format JSON file");
}

}  // namespace
}  // namespace sinan::knowledge
