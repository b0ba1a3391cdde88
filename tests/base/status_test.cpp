#include "base/status.h"

#include <gtest/gtest.h>

#include "base/checked_math.h"

namespace sinan {
namespace {

Status fails_when(bool fail) { return fail ? Status::error("inner went wrong") : Status::ok(); }

Result<int> twice(bool fail) {
    SINAN_RETURN_IF_ERROR(fails_when(fail));
    return 2;
}

TEST(Status, OkAndErrorCarryTheirMessage) {
    EXPECT_TRUE(Status::ok().is_ok());
    Status e = Status::error("model.gguf: bad");
    EXPECT_FALSE(e.is_ok());
    EXPECT_EQ(e.message(), "model.gguf: bad");
    EXPECT_EQ(e.annotate("loading: ").message(), "loading: model.gguf: bad");
    EXPECT_TRUE(Status::ok().annotate("x").is_ok());
}

TEST(Result, HoldsAValueOrTheError) {
    Result<int> ok = twice(false);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, 2);
    Result<int> bad = twice(true);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.message(), "inner went wrong");
    EXPECT_FALSE(bad.status().is_ok());
}

TEST(ResultDeathTest, ValueOfAnErrorIsAProgrammerError) {
    Result<int> bad = twice(true);
    EXPECT_DEATH((void)bad.value(), "Result::value\\(\\) on an error");
}

TEST(CheckedMath, DetectsOverflow) {
    uint64_t out = 0;
    EXPECT_TRUE(checked_add(1, 2, &out));
    EXPECT_EQ(out, 3u);
    EXPECT_FALSE(checked_add(~0ull, 1, &out));
    EXPECT_FALSE(checked_mul(1ull << 32, 1ull << 32, &out));
    EXPECT_TRUE(checked_align_up(33, 32, &out));
    EXPECT_EQ(out, 64u);
    EXPECT_TRUE(checked_align_up(64, 32, &out));
    EXPECT_EQ(out, 64u);
    EXPECT_FALSE(checked_align_up(~0ull - 3, 32, &out));
}

}  // namespace
}  // namespace sinan
