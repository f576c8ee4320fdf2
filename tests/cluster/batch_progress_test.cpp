// The progress line of `corun batch`: counts, errors, the bar's fill, and durations as text.
// (The rate and the ETA depend on the clock; their format is checked, not their values.)
#include "cluster/batch_progress.hpp"

#include <gtest/gtest.h>

namespace corun::cluster {
namespace {

TEST(BatchProgressTest, TheLineCountsDoneInputsAndErrors) {
    BatchProgress progress;
    progress.start(400);
    for (int i = 0; i < 100; ++i) progress.input_done(false, false);  // done before: unchanged
    for (int i = 0; i < 98; ++i) progress.input_done(true, false);
    progress.input_done(true, true);
    progress.input_done(true, true);
    EXPECT_EQ(progress.done(), 200u);
    EXPECT_EQ(progress.processed(), 100u);
    EXPECT_EQ(progress.bad(), 2u);

    const std::string line = progress.line(80);
    EXPECT_EQ(line.size(), 79u) << line;  // the last column stays free: no wrap
    EXPECT_NE(line.find(" 200/400  "), std::string::npos) << line;
    EXPECT_NE(line.find("/s  ETA "), std::string::npos) << line;
    EXPECT_EQ(line.substr(line.size() - 8), "errors 2") << line;
    // Half done: half the bar filled.
    const size_t bar = line.find(']') - 1;
    EXPECT_EQ(line.substr(1, bar / 2), std::string(bar / 2, '#')) << line;
    EXPECT_EQ(line.substr(1 + bar / 2, bar - bar / 2), std::string(bar - bar / 2, '.')) << line;
}

TEST(BatchProgressTest, DurationsReadAsClockTime) {
    EXPECT_EQ(duration_text(0), "0:00");
    EXPECT_EQ(duration_text(61.4), "1:01");
    EXPECT_EQ(duration_text(3723), "1:02:03");
    EXPECT_EQ(duration_text(-5), "0:00");
}

}  // namespace
}  // namespace corun::cluster
