#include "tasks/object_detection.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "tasks/image.hpp"
#include "tasks/model_runner.hpp"

namespace corun::tasks {
namespace {

// Upstream NanoDet's normalisation (its configs' `normalize`), applied to BGR pixels 0..255.
// Human feeds RGB/255 instead; the weights are upstream's and detect more with this one.
PixelNormalization nanodet_normalization() {
    return {ChannelOrder::BGR, 1.0f, {103.53f, 116.28f, 123.675f}, {57.375f, 57.12f, 58.395f}};
}

// Expected distance (in bins) of one side: softmax over the bins, then the mean bin index.
float expected_bin(const float* logits, size_t bins) {
    const float peak = *std::max_element(logits, logits + bins);
    float total = 0.0f;
    float weighted = 0.0f;
    for (size_t k = 0; k < bins; ++k) {
        const float p = std::exp(logits[k] - peak);
        total += p;
        weighted += p * static_cast<float>(k);
    }
    return weighted / total;
}

}  // namespace

void decode_nanodet_head(const NanodetHead& head, size_t classes, size_t bins,
                         float score_threshold, std::vector<Detection>& candidates) {
    const size_t cells = static_cast<size_t>(head.grid) * static_cast<size_t>(head.grid);
    const float stride = static_cast<float>(head.stride);
    const float limit = stride * static_cast<float>(head.grid);  // the model input's size
    for (size_t cell = 0; cell < cells; ++cell) {
        const float* scores = head.scores.data() + cell * classes;
        if (*std::max_element(scores, scores + classes) < score_threshold) continue;
        // Legacy NanoDet GFL head: distances from the cell centre, in strides.
        const float cx = (static_cast<float>(cell % head.grid) + 0.5f) * stride;
        const float cy = (static_cast<float>(cell / head.grid) + 0.5f) * stride;
        const float* logits = head.distances.data() + cell * 4 * bins;
        const float left = expected_bin(logits, bins) * stride;
        const float top = expected_bin(logits + bins, bins) * stride;
        const float right = expected_bin(logits + 2 * bins, bins) * stride;
        const float bottom = expected_bin(logits + 3 * bins, bins) * stride;
        // Clipped to the input, as upstream's distance2bbox(max_shape) does before NMS.
        const Box box{std::clamp(cx - left, 0.0f, limit), std::clamp(cy - top, 0.0f, limit),
                      std::clamp(cx + right, 0.0f, limit), std::clamp(cy + bottom, 0.0f, limit)};
        // Every class above the threshold is a candidate (upstream's multiclass NMS), so a
        // cell that is "truck" and "car" at once keeps both until NMS, per class.
        for (size_t c = 0; c < classes; ++c) {
            if (scores[c] < score_threshold) continue;
            Detection detection;
            detection.label_id = static_cast<int>(c);
            detection.score = scores[c];
            detection.box = box;
            candidates.push_back(std::move(detection));
        }
    }
}

ObjectDetectorPaths ObjectDetectorPaths::in_cache(const std::string& cache_dir) {
    return {cache_dir + "/models/nanodet/nanodet.onnx", cache_dir + "/data/darknet/coco.names"};
}

Expected<std::vector<std::string>> read_labels(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        return Status(StatusCode::NOT_FOUND, "label file '" + path + "' does not exist");
    }
    std::ifstream in(path);
    if (!in) return Status(StatusCode::OPEN_FILE_FAILURE, "cannot open label file '" + path + "'");
    std::vector<std::string> labels;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        labels.push_back(line);
    }
    while (!labels.empty() && labels.back().empty()) labels.pop_back();
    if (labels.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT, "label file '" + path + "' names no labels");
    }
    return labels;
}

