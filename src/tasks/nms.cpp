#include "tasks/nms.hpp"

#include <algorithm>
#include <numeric>

namespace corun::tasks {

float iou(const Box& a, const Box& b) {
    const float inter_w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    const float inter_h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    if (inter_w <= 0.0f || inter_h <= 0.0f) return 0.0f;
    const float inter = inter_w * inter_h;
    const float united = a.area() + b.area() - inter;
    return united > 0.0f ? inter / united : 0.0f;
}

std::vector<std::vector<size_t>> overlap_clusters(const std::vector<Box>& boxes,
                                                  const std::vector<float>& scores,
                                                  const std::vector<int>& groups,
                                                  float iou_threshold) {
    std::vector<size_t> order(boxes.size());
    std::iota(order.begin(), order.end(), size_t{0});
    // Stable, so that equal scores keep their input order and results are reproducible.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    auto group_of = [&](size_t i) { return groups.empty() ? 0 : groups[i]; };

    std::vector<bool> taken(boxes.size(), false);
    std::vector<std::vector<size_t>> clusters;
    for (size_t rank = 0; rank < order.size(); ++rank) {
        const size_t best = order[rank];
        if (taken[best]) continue;
        taken[best] = true;
        std::vector<size_t> cluster{best};
        for (size_t other_rank = rank + 1; other_rank < order.size(); ++other_rank) {
            const size_t other = order[other_rank];
            if (taken[other] || group_of(other) != group_of(best)) continue;
            if (iou(boxes[best], boxes[other]) > iou_threshold) {
                taken[other] = true;
                cluster.push_back(other);
            }
        }
        clusters.push_back(std::move(cluster));
    }
    return clusters;
}

std::vector<Detection> non_max_suppression(const std::vector<Detection>& detections,
                                           const NmsOptions& options) {
    std::vector<Box> boxes;
    std::vector<float> scores;
    std::vector<int> groups;
    for (const auto& detection : detections) {
        boxes.push_back(detection.box);
        scores.push_back(detection.score);
        if (options.class_aware) groups.push_back(detection.label_id);
    }
    std::vector<Detection> kept;
    for (const auto& cluster : overlap_clusters(boxes, scores, groups, options.iou_threshold)) {
        if (options.max_detections != 0 && kept.size() == options.max_detections) break;
        kept.push_back(detections[cluster.front()]);
    }
    return kept;
}

}  // namespace corun::tasks
