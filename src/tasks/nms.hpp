// Detections and non-maximum suppression, shared by every detector (faces, COCO objects).
// Boxes are corner coordinates in image pixels.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace corun::tasks {

struct Point {
    float x = 0.0f;
    float y = 0.0f;
};

struct Box {
    float x1 = 0.0f;  // left
    float y1 = 0.0f;  // top
    float x2 = 0.0f;  // right
    float y2 = 0.0f;  // bottom
    float width() const { return x2 > x1 ? x2 - x1 : 0.0f; }
    float height() const { return y2 > y1 ? y2 - y1 : 0.0f; }
    float area() const { return width() * height(); }
};

struct Detection {
    int label_id = -1;  // class index in the model's label list
    std::string label;  // "dog", "face", ...
    float score = 0.0f;
    Box box;
};

// Intersection over union; 0 when either box is empty.
float iou(const Box& a, const Box& b);

// Greedy clustering behind every NMS variant: visits boxes from the highest score down; each
// box not yet taken starts a cluster with every remaining box whose IoU with it exceeds
// `iou_threshold`. Returns the clusters as indices into `boxes`, the best box first, in
// descending score order of their best box. Boxes with different `groups` values never share
// a cluster (pass class ids for class-aware NMS, or an empty vector for one group).
std::vector<std::vector<size_t>> overlap_clusters(const std::vector<Box>& boxes,
                                                  const std::vector<float>& scores,
                                                  const std::vector<int>& groups,
                                                  float iou_threshold);

struct NmsOptions {
    float iou_threshold = 0.45f;  // boxes overlapping a better one by more than this are dropped
    bool class_aware = true;      // only boxes with the same label_id suppress each other
    size_t max_detections = 0;    // keep at most this many (0 = all)
};

// Standard (hard) NMS: the best detection of each cluster, sorted by descending score.
std::vector<Detection> non_max_suppression(const std::vector<Detection>& detections,
                                           const NmsOptions& options = {});

}  // namespace corun::tasks
