// faces: faces with BlazeFace (256) and each face's identity embedding with faceres, with
// `corun faces --embed`'s defaults and JSON fields; the embeddings themselves go to the store
// as float32 BLOBs, the JSON keeps their dimension and norm.
#include <cmath>

#include "cluster/batch_task.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/face_embedding.hpp"

namespace corun::cluster {
namespace {

// tasks::Face::keypoints in order, as `corun faces` names them.
const char* const KEYPOINT_NAMES[6] = {"right_eye", "left_eye",          "nose_tip",
                                       "mouth",     "right_ear_tragion", "left_ear_tragion"};

double norm_of(const std::vector<float>& values) {
    double sum = 0.0;
    for (const float v : values) sum += static_cast<double>(v) * v;
    return std::sqrt(sum);
}

class FacesBatchTask final : public BatchTask {
public:
    FacesBatchTask(std::unique_ptr<tasks::FaceDetector> detector,
                   std::unique_ptr<tasks::FaceEmbedder> embedder)
        : detector_(std::move(detector)), embedder_(std::move(embedder)) {}

    Expected<TaskOutput> run(const DecodedInput& input) override {
        TaskOutput output;
        tasks::StageTiming timing;
        CORUN_TRY(const auto faces, detector_->detect(input.image, &timing));
        nlohmann::json list = nlohmann::json::array();
        for (const auto& face : faces) {
            CORUN_TRY(auto vector, embedder_->embed(input.image, face, &timing));
            nlohmann::json keypoints = nlohmann::json::array();
            for (const auto& point : face.keypoints) {
                keypoints.push_back({rounded_value(point.x, 1), rounded_value(point.y, 1)});
            }
            list.push_back(
                {{"score", rounded_value(face.score, 4)},
                 {"box", box_json(face.box.x1, face.box.y1, face.box.x2, face.box.y2)},
                 {"keypoints", keypoints},
                 {"embedding",
                  {{"dimension", vector.size()}, {"norm", rounded_value(norm_of(vector), 4)}}}});
            output.embeddings.push_back(std::move(vector));
        }
        output.result = {{"width", input.image.cols},
                         {"height", input.image.rows},
                         {"keypoint_names", KEYPOINT_NAMES},
                         {"faces", list}};
        output.timing = timing;
        return output;
    }

private:
    std::unique_ptr<tasks::FaceDetector> detector_;
    std::unique_ptr<tasks::FaceEmbedder> embedder_;
};

}  // namespace

Expected<std::unique_ptr<BatchTask>> create_faces_batch_task(
    const TaskDefinition& definition, const std::shared_ptr<VDevice>& vdevice) {
    // `corun faces`'s defaults (tools/faces_command.cpp).
    const tasks::FaceDetectorOptions options{.score_threshold = 0.75f, .iou_threshold = 0.3f};
    CORUN_TRY(auto detector,
              tasks::FaceDetector::create(vdevice, definition.model_files.at(0), options));
    CORUN_TRY(auto embedder, tasks::FaceEmbedder::create(vdevice, definition.model_files.at(1)));
    return std::unique_ptr<BatchTask>(new FacesBatchTask(std::move(detector), std::move(embedder)));
}

}  // namespace corun::cluster