Expected<std::unique_ptr<ObjectDetector>> ObjectDetector::create(
    std::shared_ptr<VDevice> vdevice, const std::string& model_path, const std::string& labels_path,
    const ObjectDetectorOptions& options) {
    std::unique_ptr<ObjectDetector> detector(new ObjectDetector());
    detector->options_ = options;
    CORUN_TRY(detector->labels_, read_labels(labels_path));
    CORUN_TRY(detector->runner_, ModelRunner::create(vdevice, model_path));
    ModelRunner& runner = *detector->runner_;
    const std::string context = "object detector model '" + model_path + "'";

    if (runner.input_names().size() != 1) {
        return Status(StatusCode::INVALID_MODEL,
                      context + " has " + std::to_string(runner.input_names().size()) +
                          " inputs; a NanoDet model has one, [1, 3, S, S]");
    }
    detector->input_name_ = runner.input_names().front();
    CORUN_TRY(const auto input_shape, runner.shape(detector->input_name_));
    if (input_shape.size() != 4 || input_shape[0] != 1 || input_shape[1] != 3 ||
        input_shape[2] != input_shape[3] || input_shape[2] <= 0) {
        return Status(StatusCode::INVALID_MODEL, context + ": input '" + detector->input_name_ +
                                                     "' is " + shape_text(input_shape) +
                                                     "; expected [1, 3, S, S] (NCHW, square)");
    }
    detector->input_size_ = static_cast<int>(input_shape[2]);

    // Pair outputs [1, cells, C] by their cell count: the scores have one value per label,
    // the distances 4 x bins. Names differ between exports, shapes do not.
    const size_t labels = detector->labels_.size();
    std::map<int64_t, std::vector<std::pair<std::string, int64_t>>> by_cells;
    std::string layout;
    bool shapes_fit = !runner.output_names().empty();
    for (const auto& name : runner.output_names()) {
        CORUN_TRY(const auto shape, runner.shape(name));
        layout += (layout.empty() ? "" : ", ") + name + " " + shape_text(shape);
        if (shape.size() != 3 || shape[0] != 1 || shape[1] <= 0 || shape[2] <= 0) {
            shapes_fit = false;
            continue;
        }
        by_cells[shape[1]].emplace_back(name, shape[2]);
    }
    const Status not_nanodet(
        StatusCode::INVALID_MODEL,
        context + " does not have NanoDet's heads: per stride, a score output [1, G*G, " +
            std::to_string(labels) + "] (one column per label of '" + labels_path +
            "') and a distance output [1, G*G, 4*bins] with the same bins for all; it has " +
            layout);
    for (const auto& [cells, outputs] : by_cells) {
        const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(cells))));
        if (outputs.size() != 2 || grid * grid != cells || detector->input_size_ % grid != 0) {
            return not_nanodet;
        }
        const bool first_scores = static_cast<size_t>(outputs[0].second) == labels;
        const auto& scores = outputs[first_scores ? 0 : 1];
        const auto& distances = outputs[first_scores ? 1 : 0];
        const auto bins = static_cast<size_t>(distances.second / 4);
        if (static_cast<size_t>(scores.second) != labels || distances.second % 4 != 0 || bins < 2 ||
            (detector->bins_ != 0 && detector->bins_ != bins)) {
            return not_nanodet;
        }
        detector->bins_ = bins;
        HeadStreams head;
        head.scores = scores.first;
        head.distances = distances.first;
        head.grid = static_cast<int>(grid);
        head.stride = detector->input_size_ / head.grid;
        detector->heads_.push_back(head);
    }
    if (!shapes_fit) return not_nanodet;
    std::sort(detector->heads_.begin(), detector->heads_.end(),
              [](const HeadStreams& a, const HeadStreams& b) { return a.stride < b.stride; });
    detector->classes_ = labels;
    return detector;
}

ObjectDetector::~ObjectDetector() = default;

Expected<std::vector<Detection>> ObjectDetector::detect(const cv::Mat& image, StageTiming* timing) {
    auto clock = std::chrono::steady_clock::now();
    StageTiming spent;
    if (image.empty())
        return Status(StatusCode::INVALID_ARGUMENT, "detect objects: the image is empty");
    cv::Mat bgr = image;
    if (image.type() == CV_8UC1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    if (image.type() == CV_8UC4) cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
    if (bgr.type() != CV_8UC3) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "detect objects: the image must be 8-bit BGR, BGRA or gray (OpenCV type " +
                          std::to_string(image.type()) + ")");
    }

    // model = image * scale + offset, per axis.
    float scale_x = 1.0f, scale_y = 1.0f, offset_x = 0.0f, offset_y = 0.0f;
    cv::Mat resized;
    if (options_.resize == ResizeMode::LETTERBOX) {
        CORUN_TRY(Letterbox boxed, letterbox(bgr, input_size_, input_size_));
        resized = std::move(boxed.image);
        scale_x = scale_y = boxed.scale;
        offset_x = boxed.offset_x;
        offset_y = boxed.offset_y;
    } else {
        CORUN_TRY(resized, resize_image(bgr, input_size_, input_size_));
        scale_x = static_cast<float>(input_size_) / static_cast<float>(bgr.cols);
        scale_y = static_cast<float>(input_size_) / static_cast<float>(bgr.rows);
    }

    std::vector<Detection> candidates;
    {
        std::lock_guard lock(mutex_);
        CORUN_TRY(std::span<float> input, runner_->floats(input_name_));
        CORUN_RETURN_IF_ERROR(
            image_to_tensor(resized, TensorLayout::NCHW, nanodet_normalization(), input));
        spent.pre_ms = lap_ms(clock);
        CORUN_RETURN_IF_ERROR(runner_->run());
        spent.infer_ms = lap_ms(clock);
        for (const HeadStreams& streams : heads_) {
            CORUN_TRY(std::span<float> scores, runner_->floats(streams.scores));
            CORUN_TRY(std::span<float> distances, runner_->floats(streams.distances));
            decode_nanodet_head({scores, distances, streams.stride, streams.grid}, classes_, bins_,
                                options_.score_threshold, candidates);
        }
    }

    NmsOptions nms;
    nms.iou_threshold = options_.iou_threshold;
    nms.class_aware = true;
    nms.max_detections = options_.max_detections;
    std::vector<Detection> detections = non_max_suppression(candidates, nms);

    const auto width = static_cast<float>(image.cols);
    const auto height = static_cast<float>(image.rows);
    for (Detection& detection : detections) {
        Box& box = detection.box;
        box = {std::clamp((box.x1 - offset_x) / scale_x, 0.0f, width),
               std::clamp((box.y1 - offset_y) / scale_y, 0.0f, height),
               std::clamp((box.x2 - offset_x) / scale_x, 0.0f, width),
               std::clamp((box.y2 - offset_y) / scale_y, 0.0f, height)};
        detection.label = labels_[static_cast<size_t>(detection.label_id)];
    }
    spent.post_ms = lap_ms(clock);
    if (timing != nullptr) {
        timing->pre_ms += spent.pre_ms;
        timing->infer_ms += spent.infer_ms;
        timing->post_ms += spent.post_ms;
    }
    return detections;
}

}  // namespace corun::tasks
