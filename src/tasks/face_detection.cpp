#include "tasks/face_detection.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "tasks/image.hpp"
#include "tasks/model_runner.hpp"

namespace corun::tasks {
namespace {

constexpr size_t REGRESSOR_SIZE = 16;  // dx, dy, w, h, then 6 keypoints (x, y)

float sigmoid(float logit) {
    // MediaPipe clips logits to +-100 (score_clipping_thresh) before the sigmoid.
    return 1.0f / (1.0f + std::exp(-std::clamp(logit, -100.0f, 100.0f)));
}

// The side of a square grid of `rows / anchors_per_cell` cells, or 0 if it is not one.
int grid_side(int64_t rows, int anchors_per_cell) {
    if (rows <= 0 || rows % anchors_per_cell != 0) return 0;
    const auto cells = rows / anchors_per_cell;
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(cells))));
    return side * side == cells ? static_cast<int>(side) : 0;
}

}  // namespace

std::vector<Anchor> generate_ssd_anchors(int input_size, const std::vector<int>& strides,
                                         float offset) {
    std::vector<Anchor> anchors;
    size_t layer = 0;
    while (layer < strides.size()) {
        // Layers with the same stride share a grid; each adds two anchors per cell.
        size_t last = layer;
        while (last + 1 < strides.size() && strides[last + 1] == strides[layer]) ++last;
        const int per_cell = 2 * static_cast<int>(last - layer + 1);
        const int stride = std::max(strides[layer], 1);
        const int side = (input_size + stride - 1) / stride;
        for (int y = 0; y < side; ++y) {
            for (int x = 0; x < side; ++x) {
                const Anchor anchor{(static_cast<float>(x) + offset) / static_cast<float>(side),
                                    (static_cast<float>(y) + offset) / static_cast<float>(side)};
                anchors.insert(anchors.end(), static_cast<size_t>(per_cell), anchor);
            }
        }
        layer = last + 1;
    }
    return anchors;
}

std::vector<Face> decode_blazeface(std::span<const float> score_logits,
                                   std::span<const float> regressors,
                                   const std::vector<Anchor>& anchors, int input_size,
                                   const FaceDetectorOptions& options) {
    const auto size = static_cast<float>(input_size);
    const size_t count =
        std::min({score_logits.size(), regressors.size() / REGRESSOR_SIZE, anchors.size()});
    std::vector<Face> candidates;
    for (size_t i = 0; i < count; ++i) {
        const float score = sigmoid(score_logits[i]);
        if (score < options.score_threshold) continue;
        const float* raw = regressors.data() + i * REGRESSOR_SIZE;
        const float anchor_x = anchors[i].x * size;
        const float anchor_y = anchors[i].y * size;
        Face face;
        face.score = score;
        const float centre_x = anchor_x + raw[0];
        const float centre_y = anchor_y + raw[1];
        face.box = {centre_x - raw[2] / 2, centre_y - raw[3] / 2, centre_x + raw[2] / 2,
                    centre_y + raw[3] / 2};
        for (size_t k = 0; k < face.keypoints.size(); ++k) {
            face.keypoints[k] = {anchor_x + raw[4 + 2 * k], anchor_y + raw[5 + 2 * k]};
        }
        if (face.box.area() > 0.0f) candidates.push_back(face);
    }

    std::vector<Box> boxes;
    std::vector<float> scores;
    for (const auto& face : candidates) {
        boxes.push_back(face.box);
        scores.push_back(face.score);
    }
    std::vector<Face> faces;
    for (const auto& cluster : overlap_clusters(boxes, scores, {}, options.iou_threshold)) {
        if (faces.size() == options.max_faces) break;
        Face merged = candidates[cluster.front()];
        if (options.weighted_nms && cluster.size() > 1) {
            // Score-weighted mean of the cluster's boxes and keypoints; the score stays the best.
            Face sum{};
            float total = 0.0f;
            for (size_t index : cluster) {
                const Face& face = candidates[index];
                const float w = face.score;
                total += w;
                sum.box.x1 += w * face.box.x1;
                sum.box.y1 += w * face.box.y1;
                sum.box.x2 += w * face.box.x2;
                sum.box.y2 += w * face.box.y2;
                for (size_t k = 0; k < sum.keypoints.size(); ++k) {
                    sum.keypoints[k].x += w * face.keypoints[k].x;
                    sum.keypoints[k].y += w * face.keypoints[k].y;
                }
            }
            merged.box = {sum.box.x1 / total, sum.box.y1 / total, sum.box.x2 / total,
                          sum.box.y2 / total};
            for (size_t k = 0; k < sum.keypoints.size(); ++k) {
                merged.keypoints[k] = {sum.keypoints[k].x / total, sum.keypoints[k].y / total};
            }
        }
        faces.push_back(merged);
    }
    return faces;
}

FaceDetector::~FaceDetector() = default;

std::string FaceDetector::default_model(const std::string& cache_dir) {
    return cache_dir + "/models/blazeface-256/face_detection_back_256x256_barracuda.onnx";
}

