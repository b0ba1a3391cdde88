#include "sampling/stop_matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sinan::sampling {
namespace {

// Feeds pieces; returns everything released (including finish() when no stop was found).
struct FeedResult {
    std::string released;
    bool stopped = false;
    int32_t stop_index = -1;
};

FeedResult feed_all(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
    StopMatcher m(stops);
    FeedResult run;
    for (const std::string& piece : pieces) {
        const StopStep step = m.feed(piece);
        run.released += step.text;
        if (step.stopped) {
            run.stopped = true;
            run.stop_index = step.stop_index;
        }
    }
    run.released += m.finish();
    return run;
}

TEST(StopMatcher, WithoutStopsEverythingIsReleasedAtOnce) {
    StopMatcher m({});
    EXPECT_EQ(m.feed("hello ").text, "hello ");
    EXPECT_EQ(m.feed("world").text, "world");
    EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, AStopInsideOnePieceReleasesTheTextBeforeIt) {
    StopMatcher m({"</answer>"});
    const StopStep step = m.feed("42</answer> and more");
    EXPECT_EQ(step.text, "42");
    EXPECT_TRUE(step.stopped);
    EXPECT_EQ(step.stop_index, 0);
    EXPECT_TRUE(m.feed("ignored").text.empty());
    EXPECT_TRUE(m.feed("ignored").stopped);
    EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, APossibleStartIsHeldBackUntilItIsDecided) {
    StopMatcher m({"###"});
    StopStep step = m.feed("Hello #");
    EXPECT_EQ(step.text, "Hello ");
    EXPECT_EQ(m.held_bytes(), 1u);
    step = m.feed("#");
    EXPECT_EQ(step.text, "");
    EXPECT_EQ(m.held_bytes(), 2u);
    step = m.feed("!");  // not a stop after all: the held text goes out
    EXPECT_EQ(step.text, "##!");
    EXPECT_FALSE(step.stopped);
}

TEST(StopMatcher, AStopSpreadOverPiecesIsFound) {
    const FeedResult run = feed_all({"<|im_end|>"}, {"The answer", " is 4<", "|im", "_", "end|", ">trailing"});
    EXPECT_TRUE(run.stopped);
    EXPECT_EQ(run.released, "The answer is 4");
}

TEST(StopMatcher, OverlappingPrefixesReleaseOnlyWhatCannotStartAStop) {
    StopMatcher m({"aab"});
    EXPECT_EQ(m.feed("a").text, "");
    EXPECT_EQ(m.feed("a").text, "");
    EXPECT_EQ(m.feed("a").text, "a");  // "aaa": only the last "aa" can still start "aab"
    const StopStep step = m.feed("b");
    EXPECT_EQ(step.text, "");
    EXPECT_TRUE(step.stopped);
}

TEST(StopMatcher, TheStopThatCompletesFirstWinsThenTheLongest) {
    FeedResult run = feed_all({"world", "lo"}, {"hello world"});
    EXPECT_EQ(run.released, "hel");
    EXPECT_EQ(run.stop_index, 1);
    run = feed_all({"abc", "ab"}, {"xabc"});  // "ab" is complete one byte before "abc"
    EXPECT_EQ(run.released, "x");
    EXPECT_EQ(run.stop_index, 1);
    run = feed_all({"bc", "abc"}, {"xabc"});  // both complete at "c": the longer starts earlier
    EXPECT_EQ(run.released, "x");
    EXPECT_EQ(run.stop_index, 1);
    run = feed_all({"abaa", "b"}, {"aab", "aa"});  // "b" ends generation before "abaa" can complete
    EXPECT_EQ(run.released, "aa");
    EXPECT_EQ(run.stop_index, 1);
}

TEST(StopMatcher, MultibyteStopsSplitByByteAreHeldAsWholeCharacters) {
    // "。" is E3 80 82; "、" is E3 80 81 and shares its first two bytes.
    StopMatcher m({"。"});
    EXPECT_EQ(m.feed("好").text, "好");
    EXPECT_EQ(m.feed("\xE3").text, "");
    EXPECT_EQ(m.feed("\x80").text, "");
    EXPECT_EQ(m.feed("\x81").text, "、");  // the whole character, never a part of it
    EXPECT_EQ(m.feed("吗\xE3\x80").text, "吗");
    const StopStep step = m.feed("\x82后面");
    EXPECT_TRUE(step.stopped);
    EXPECT_EQ(step.text, "");
}

TEST(StopMatcher, FinishReleasesAHeldTail) {
    StopMatcher m({"STOP"});
    EXPECT_EQ(m.feed("end ST").text, "end ");
    EXPECT_EQ(m.finish(), "ST");
}

TEST(StopMatcher, RandomSplitsAgreeWithSearchingTheWholeText) {
    std::mt19937 gen(77);
    auto random_string = [&](size_t n) {
        std::string s;
        for (size_t i = 0; i < n; ++i) s += "ab"[gen() % 2];
        return s;
    };
    for (int trial = 0; trial < 2000; ++trial) {
        const std::vector<std::string> stops = {random_string(1 + gen() % 4), random_string(1 + gen() % 4)};
        const std::string text = random_string(gen() % 20);
        std::vector<std::string> pieces;
        for (size_t i = 0; i < text.size();) {
            const size_t len = std::min(text.size() - i, size_t{1} + gen() % 4);
            pieces.push_back(text.substr(i, len));
            i += len;
        }
        // Reference: read the text one byte at a time and stop where a stop string first completes.
        size_t first = std::string::npos;
        for (size_t end = 1; end <= text.size() && first == std::string::npos; ++end) {
            for (const std::string& s : stops) {
                if (std::string_view(text).substr(0, end).ends_with(s)) first = std::min(first, end - s.size());
            }
        }

        StopMatcher m(stops);
        std::string released;
        std::string fed;
        bool stopped = false;
        for (const std::string& piece : pieces) {
            fed += piece;
            const StopStep step = m.feed(piece);
            released += step.text;
            if (step.stopped) {
                stopped = true;
                break;
            }
            // Released text never includes the start of a stop string that could still complete.
            for (const std::string& s : stops) {
                for (size_t q = 0; q < released.size(); ++q) {
                    EXPECT_FALSE(std::string_view(s).starts_with(std::string_view(fed).substr(q)))
                        << "fed '" << fed << "' released '" << released << "' stop '" << s << "'";
                }
            }
        }
        if (!stopped) released += m.finish();
        EXPECT_EQ(stopped, first != std::string::npos) << "text '" << text << "'";
        EXPECT_EQ(released, first == std::string::npos ? text : text.substr(0, first))
            << "text '" << text << "' stops '" << stops[0] << "' '" << stops[1] << "'";
    }
}

}  // namespace
}  // namespace sinan::sampling
