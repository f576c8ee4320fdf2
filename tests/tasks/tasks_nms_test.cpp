// Detections and non-maximum suppression (issue 3): IoU, the greedy overlap clustering shared
// by every NMS variant, and class-aware / class-agnostic hard NMS.
#include <gtest/gtest.h>

#include <vector>

#include "tasks/nms.hpp"

namespace corun::tasks {
namespace {

Detection make(int label_id, float score, Box box) {
    return Detection{label_id, "class" + std::to_string(label_id), score, box};
}

TEST(IouTest, KnownOverlaps) {
    const Box a{0, 0, 10, 10};
    EXPECT_FLOAT_EQ(iou(a, a), 1.0f);
    EXPECT_FLOAT_EQ(iou(a, Box{5, 0, 15, 10}), 50.0f / 150.0f);
    EXPECT_FLOAT_EQ(iou(a, Box{0, 0, 5, 5}), 25.0f / 100.0f);
    EXPECT_FLOAT_EQ(iou(a, Box{10, 0, 20, 10}), 0.0f);  // touching edges
    EXPECT_FLOAT_EQ(iou(a, Box{20, 20, 30, 30}), 0.0f);
    EXPECT_FLOAT_EQ(iou(Box{5, 5, 5, 5}, Box{5, 5, 5, 5}), 0.0f);  // empty boxes
    EXPECT_FLOAT_EQ(iou(Box{3, 3, 1, 1}, a), 0.0f);                // inverted box counts as empty
}

TEST(BoxTest, SizesOfEmptyAndInvertedBoxesAreZero) {
    EXPECT_FLOAT_EQ((Box{1, 2, 4, 8}).area(), 18.0f);
    EXPECT_FLOAT_EQ((Box{4, 8, 1, 2}).width(), 0.0f);
    EXPECT_FLOAT_EQ((Box{4, 8, 1, 2}).area(), 0.0f);
}

TEST(OverlapClustersTest, GroupsByScoreAndOverlap) {
    const std::vector<Box> boxes = {
        {0, 0, 10, 10},    // 0: score 0.6, overlaps 1
        {1, 0, 11, 10},    // 1: score 0.9 (best of the first cluster)
        {50, 50, 60, 60},  // 2: alone
        {2, 0, 12, 10},    // 3: overlaps 1
    };
    const std::vector<float> scores = {0.6f, 0.9f, 0.7f, 0.5f};
    const auto clusters = overlap_clusters(boxes, scores, {}, 0.5f);
    ASSERT_EQ(clusters.size(), 2u);
    EXPECT_EQ(clusters[0], (std::vector<size_t>{1, 0, 3}));
    EXPECT_EQ(clusters[1], (std::vector<size_t>{2}));

    // Groups keep boxes apart: 0 is another class than 1 and 3.
    const auto grouped = overlap_clusters(boxes, scores, {7, 3, 3, 3}, 0.5f);
    ASSERT_EQ(grouped.size(), 3u);
    EXPECT_EQ(grouped[0], (std::vector<size_t>{1, 3}));
    EXPECT_EQ(grouped[1], (std::vector<size_t>{2}));
    EXPECT_EQ(grouped[2], (std::vector<size_t>{0}));
}

TEST(OverlapClustersTest, TiesKeepInputOrderAndEmptyInputIsEmpty) {
    const std::vector<Box> boxes = {{0, 0, 10, 10}, {0, 0, 10, 10}};
    const auto clusters = overlap_clusters(boxes, {0.5f, 0.5f}, {}, 0.5f);
    ASSERT_EQ(clusters.size(), 1u);
    EXPECT_EQ(clusters[0], (std::vector<size_t>{0, 1}));
    EXPECT_TRUE(overlap_clusters({}, {}, {}, 0.5f).empty());
}

TEST(NmsTest, ClassAwareKeepsOverlappingBoxesOfDifferentClasses) {
    const std::vector<Detection> detections = {
        make(16, 0.80f, {100, 100, 200, 200}),  // dog
        make(16, 0.70f, {105, 100, 205, 200}),  // dog, duplicate
        make(1, 0.75f, {100, 100, 200, 200}),   // bicycle, same place
        make(16, 0.40f, {400, 400, 450, 450}),  // another dog
    };
    const auto kept = non_max_suppression(detections, {0.45f, true, 0});
    ASSERT_EQ(kept.size(), 3u);
    EXPECT_FLOAT_EQ(kept[0].score, 0.80f);
    EXPECT_EQ(kept[1].label, "class1");
    EXPECT_FLOAT_EQ(kept[2].score, 0.40f);

    const auto agnostic = non_max_suppression(detections, {0.45f, false, 0});
    ASSERT_EQ(agnostic.size(), 2u);
    EXPECT_EQ(agnostic[0].label_id, 16);
    EXPECT_FLOAT_EQ(agnostic[1].score, 0.40f);
}

TEST(NmsTest, ThresholdIsStrictAndMaxDetectionsCaps) {
    // IoU exactly 1/3: suppressed only under a threshold below it.
    const std::vector<Detection> pair = {make(0, 0.9f, {0, 0, 10, 10}),
                                         make(0, 0.8f, {5, 0, 15, 10})};
    EXPECT_EQ(non_max_suppression(pair, {0.3f, true, 0}).size(), 1u);
    EXPECT_EQ(non_max_suppression(pair, {0.34f, true, 0}).size(), 2u);

    std::vector<Detection> many;
    for (int i = 0; i < 10; ++i) {
        many.push_back(make(0, 0.1f * static_cast<float>(i), {20.0f * i, 0, 20.0f * i + 10, 10}));
    }
    const auto capped = non_max_suppression(many, {0.5f, true, 3});
    ASSERT_EQ(capped.size(), 3u);
    EXPECT_FLOAT_EQ(capped[0].score, 0.9f);
    EXPECT_FLOAT_EQ(capped[2].score, 0.7f);
    EXPECT_TRUE(non_max_suppression({}, {}).empty());
}

}  // namespace
}  // namespace corun::tasks
