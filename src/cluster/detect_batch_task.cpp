// detect: COCO objects with NanoDet, with `corun detect`'s defaults and JSON fields.
#include <chrono>

#include "cluster/batch_task.hpp"
#include "tasks/object_detection.hpp"

namespace corun::cluster {
namespace {

class DetectBatchTask final : public BatchTask {
public:
    explicit DetectBatchTask(std::unique_ptr<tasks::ObjectDetector> detector)
        : detector_(std::move(detector)) {}

    Expected<TaskOutput> run(const DecodedInput& input) override {
        tasks::StageTiming timing;
        CORUN_TRY(const auto detections, detector_->detect(input.image, &timing));
        nlohmann::json list = nlohmann::json::array();
        for (const auto& d : detections) {
            list.push_back({{"label", d.label},
                            {"label_id", d.label_id},
                            {"score", rounded_value(d.score, 4)},
                            {"box", box_json(d.box.x1, d.box.y1, d.box.x2, d.box.y2)}});
        }
        TaskOutput output;
        output.result = {
            {"width", input.image.cols}, {"height", input.image.rows}, {"detections", list}};
        output.timing = timing;
        return output;
    }

private:
    std::unique_ptr<tasks::ObjectDetector> detector_;
};

}  // namespace

Expected<std::unique_ptr<BatchTask>> create_detect_batch_task(
    const TaskDefinition& definition, const std::shared_ptr<VDevice>& vdevice) {
    // `corun detect`'s defaults (tools/detect_command.cpp).
    const tasks::ObjectDetectorOptions options{.score_threshold = 0.35f, .iou_threshold = 0.6f};
    CORUN_TRY(auto detector, tasks::ObjectDetector::create(vdevice, definition.model_files.at(0),
                                                           definition.model_files.at(1), options));
    return std::unique_ptr<BatchTask>(new DetectBatchTask(std::move(detector)));
}

}  // namespace corun::cluster
