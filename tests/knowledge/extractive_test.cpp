// Extractive answers: the best-matching sentences of the passages, with their citations.
#include "knowledge/extractive.h"

#include <gtest/gtest.h>

namespace sinan::knowledge {
namespace {

Passage passage(std::string text) {
    Passage p;
    p.text = std::move(text);
    return p;
}

TEST(ExtractiveAnswer, PicksTheMatchingSentenceAndCitesItsPassage) {
    Analyzer analyzer;
    const std::vector<Passage> ps = {
        passage("Our office is in Lisbon. It opens at nine."),
        passage("The warranty lasts two years. Batteries are excluded from the warranty."),
    };
    const ExtractiveAnswer a = extractive_answer("How many years does the warranty last?", ps, analyzer, 1);
    EXPECT_EQ(a.text, "The warranty lasts two years. [2]");
    EXPECT_EQ(a.cited, std::vector<int>{2});
}

TEST(ExtractiveAnswer, SeveralSentencesBestFirstEachCited) {
    Analyzer analyzer;
    const std::vector<Passage> ps = {passage("Lisbon office opens at nine."), passage("The Porto office opens at ten.")};
    const ExtractiveAnswer a = extractive_answer("When does the Porto office open?", ps, analyzer, 3);
    EXPECT_EQ(a.text.rfind("The Porto office opens at ten. [2]", 0), 0u) << a.text;
    EXPECT_EQ(a.cited, (std::vector<int>{2, 1}));
}

TEST(ExtractiveAnswer, HeadingLinesAreNotAnswers) {
    Analyzer analyzer;
    const ExtractiveAnswer a = extractive_answer(
        "How many days of leave?", {passage("Leave\nEmployees get 25 days of paid leave per year.")}, analyzer, 3);
    EXPECT_EQ(a.text, "Employees get 25 days of paid leave per year. [1]");
}

TEST(ExtractiveAnswer, NothingMatchingGivesNothing) {
    Analyzer analyzer;
    EXPECT_TRUE(extractive_answer("quantum chromodynamics", {passage("Cats sleep a lot.")}, analyzer).text.empty());
    EXPECT_TRUE(extractive_answer("anything", {}, analyzer).text.empty());
}

TEST(ExtractiveAnswer, ChineseQuestionFindsChineseSentence) {
    Analyzer analyzer;
    const ExtractiveAnswer a = extractive_answer("保修期是多久？", {passage("本产品的保修期为两年。电池不在保修范围内。")},
                                                 analyzer, 1);
    EXPECT_NE(a.text.find("保修期为两年。"), std::string::npos) << a.text;
    EXPECT_EQ(a.cited, std::vector<int>{1});
}

}  // namespace
}  // namespace sinan::knowledge
