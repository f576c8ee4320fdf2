// OCR with PaddleOCR's PP-OCRv4 models through the corun API: text detection (DB) -> a crop per
// text box -> angle classification (0 or 180 degrees) -> recognition -> CTC decode with the
// key list. Pre- and post-processing follow PaddleOCR's (2.x, PP-OCRv4) defaults, plus two
// additions that were measured to read better (OcrParams::verify_rotation and
// clipped_line_padding) and recogniser batching suited to a CPU (recognizer_batch_size).
//
//   auto vdevice = corun::VDevice::create_shared().release();
//   auto ocr = corun::tasks::OcrPipeline::create(
//       vdevice, corun::tasks::OcrModelPaths::in_cache(".cache")).release();
//   for (const auto& line : ocr->read(cv::imread("page.png")).value()) std::cout << line.text;
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "corun/corun.hpp"
#include "tasks/ctc_decoder.hpp"
#include "tasks/ocr_shape_cache.hpp"
#include "tasks/text_detection.hpp"

namespace corun::tasks {

struct OcrModelPaths {
    std::string detector;    // ch_PP-OCRv4_det_infer.onnx
    std::string recognizer;  // ch_PP-OCRv4_rec_infer.onnx
    std::string classifier;  // ch_ppocr_mobile_v2.0_cls_infer.onnx; "" = no angle classification
    std::string keys;        // ppocr_keys_v1.txt

    // Where scripts/fetch_models.sh puts them (models/manifest.json) under `cache_dir`, the
    // repository's .cache folder.
    static OcrModelPaths in_cache(const std::string& cache_dir);
};

struct OcrParams {
    TextDetectionParams detection;
    bool classify_angle = true;    // needs OcrModelPaths::classifier
    float angle_threshold = 0.9f;  // turn a line 180 degrees above this classifier score
    // Recognise a line the classifier would turn both ways, and keep the more confident
    // reading: the classifier alone turns some upright lines over (one line of opencv-doc's
    // imageTextN.png). Costs a second recogniser run for those lines only.
    bool verify_rotation = true;
    // PP-OCRv4's detector draws its boxes tight around large, sharp text (text rendered at 20
    // pixels and up): the crop cuts into the glyphs, and the recogniser then drops the spaces
    // between words ("HelloWorld2024"). A crop whose ink reaches its border is taken again
    // with the box grown by this fraction of its height on every side. Scanned pages, whose
    // crops have margins, are unaffected. Measured on 120 rendered lines (DejaVu Sans/Serif,
    // 14-48 pixels): 58 read exactly without it, 113 with 0.15. 0 turns it off.
    float clipped_line_padding = 0.15f;
    float min_confidence = 0.5f;  // lines read with less are dropped (PaddleOCR drop_score)
    // Text lines per recogniser run. On a CPU the cost is linear in pixels, so batching gains
    // nothing and pads short lines to the longest; 1 also keeps the number of distinct input
    // shapes (and so of configure() calls) small. PaddleOCR uses 6, which suits accelerators.
    size_t recognizer_batch_size = 1;
    size_t classifier_batch_size = 6;  // its input is always 48 x 192: no padding to waste
    // A batch's padded area (lines x width, at height 48) stays within this unless one line is
    // wider; a line is squeezed to at most max_line_width pixels at height 48.
    int max_batch_width = 6 * 640;
    int max_line_width = 4800;
    size_t cached_shapes = 32;                 // configured input shapes kept per model (LRU)
    std::chrono::milliseconds timeout{60000};  // per inference, queueing included
};

struct TextLine {
    std::string text;         // UTF-8
    float confidence = 0.0f;  // the recogniser's mean character probability
    Quad box;                 // the region read, in image pixels, clockwise from the top left
    float box_score = 0.0f;   // the detector's mean text probability inside the box
    bool rotated = false;     // the angle classifier turned the line 180 degrees
};

// The angle classifier's verdict on one text line.
struct LineAngle {
    bool upside_down = false;  // class "180"
    float score = 0.0f;        // probability of that class
};

// Wall time of each stage of one read(), in milliseconds.
struct OcrTiming {
    double detect_ms = 0.0;     // resize + detector + boxes
    double classify_ms = 0.0;   // crops + angle classifier
    double recognize_ms = 0.0;  // recogniser + CTC decode
    double total_ms = 0.0;
};

class OcrPipeline {
public:
    // Loads the models on `vdevice`. NOT_FOUND naming every missing file (and how to fetch
    // them); INVALID_ARGUMENT when the key list does not fit the recogniser.
    static Expected<std::unique_ptr<OcrPipeline>> create(std::shared_ptr<VDevice> vdevice,
                                                         const OcrModelPaths& paths,
                                                         const OcrParams& params = {});

    // The text lines of an 8-bit gray, BGR or BGRA image (as cv::imread gives), in reading
    // order. An image without text gives no lines; an empty image is INVALID_ARGUMENT.
    // Thread-safe.
    Expected<std::vector<TextLine>> read(const cv::Mat& image, OcrTiming* timing = nullptr);

    // The stages on their own. Images are BGR (see to_bgr).
    Expected<std::vector<TextBox>> detect(const cv::Mat& bgr);
    Expected<std::vector<LineAngle>> classify_angles(const std::vector<cv::Mat>& line_images);
    Expected<std::vector<DecodedText>> recognize(const std::vector<cv::Mat>& line_images);

    const OcrParams& params() const { return params_; }
    const CtcDecoder& decoder() const { return decoder_; }
    // Input shapes configured so far, all models together (each cost one configure()).
    size_t configured_shape_count() const;

private:
    OcrPipeline(std::shared_ptr<VDevice> vdevice, OcrParams params, CtcDecoder decoder)
        : vdevice_(std::move(vdevice)), params_(std::move(params)), decoder_(std::move(decoder)) {}

    std::shared_ptr<VDevice> vdevice_;
    OcrParams params_;
    CtcDecoder decoder_;
    std::unique_ptr<ShapeCachedModel> detector_;
    std::unique_ptr<ShapeCachedModel> recognizer_;
    std::unique_ptr<ShapeCachedModel> classifier_;  // null without angle classification
    int64_t recognizer_stride_ = 8;                 // input columns per output time step
};

}  // namespace corun::tasks
