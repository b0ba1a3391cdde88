// Reciprocal rank fusion against sums worked by hand from the formula of Cormack et al. (2009),
// and metadata filters.
#include "knowledge/fusion.h"

#include <gtest/gtest.h>

#include "knowledge/metadata_filter.h"

namespace sinan::knowledge {
namespace {

TEST(Fusion, ScoresAreSumsOfOneOverSixtyPlusRank) {
    const std::vector<std::vector<int64_t>> lists = {{10, 20, 30}, {30, 40, 10}};
    const std::vector<FusedId> got = fuse_reciprocal_rank(lists, 10);
    // 10: 1/61 + 1/63; 30: 1/63 + 1/61 (a tie, broken by id... both best rank 1); 20: 1/62; 40: 1/62.
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].id, 10);
    EXPECT_EQ(got[1].id, 30);
    EXPECT_EQ(got[2].id, 20);
    EXPECT_EQ(got[3].id, 40);
    EXPECT_DOUBLE_EQ(got[0].score, 1.0 / 61 + 1.0 / 63);
    EXPECT_DOUBLE_EQ(got[1].score, 1.0 / 63 + 1.0 / 61);
    EXPECT_DOUBLE_EQ(got[2].score, 1.0 / 62);
    EXPECT_EQ(got[0].ranks, (std::vector<uint32_t>{1, 3}));
    EXPECT_EQ(got[1].ranks, (std::vector<uint32_t>{3, 1}));
    EXPECT_EQ(got[3].ranks, (std::vector<uint32_t>{0, 2}));
}

TEST(Fusion, AnItemInBothListsBeatsOneTopOfASingleList) {
    // 7 is 2nd in both lists: 2/62 = 0.03226 > 1/61 = 0.01639 of the two list heads.
    const std::vector<std::vector<int64_t>> lists = {{1, 7, 3}, {2, 7, 4}};
    const std::vector<FusedId> got = fuse_reciprocal_rank(lists, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].id, 7);
    EXPECT_EQ(got[1].id, 1);  // tie with 2 on score and best rank: the lower id
}

TEST(Fusion, SmallKConstantWeightsTopRanksMoreAndKTruncates) {
    const std::vector<std::vector<int64_t>> lists = {{1, 2, 3, 4, 5}, {5, 4, 3, 2, 1}, {3}};
    EXPECT_EQ(fuse_reciprocal_rank(lists, 1)[0].id, 3);  // in all three lists
    EXPECT_EQ(fuse_reciprocal_rank(lists, 3).size(), 3u);
    EXPECT_TRUE(fuse_reciprocal_rank(lists, 0).empty());
    // The constant sets how much agreement beats a top rank: with 0, a list head (1/1) beats an
    // id third in two lists (1/3 + 1/3); with 60 it is the other way round (1/61 < 2/63).
    const std::vector<std::vector<int64_t>> two = {{1, 2, 3}, {4, 5, 3}};
    EXPECT_EQ(fuse_reciprocal_rank(two, 1, 0.0)[0].id, 1);   // 1/1 > 1/3 + 1/3
    EXPECT_EQ(fuse_reciprocal_rank(two, 1, 60.0)[0].id, 3);  // 2/63 > 1/61
}

TEST(Fusion, RepeatsInsideOneListCountOnceAtTheirBestRank) {
    const std::vector<std::vector<int64_t>> lists = {{5, 5, 6}};
    const std::vector<FusedId> got = fuse_reciprocal_rank(lists, 10);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_DOUBLE_EQ(got[0].score, 1.0 / 61);
    EXPECT_EQ(got[0].ranks[0], 1u);
    EXPECT_DOUBLE_EQ(got[1].score, 1.0 / 63);
}

TEST(Fusion, NoListsOrEmptyListsGiveNothing) {
    EXPECT_TRUE(fuse_reciprocal_rank({}, 10).empty());
    const std::vector<std::vector<int64_t>> lists = {{}, {}};
    EXPECT_TRUE(fuse_reciprocal_rank(lists, 10).empty());
}

MetadataFilter filter(std::vector<std::pair<std::string, std::string>> equals) {
    MetadataFilter f;
    f.equals = std::move(equals);
    return f;
}

TEST(MetadataFilter, AllPairsMustMatchAndMissingKeysFail) {
    const Metadata meta = {{"lang", "en"}, {"source", "a.pdf"}};
    EXPECT_TRUE(MetadataFilter().matches(meta));
    EXPECT_TRUE(filter({{"lang", "en"}}).matches(meta));
    EXPECT_TRUE(filter({{"lang", "en"}, {"source", "a.pdf"}}).matches(meta));
    EXPECT_FALSE(filter({{"lang", "en"}, {"source", "b.pdf"}}).matches(meta));
    EXPECT_FALSE(filter({{"lang", "EN"}}).matches(meta)) << "values compare exactly";
    EXPECT_FALSE(filter({{"team", "x"}}).matches(meta));
    EXPECT_FALSE(filter({{"lang", "en"}, {"lang", "zh"}}).matches(meta));
    EXPECT_FALSE(filter({{"lang", "en"}}).matches(Metadata()));
}

}  // namespace
}  // namespace sinan::knowledge
