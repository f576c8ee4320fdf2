#include "serving/bearer_token.hpp"

#include <gtest/gtest.h>

namespace corun::serving {
namespace {

TEST(BearerTokenTest, OnlyTheSameTokenMatches) {
    EXPECT_TRUE(same_token("s3cret", "s3cret"));
    EXPECT_FALSE(same_token("s3creT", "s3cret"));
    EXPECT_FALSE(same_token("s3cre", "s3cret"));    // a prefix
    EXPECT_FALSE(same_token("s3crets", "s3cret"));  // longer
    EXPECT_FALSE(same_token("", "s3cret"));
}

// The fronts never ask with no token configured; asked anyway, it answers instead of dividing
// by the empty token's length.
TEST(BearerTokenTest, AnEmptyExpectedTokenMatchesOnlyAnEmptyOne) {
    EXPECT_TRUE(same_token("", ""));
    EXPECT_FALSE(same_token("anything", ""));
}

}  // namespace
}  // namespace corun::serving
