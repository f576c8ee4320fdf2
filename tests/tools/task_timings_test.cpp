// The latency summary every task command prints (tools/task_timings.*), on times given here, so
// that the text and JSON are checked to the letter: what `corun detect --repeat 3` and the other
// task commands show after their results.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "task_timings.hpp"

namespace {

using corun::tools::StageTimes;
using corun::tools::TaskTimings;

TEST(TaskTimingsTest, OneRunIsShownAsTheFirstRun) {
    TaskTimings timings;
    timings.add(12.34, {});
    EXPECT_EQ(timings.to_text("file decoding"), "latency: 12.3 ms (first run)\n");
    const auto json = timings.to_json();
    EXPECT_EQ(json.at("runs"), 1);
    EXPECT_EQ(json.at("p50_ms"), 12.34);
    EXPECT_FALSE(json.contains("stages_p50_ms"));
}

TEST(TaskTimingsTest, RepeatedRunsGivePercentilesAndStageMedians) {
    TaskTimings timings;
    timings.add(10.0, {{"detect", 4.0}, {"recognize", 6.0}});
    timings.add(30.0, {{"detect", 8.0}, {"recognize", 22.0}});
    timings.add(20.0, {{"detect", 6.0}, {"recognize", 14.0}});
    EXPECT_EQ(timings.to_text("file decoding"),
              "latency over 3 runs (file decoding excluded): p50 20.0 ms, p95 30.0 ms, mean 20.0 "
              "ms; stage p50: detect 6.0, recognize 14.0 ms\n");
    const auto json = timings.to_json();
    EXPECT_EQ(json.at("runs"), 3);
    EXPECT_EQ(json.at("p50_ms"), 20.0);
    EXPECT_EQ(json.at("p95_ms"), 30.0);
    EXPECT_EQ(json.at("min_ms"), 10.0);
    EXPECT_EQ(json.at("max_ms"), 30.0);
    EXPECT_EQ(json.at("stages_p50_ms"), (nlohmann::json{{"detect", 6.0}, {"recognize", 14.0}}));
    EXPECT_EQ(timings.stage("recognize"), (std::vector<double>{6.0, 22.0, 14.0}));
    EXPECT_TRUE(timings.stage("classify").empty());
}

TEST(TaskTimingsTest, StagesKeepTheOrderTheyRanIn) {
    TaskTimings timings;
    timings.add(3.0, {{"embed", 1.0}, {"detect", 2.0}});
    EXPECT_EQ(timings.to_text("file reading and resampling"),
              "latency: 3.0 ms (first run; embed 1.0, detect 2.0 ms)\n");
}

}  // namespace