Expected<std::unique_ptr<FaceDetector>> FaceDetector::create(std::shared_ptr<VDevice> vdevice,
                                                             const std::string& model_path,
                                                             const FaceDetectorOptions& options) {
    std::unique_ptr<FaceDetector> detector(new FaceDetector());
    detector->options_ = options;
    CORUN_TRY(detector->runner_, ModelRunner::create(vdevice, model_path));
    ModelRunner& runner = *detector->runner_;
    auto invalid = [&](const std::string& why) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + model_path + "' is not a BlazeFace model: " + why);
    };

    if (runner.input_names().size() != 1) return invalid("it has several inputs");
    detector->input_name_ = runner.input_names().front();
    CORUN_TRY(auto input_shape, runner.shape(detector->input_name_));
    if (input_shape.size() != 4 || input_shape[1] != input_shape[2] || input_shape[3] != 3) {
        return invalid("its input is not [1, S, S, 3] (NHWC)");
    }
    detector->input_size_ = static_cast<int>(input_shape[1]);

    // Two score outputs [1, rows, 1] and two regressor outputs [1, rows, 16]; the grid with
    // two anchors per cell (more rows) comes first in the anchor order.
    struct Output {
        std::string name;
        int64_t rows;
    };
    std::vector<Output> scores;
    std::vector<Output> regressors;
    for (const auto& name : runner.output_names()) {
        CORUN_TRY(auto shape, runner.shape(name));
        if (shape.size() != 3) return invalid("output '" + name + "' is not [1, anchors, n]");
        if (shape[2] == 1) scores.push_back({name, shape[1]});
        if (shape[2] == static_cast<int64_t>(REGRESSOR_SIZE))
            regressors.push_back({name, shape[1]});
    }
    if (scores.size() != 2 || regressors.size() != 2) {
        return invalid("expected 2 score outputs [1, n, 1] and 2 box outputs [1, n, 16]");
    }
    auto by_rows = [](const Output& a, const Output& b) { return a.rows > b.rows; };
    std::sort(scores.begin(), scores.end(), by_rows);
    std::sort(regressors.begin(), regressors.end(), by_rows);
    const int fine = grid_side(scores[0].rows, 2);
    const int coarse = grid_side(scores[1].rows, 6);
    if (fine == 0 || coarse == 0 || detector->input_size_ % fine != 0 ||
        detector->input_size_ % coarse != 0) {
        return invalid("its outputs do not form a 2-anchor and a 6-anchor square grid");
    }
    const int fine_stride = detector->input_size_ / fine;
    const int coarse_stride = detector->input_size_ / coarse;
    detector->anchors_ = generate_ssd_anchors(
        detector->input_size_, {fine_stride, coarse_stride, coarse_stride, coarse_stride});
    const auto rows = static_cast<size_t>(scores[0].rows + scores[1].rows);
    if (detector->anchors_.size() != rows ||
        static_cast<size_t>(regressors[0].rows + regressors[1].rows) != rows) {
        return invalid(std::to_string(detector->anchors_.size()) + " anchors but " +
                       std::to_string(rows) + " output rows");
    }
    detector->score_names_ = {scores[0].name, scores[1].name};
    detector->regressor_names_ = {regressors[0].name, regressors[1].name};
    return detector;
}

Expected<std::vector<Face>> FaceDetector::detect(const cv::Mat& image, StageTiming* timing) {
    auto clock = std::chrono::steady_clock::now();
    StageTiming spent;
    if (image.empty())
        return Status(StatusCode::INVALID_ARGUMENT, "detect faces: the image is empty");
    cv::Mat bgr = image;
    if (image.type() == CV_8UC1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    if (bgr.type() != CV_8UC3) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "detect faces: the image must be 8-bit BGR or gray (OpenCV type " +
                          std::to_string(image.type()) + ")");
    }
    CORUN_TRY(const Letterbox boxed, letterbox(bgr, input_size_, input_size_));

    std::lock_guard lock(mutex_);
    CORUN_TRY(std::span<float> input, runner_->floats(input_name_));
    CORUN_RETURN_IF_ERROR(
        image_to_tensor(boxed.image, TensorLayout::NHWC, PixelNormalization::symmetric(), input));
    spent.pre_ms = lap_ms(clock);
    CORUN_RETURN_IF_ERROR(runner_->run());
    spent.infer_ms = lap_ms(clock);

    std::vector<float> logits;
    std::vector<float> regressors;
    for (size_t grid = 0; grid < 2; ++grid) {
        CORUN_TRY(std::span<float> score, runner_->floats(score_names_[grid]));
        CORUN_TRY(std::span<float> regressor, runner_->floats(regressor_names_[grid]));
        logits.insert(logits.end(), score.begin(), score.end());
        regressors.insert(regressors.end(), regressor.begin(), regressor.end());
    }
    std::vector<Face> faces = decode_blazeface(logits, regressors, anchors_, input_size_, options_);

    // Model-input pixels -> image pixels; boxes clipped to the image.
    const auto width = static_cast<float>(image.cols);
    const auto height = static_cast<float>(image.rows);
    for (Face& face : faces) {
        face.box = {std::clamp(boxed.to_image_x(face.box.x1), 0.0f, width),
                    std::clamp(boxed.to_image_y(face.box.y1), 0.0f, height),
                    std::clamp(boxed.to_image_x(face.box.x2), 0.0f, width),
                    std::clamp(boxed.to_image_y(face.box.y2), 0.0f, height)};
        for (Point& point : face.keypoints) {
            point = {boxed.to_image_x(point.x), boxed.to_image_y(point.y)};
        }
    }
    spent.post_ms = lap_ms(clock);
    if (timing != nullptr) {
        timing->pre_ms += spent.pre_ms;
        timing->infer_ms += spent.infer_ms;
        timing->post_ms += spent.post_ms;
    }
    return faces;
}

}  // namespace corun::tasks
