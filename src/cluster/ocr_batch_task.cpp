// ocr: text lines with PP-OCRv4 (detection, angle classification, recognition), with
// `corun ocr`'s defaults and JSON fields. Its three models time themselves as stages.
#include "cluster/batch_task.hpp"
#include "tasks/ocr_pipeline.hpp"

namespace corun::cluster {
namespace {

class OcrBatchTask final : public BatchTask {
public:
    explicit OcrBatchTask(std::unique_ptr<tasks::OcrPipeline> pipeline)
        : pipeline_(std::move(pipeline)) {}

    Expected<TaskOutput> run(const DecodedInput& input) override {
        tasks::OcrTiming timing;
        CORUN_TRY(const auto lines, pipeline_->read(input.image, &timing));
        nlohmann::json list = nlohmann::json::array();
        for (const auto& line : lines) {
            nlohmann::json box = nlohmann::json::array();
            for (const auto& corner : line.box) {
                box.push_back({rounded_value(corner.x, 1), rounded_value(corner.y, 1)});
            }
            list.push_back({{"text", line.text},
                            {"confidence", rounded_value(line.confidence, 4)},
                            {"box", box},
                            {"box_score", rounded_value(line.box_score, 4)},
                            {"rotated", line.rotated}});
        }
        TaskOutput output;
        output.result = {
            {"width", input.image.cols}, {"height", input.image.rows}, {"lines", list}};
        output.stages = {{"detect_ms", timing.detect_ms},
                         {"classify_ms", timing.classify_ms},
                         {"recognize_ms", timing.recognize_ms}};
        return output;
    }

private:
    std::unique_ptr<tasks::OcrPipeline> pipeline_;
};

}  // namespace

Expected<std::unique_ptr<BatchTask>> create_ocr_batch_task(
    const TaskDefinition& definition, const std::shared_ptr<VDevice>& vdevice) {
    const auto& files = definition.model_files;
    const tasks::OcrModelPaths paths{files.at(0), files.at(1), files.at(2), files.at(3)};
    tasks::OcrParams params;  // `corun ocr`'s defaults (tools/ocr_command.cpp)
    params.min_confidence = 0.5f;
    params.classify_angle = true;
    CORUN_TRY(auto pipeline, tasks::OcrPipeline::create(vdevice, paths, params));
    return std::unique_ptr<BatchTask>(new OcrBatchTask(std::move(pipeline)));
}

}  // namespace corun::cluster
