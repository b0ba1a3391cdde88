// Text analysis: ICU word breaking (Chinese without spaces), case folding, Lucene's stop words,
// Snowball English stemming (the examples published on snowballstem.org's English page).
#include "knowledge/analyzer.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace sinan::knowledge {
namespace {

using Terms = std::vector<std::string>;

TEST(Analyzer, SegmentsChineseIntoDictionaryWords) {
    // "We study Chinese at Peking University": 我们 (we) 在 (at) 北京 (Beijing) 大学 (university)
    // 学习 (study) 中文 (Chinese), each a word of ICU's Chinese dictionary; the full stop is dropped.
    // Note 学 belongs to both 大学 and 学习: a character-level or greedy split would go wrong here.
    Analyzer a;
    EXPECT_EQ(a.segment("我们在北京大学学习中文。"), (Terms{"我们", "在", "北京", "大学", "学习", "中文"}));
}

TEST(Analyzer, SegmentsJapaneseMixedScripts) {
    // 東京 (Tokyo) は (topic particle) 日本 (Japan) の (of) 首都 (capital) です (is).
    Analyzer a;
    const Terms got = a.segment("東京は日本の首都です");
    for (const char* w : {"東京", "日本", "首都"}) {
        EXPECT_NE(std::find(got.begin(), got.end(), w), got.end()) << w;
    }
    std::string joined;
    for (const std::string& w : got) joined += w;
    EXPECT_EQ(joined, "東京は日本の首都です");  // nothing lost, only split
}

TEST(Analyzer, DropsPunctuationAndSpacesKeepsNumbersAndContractions) {
    Analyzer a;
    EXPECT_EQ(a.segment("Hello, world!  It's 3.5 km."), (Terms{"Hello", "world", "It's", "3.5", "km"}));
}

TEST(Analyzer, FoldsCase) {
    Analyzer a({.stop_words = false, .stem = false});
    EXPECT_EQ(a.analyze("Straße GROSS Ωmega"), (Terms{"strasse", "gross", "ωmega"}));
}

TEST(Analyzer, DropsLuceneEnglishStopWords) {
    Analyzer a({.stop_words = true, .stem = false});
    EXPECT_EQ(a.analyze("The cat is on the mat and it will be there"), (Terms{"cat", "mat"}));
    EXPECT_TRUE(Analyzer::is_stop_word("such"));
    EXPECT_FALSE(Analyzer::is_stop_word("cat"));
    Analyzer keep({.stop_words = false, .stem = false});
    EXPECT_EQ(keep.analyze("the cat").size(), 2u);
}

TEST(Analyzer, StemsLikeSnowballsPublishedEnglishExamples) {
    // From https://snowballstem.org/algorithms/english/stemmer.html (word -> stem).
    const std::pair<const char*, const char*> cases[] = {
        {"consign", "consign"},
        {"consigned", "consign"},
        {"consigning", "consign"},
        {"consignment", "consign"},
        {"consist", "consist"},
        {"consisted", "consist"},
        {"consistency", "consist"},
        {"consistent", "consist"},
        {"consistently", "consist"},
        {"consisting", "consist"},
        {"consists", "consist"},
        {"consolation", "consol"},
        {"consolations", "consol"},
        {"consolatory", "consolatori"},
        {"console", "consol"},
        {"consoled", "consol"},
        {"consoles", "consol"},
        {"consolidate", "consolid"},
        {"consolidated", "consolid"},
        {"consolidating", "consolid"},
        {"consoling", "consol"},
        {"consolingly", "consol"},
        {"consols", "consol"},
        {"consonant", "conson"},
        {"knack", "knack"},
        {"knackeries", "knackeri"},
        {"knaves", "knave"},
        {"knavish", "knavish"},
        {"kneaded", "knead"},
        {"knees", "knee"},
        {"knew", "knew"},
        {"knight", "knight"},
        {"knightly", "knight"},
        {"knights", "knight"},
        {"knock", "knock"},
        {"knocked", "knock"},
    };
    Analyzer a;
    for (const auto& [word, stem] : cases) EXPECT_EQ(a.stem(word), stem) << word;
}

TEST(Analyzer, AnalyzeChainsAllSteps) {
    Analyzer a;
    EXPECT_EQ(a.analyze("The Knights consolidated THEIR consoles; 北京大学"),
              (Terms{"knight", "consolid", "consol", "北京", "大学"}));
}

TEST(Analyzer, TextLongerThanOneIcuSliceKeepsWordsWhole) {
    // 70,000 words of 1,000 letters (70 MB) are more than one ICU slice (64 MiB): no word may be
    // cut at the slice boundary.
    const std::string word(1000, 'x');
    std::string text;
    for (int i = 0; i < 70000; ++i) text += word + " ";
    Analyzer a({.stop_words = false, .stem = false});
    const Terms got = a.analyze(text);
    ASSERT_EQ(got.size(), 70000u);
    EXPECT_TRUE(std::all_of(got.begin(), got.end(), [&](const std::string& w) { return w == word; }));
}

TEST(Analyzer, InvalidUtf8DoesNotFail) {
    Analyzer a;
    const Terms got = a.analyze(std::string("ab\xff\xfe cd", 7));
    EXPECT_NE(std::find(got.begin(), got.end(), "cd"), got.end());
    EXPECT_TRUE(a.analyze("").empty());
}

}  // namespace
}  // namespace sinan::knowledge
