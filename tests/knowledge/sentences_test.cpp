// Sentence splitting (ICU): English, Chinese full stops with no spaces, long text in slices.
#include "knowledge/sentences.h"

#include <gtest/gtest.h>

#include <string>

namespace sinan::knowledge {
namespace {

TEST(SplitSentences, EnglishSentencesTrimmed) {
    const auto s = split_sentences("The cat sat.  Did it purr? Yes!\n\n");
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0], "The cat sat.");
    EXPECT_EQ(s[1], "Did it purr?");
    EXPECT_EQ(s[2], "Yes!");
}

TEST(SplitSentences, ChineseFullStopsWithoutSpaces) {
    const auto s = split_sentences("今天天气很好。我们去公园吧！你同意吗？");
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0], "今天天气很好。");
    EXPECT_EQ(s[2], "你同意吗？");
}

TEST(SplitSentences, EmptyAndBlankGiveNothing) {
    EXPECT_TRUE(split_sentences("").empty());
    EXPECT_TRUE(split_sentences(" \n\t ").empty());
}

TEST(BreakBoundaries, CoversTheWholeTextAndSurvivesInvalidUtf8) {
    const std::string text = "ok. \xff\xfe broken. end";
    auto it = new_sentence_iterator();
    const auto b = break_boundaries(*it, text);
    ASSERT_GE(b.size(), 2u);
    EXPECT_EQ(b.front(), 0u);
    EXPECT_EQ(b.back(), text.size());
    for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

}  // namespace
}  // namespace sinan::knowledge
