// OCR (issue 3): CTC decoding, DB text-box post-processing and crops on synthetic data, and the
// PP-OCRv4 pipeline on text rendered here with a Debian font (fonts-dejavu-core, through
// OpenCV's freetype module) and on opencv-doc's text images.
// The model tests skip, saying why, when scripts/fetch_models.sh has not fetched the models.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tasks/ctc_decoder.hpp"
#include "tasks/image.hpp"
#include "tasks/ocr_pipeline.hpp"
#include "tasks/text_detection.hpp"
#include "tasks/text_rendering.hpp"
#include "test_support.hpp"

namespace corun::tasks {
namespace {

using corun::test::contains;

bool exists(const std::string& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error);
}

// Black text lines on white in DejaVu Sans (tasks/text_rendering), `font_height` pixels high.
cv::Mat render_lines(const std::vector<std::string>& lines, int font_height = 36) {
    auto image = render_text_lines(lines, font_height);
    EXPECT_TRUE(image.has_value()) << image.status();
    return image ? image.value() : cv::Mat();
}

// Tests that render text skip without the font.
#define SKIP_WITHOUT_FONT()    \
    if (!exists(DEFAULT_FONT)) \
    GTEST_SKIP() << DEFAULT_FONT << " is missing; apt-get install fonts-dejavu-core"

std::vector<std::string> texts_of(const std::vector<TextLine>& lines) {
    std::vector<std::string> texts;
    for (const auto& line : lines) texts.push_back(line.text);
    return texts;
}

// ---- CTC decoding ----

// One-hot rows: each step gives its class probability 0.9, the rest shared.
std::vector<float> one_hot(const std::vector<size_t>& classes_per_step, size_t class_count) {
    std::vector<float> rows(classes_per_step.size() * class_count,
                            0.1f / static_cast<float>(class_count - 1));
    for (size_t step = 0; step < classes_per_step.size(); ++step) {
        rows[step * class_count + classes_per_step[step]] = 0.9f;
    }
    return rows;
}

TEST(CtcDecoderTest, MergesRepeatsDropsBlanksAndKeepsBlankSeparatedRepeats) {
    // Classes: 0 blank, 1 'a', 2 'b', 3 'l', 4 space.
    ASSERT_OK_AND_ASSIGN(auto decoder, CtcDecoder::from_keys({"a", "b", "l"}, 5));
    EXPECT_TRUE(decoder.has_space_class());
    EXPECT_EQ(decoder.label(0), "");
    EXPECT_EQ(decoder.label(4), " ");
    // "b a l l" with "l l" separated by a blank, runs of repeats, blanks at both ends.
    const auto rows = one_hot({0, 2, 2, 0, 1, 1, 3, 0, 3, 3, 4, 1, 0}, 5);
    const DecodedText text = decoder.decode(rows.data(), 13);
    EXPECT_EQ(text.text, "ball a");
    EXPECT_NEAR(text.confidence, 0.9f, 1e-6);
}

TEST(CtcDecoderTest, AllBlankIsEmptyWithZeroConfidence) {
    ASSERT_OK_AND_ASSIGN(auto decoder, CtcDecoder::from_keys({"a"}, 2));
    EXPECT_FALSE(decoder.has_space_class());
    const auto rows = one_hot({0, 0, 0}, 2);
    const DecodedText text = decoder.decode(rows.data(), 3);
    EXPECT_EQ(text.text, "");
    EXPECT_EQ(text.confidence, 0.0f);
}

TEST(CtcDecoderTest, MultiByteKeysDecodeAsUtf8) {
    ASSERT_OK_AND_ASSIGN(auto decoder, CtcDecoder::from_keys({"\xe4\xb8\xad", "\xe6\x96\x87"}, 4));
    const auto rows = one_hot({1, 0, 2}, 4);
    EXPECT_EQ(decoder.decode(rows.data(), 3).text, "\xe4\xb8\xad\xe6\x96\x87");  // 中文
}

TEST(CtcDecoderTest, KeyListThatDoesNotFitTheModelIsRefused) {
    auto decoder = CtcDecoder::from_keys({"a", "b"}, 10);
    EXPECT_STATUS(decoder, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(decoder.status().message(), "10 classes")) << decoder.status();
    EXPECT_TRUE(contains(decoder.status().message(), "2 keys")) << decoder.status();
}

TEST(CtcDecoderTest, MissingKeyFileIsNotFound) {
    auto decoder = CtcDecoder::from_file("/nonexistent/keys.txt", 5);
    EXPECT_STATUS(decoder, StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(decoder.status().message(), "/nonexistent/keys.txt"));
}

// ---- detection pre- and post-processing ----

TEST(TextDetectionTest, InputSidesAreMultiplesOf32WithinTheLimit) {
    TextDetectionParams params;
    const cv::Mat large(1500, 2000, CV_8UC3, cv::Scalar(255, 255, 255));
    const DetectionInput input = make_detection_input(large, params);
    EXPECT_EQ(input.width, 960);   // 2000 -> 960
    EXPECT_EQ(input.height, 704);  // 1500 * 0.48 = 720 -> round(22.5) = 22 (even) -> 704
    EXPECT_EQ(input.tensor.size(), 3u * 704 * 960);

    const cv::Mat small(1, 1, CV_8UC3, cv::Scalar(0, 0, 0));
    const DetectionInput tiny = make_detection_input(small, params);
    EXPECT_EQ(tiny.width, 32);  // never below 32, never scaled up otherwise
    EXPECT_EQ(tiny.height, 32);

    const cv::Mat line(50, 300, CV_8UC3, cv::Scalar(0, 0, 0));
    const DetectionInput unscaled = make_detection_input(line, params);
    EXPECT_EQ(unscaled.width, 288);
    EXPECT_EQ(unscaled.height, 64);
}

TEST(TextDetectionTest, NormalisesBgrChannelsWithImagenetMeanAndStd) {
    // PaddleOCR applies mean/std in the image's own (BGR) channel order.
    const cv::Mat image(64, 64, CV_8UC3, cv::Scalar(255, 128, 0));  // B=255, G=128, R=0
    const DetectionInput input = make_detection_input(image, {});
    const size_t plane = 64 * 64;
    EXPECT_NEAR(input.tensor[0], (1.0f - 0.485f) / 0.229f, 1e-5);
    EXPECT_NEAR(input.tensor[plane], (128.0f / 255.0f - 0.456f) / 0.224f, 1e-5);
    EXPECT_NEAR(input.tensor[2 * plane], (0.0f - 0.406f) / 0.225f, 1e-5);
}

TEST(TextDetectionTest, BoxesAreGrownMappedToTheImageAndSortedInReadingOrder) {
    // A 100 x 200 map of a 200 x 400 image: two confident regions on one line (right one
    // first in contour order), one below, and one that is only weakly text.
    cv::Mat map(100, 200, CV_32FC1, cv::Scalar(0.0f));
    map(cv::Rect(120, 10, 60, 10)).setTo(0.9f);  // right word
    map(cv::Rect(20, 12, 80, 10)).setTo(0.95f);  // left word, 2 pixels lower
    map(cv::Rect(20, 50, 100, 12)).setTo(0.8f);  // second line
    map(cv::Rect(20, 80, 100, 10)).setTo(0.5f);  // above 0.3 but its score is below 0.6
    const auto boxes = boxes_from_probability_map(map, cv::Size(400, 200), {});
    ASSERT_EQ(boxes.size(), 3u);
    EXPECT_LT(boxes[0].quad[0].x, boxes[1].quad[0].x);  // left word before the right one
    EXPECT_LT(boxes[1].quad[0].y, boxes[2].quad[0].y);
    EXPECT_NEAR(boxes[0].score, 0.95f, 1e-4);

    // The left word: 80 x 10 map pixels (contour rectangle 79 x 9), grown by
    // area * 1.5 / perimeter = 79 * 9 * 1.5 / 176 = 6.06 on each side, then scaled by 2.
    const Quad& left = boxes[0].quad;
    EXPECT_NEAR(left[0].x, 2 * (20 - 6.06), 1.01);
    EXPECT_NEAR(left[0].y, 2 * (12 - 6.06), 1.01);
    EXPECT_NEAR(left[2].x, 2 * (99 + 6.06), 1.01);
    EXPECT_NEAR(left[2].y, 2 * (21 + 6.06), 1.01);
    // Clockwise from the top left.
    EXPECT_LT(left[0].x, left[1].x);
    EXPECT_LT(left[1].y, left[2].y);
    EXPECT_GT(left[2].x, left[3].x);
}

TEST(TextDetectionTest, NothingAboveTheThresholdGivesNoBoxes) {
    cv::Mat map(64, 64, CV_32FC1, cv::Scalar(0.29f));
    EXPECT_TRUE(boxes_from_probability_map(map, cv::Size(64, 64), {}).empty());
}

TEST(TextDetectionTest, SortPutsBoxesOfOneLineLeftToRight) {
    auto box_at = [](float x, float y) {
        return TextBox{{cv::Point2f(x, y), {x + 10, y}, {x + 10, y + 5}, {x, y + 5}}, 1.0f};
    };
    std::vector<TextBox> boxes = {box_at(50, 30), box_at(90, 4), box_at(10, 9), box_at(5, 31)};
    sort_text_boxes(boxes);
    ASSERT_EQ(boxes.size(), 4u);
    EXPECT_EQ(boxes[0].quad[0], cv::Point2f(10, 9));  // tops within 10: left to right
    EXPECT_EQ(boxes[1].quad[0], cv::Point2f(90, 4));
    EXPECT_EQ(boxes[2].quad[0], cv::Point2f(5, 31));
    EXPECT_EQ(boxes[3].quad[0], cv::Point2f(50, 30));
}

TEST(TextDetectionTest, CropsAreUprightTallOnesTurnedAndHugeOnesCapped) {
    cv::Mat image(400, 400, CV_8UC3, cv::Scalar(255, 255, 255));
    const Quad wide = {cv::Point2f(10, 10), {110, 10}, {110, 40}, {10, 40}};
    EXPECT_EQ(crop_text_region(image, wide).size(), cv::Size(100, 30));
    const Quad tall = {cv::Point2f(10, 10), {40, 10}, {40, 110}, {10, 110}};
    EXPECT_EQ(crop_text_region(image, tall).size(), cv::Size(100, 30));  // turned 90 degrees
    const Quad big = {cv::Point2f(0, 0), {399, 0}, {399, 399}, {0, 399}};
    EXPECT_EQ(crop_text_region(image, big, 100).size(), cv::Size(100, 100));
}

TEST(TextDetectionTest, InkTouchingTheCropBorderIsFound) {
    cv::Mat dark_on_light(20, 100, CV_8UC3, cv::Scalar::all(255));
    dark_on_light(cv::Rect(10, 5, 80, 10)).setTo(cv::Scalar::all(0));
    EXPECT_FALSE(ink_touches_border(dark_on_light));
    dark_on_light(cv::Rect(10, 0, 5, 3)).setTo(cv::Scalar::all(0));  // a glyph cut at the top
    EXPECT_TRUE(ink_touches_border(dark_on_light));

    cv::Mat light_on_dark(20, 100, CV_8UC3, cv::Scalar::all(0));
    light_on_dark(cv::Rect(10, 5, 80, 10)).setTo(cv::Scalar::all(255));
    EXPECT_FALSE(ink_touches_border(light_on_dark));
    light_on_dark(cv::Rect(0, 5, 3, 10)).setTo(cv::Scalar::all(255));  // cut at the left
    EXPECT_TRUE(ink_touches_border(light_on_dark));
}

TEST(TextDetectionTest, QuadsGrowByAFractionOfTheirTextHeight) {
    const Quad wide = {cv::Point2f(10, 10), {110, 10}, {110, 30}, {10, 30}};
    const Quad grown = grow_quad(wide, 0.15f);  // 3 pixels: 15% of the 20-pixel height
    EXPECT_NEAR(grown[0].x, 7, 1e-4);
    EXPECT_NEAR(grown[0].y, 7, 1e-4);
    EXPECT_NEAR(grown[2].x, 113, 1e-4);
    EXPECT_NEAR(grown[2].y, 33, 1e-4);
    const Quad tall = {cv::Point2f(10, 10), {30, 10}, {30, 110}, {10, 110}};
    const Quad grown_tall = grow_quad(tall, 0.15f);  // vertical text: still 3 pixels
    EXPECT_NEAR(grown_tall[0].x, 7, 1e-4);
    EXPECT_NEAR(grown_tall[2].y, 113, 1e-4);
}

TEST(TextDetectionTest, ToBgrAcceptsGrayAndBgraAndRefusesEmptyAndFloat) {
    ASSERT_OK_AND_ASSIGN(auto from_gray, to_bgr(cv::Mat(4, 4, CV_8UC1, cv::Scalar(7))));
    EXPECT_EQ(from_gray.type(), CV_8UC3);
    ASSERT_OK_AND_ASSIGN(auto from_bgra, to_bgr(cv::Mat(4, 4, CV_8UC4, cv::Scalar(1, 2, 3, 4))));
    EXPECT_EQ(from_bgra.type(), CV_8UC3);
    EXPECT_STATUS(to_bgr(cv::Mat()), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(to_bgr(cv::Mat(4, 4, CV_32FC3)), StatusCode::INVALID_ARGUMENT);
}

// ---- the pipeline on PP-OCRv4 ----

TEST(OcrPipelineSetupTest, MissingModelsAreNamedWithTheFetchCommand) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create_shared());
    auto pipeline = OcrPipeline::create(vdevice, OcrModelPaths::in_cache("/nonexistent/.cache"));
    EXPECT_STATUS(pipeline, StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(pipeline.status().message(), "ch_PP-OCRv4_det_infer.onnx"));
    EXPECT_TRUE(contains(pipeline.status().message(), "ppocr_keys_v1.txt"));
    EXPECT_TRUE(contains(pipeline.status().message(), "scripts/fetch_models.sh"));
}

class OcrPipelineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const auto paths = OcrModelPaths::in_cache(CORUN_CACHE_DIR);
        for (const auto& path : {paths.detector, paths.recognizer, paths.classifier, paths.keys}) {
            if (!exists(path)) {
                skip_reason_ = "OCR model " + path + " is missing; run scripts/fetch_models.sh";
                return;
            }
        }
        auto vdevice = VDevice::create_shared();
        ASSERT_OK(vdevice);
        auto pipeline = OcrPipeline::create(vdevice.value(), paths);
        ASSERT_OK(pipeline);
        pipeline_ = pipeline.release().release();
    }
    static void TearDownTestSuite() {
        delete pipeline_;
        pipeline_ = nullptr;
    }
    void SetUp() override {
        if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
        ASSERT_NE(pipeline_, nullptr);
    }
    static OcrPipeline& ocr() { return *pipeline_; }

    static inline OcrPipeline* pipeline_ = nullptr;
    static inline std::string skip_reason_;
};

TEST_F(OcrPipelineTest, ModelsAndKeysAgree) {
    // 6625 classes = blank + the 6623 keys of ppocr_keys_v1.txt + space.
    EXPECT_EQ(ocr().decoder().class_count(), 6625u);
    EXPECT_TRUE(ocr().decoder().has_space_class());
}

TEST_F(OcrPipelineTest, ReadsARenderedLineExactly) {
    SKIP_WITHOUT_FONT();
    // Without the re-crop of clipped lines (OcrParams::clipped_line_padding) PP-OCRv4 reads
    // "HelloWorld2024" at 24 and 36 pixels.
    for (const int font_height : {24, 36, 64}) {
        SCOPED_TRACE("font height " + std::to_string(font_height));
        const cv::Mat image = render_lines({"Hello World 2024"}, font_height);
        ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(image));
        ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(texts_of(lines));
        EXPECT_EQ(lines[0].text, "Hello World 2024");
        EXPECT_GT(lines[0].confidence, 0.9f);
        EXPECT_FALSE(lines[0].rotated);
        // The box holds the ink of the text, and not much more.
        cv::Mat gray, ink_pixels;
        cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
        cv::findNonZero(gray < 128, ink_pixels);
        const cv::Rect ink = cv::boundingRect(ink_pixels);
        const cv::Rect box =
            cv::boundingRect(std::vector<cv::Point2f>(lines[0].box.begin(), lines[0].box.end()));
        EXPECT_EQ((box & ink).area(), ink.area()) << "box " << box << " ink " << ink;
        EXPECT_LT(box.area(), 2 * ink.area()) << "box " << box << " ink " << ink;
    }
}

TEST_F(OcrPipelineTest, ReadsTwoLinesInReadingOrder) {
    SKIP_WITHOUT_FONT();
    const cv::Mat image = render_lines({"Hello World 2024", "corun shares accelerators"});
    ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(image));
    EXPECT_EQ(texts_of(lines),
              (std::vector<std::string>{"Hello World 2024", "corun shares accelerators"}));
}

TEST_F(OcrPipelineTest, ReadsAnUpsideDownLineThroughTheAngleClassifier) {
    SKIP_WITHOUT_FONT();
    cv::Mat image = render_lines({"corun shares accelerators"});
    cv::rotate(image, image, cv::ROTATE_180);
    ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(image));
    ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(texts_of(lines));
    EXPECT_EQ(lines[0].text, "corun shares accelerators");
    EXPECT_TRUE(lines[0].rotated);
}

TEST_F(OcrPipelineTest, ReadsGrayAndBgraImages) {
    SKIP_WITHOUT_FONT();
    const cv::Mat image = render_lines({"Hello World 2024"});
    cv::Mat gray, bgra;
    cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(image, bgra, cv::COLOR_BGR2BGRA);
    for (const cv::Mat& variant : {gray, bgra}) {
        ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(variant));
        EXPECT_EQ(texts_of(lines), std::vector<std::string>{"Hello World 2024"});
    }
}

TEST_F(OcrPipelineTest, RepeatedShapesAreConfiguredOnce) {
    SKIP_WITHOUT_FONT();
    const cv::Mat image = render_lines({"Hello World 2024", "corun shares accelerators"});
    ASSERT_OK(ocr().read(image));
    const size_t configured = ocr().configured_shape_count();
    for (int i = 0; i < 3; ++i) ASSERT_OK(ocr().read(image));
    EXPECT_EQ(ocr().configured_shape_count(), configured);
}

TEST_F(OcrPipelineTest, ConcurrentReadsGiveTheSameText) {
    SKIP_WITHOUT_FONT();
    const cv::Mat first = render_lines({"Hello World 2024"});
    const cv::Mat second = render_lines({"corun shares accelerators"});
    std::vector<std::string> read_first(4), read_second(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            auto lines = ocr().read(i % 2 == 0 ? first : second);
            auto& out = i % 2 == 0 ? read_first : read_second;
            out[i] = lines && lines->size() == 1 ? lines->front().text : lines.status().to_string();
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(read_first[0], "Hello World 2024");
    EXPECT_EQ(read_first[2], "Hello World 2024");
    EXPECT_EQ(read_second[1], "corun shares accelerators");
    EXPECT_EQ(read_second[3], "corun shares accelerators");
}

TEST_F(OcrPipelineTest, EmptyImageIsAnError) {
    auto lines = ocr().read(cv::Mat());
    EXPECT_STATUS(lines, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(lines.status().message(), "empty")) << lines.status();
}

TEST_F(OcrPipelineTest, OnePixelImageHasNoText) {
    ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(cv::Mat(1, 1, CV_8UC3, cv::Scalar(0, 0, 0))));
    EXPECT_TRUE(lines.empty());
}

TEST_F(OcrPipelineTest, ImagesWithoutTextHaveNoLines) {
    const cv::Mat white(480, 640, CV_8UC3, cv::Scalar::all(255));
    ASSERT_OK_AND_ASSIGN(auto none, ocr().read(white));
    EXPECT_TRUE(none.empty());
    cv::Mat gradient(480, 640, CV_8UC3);
    for (int y = 0; y < gradient.rows; ++y) {
        gradient.row(y).setTo(cv::Scalar::all(y * 255 / gradient.rows));
    }
    ASSERT_OK_AND_ASSIGN(auto still_none, ocr().read(gradient));
    EXPECT_TRUE(still_none.empty()) << ::testing::PrintToString(texts_of(still_none));
}

TEST_F(OcrPipelineTest, LargeImageIsScaledDownAndStillRead) {
    SKIP_WITHOUT_FONT();
    // 6000 x 3000 pixels with 320-pixel text: the detector sees it at 960 x 480, and the crop
    // is capped before recognition.
    const cv::Mat small = render_lines({"Hello World 2024"});
    cv::Mat large;
    cv::resize(small, large, cv::Size(), 5.0, 5.0, cv::INTER_CUBIC);
    cv::Mat canvas(3000, 6000, CV_8UC3, cv::Scalar::all(255));
    large.copyTo(canvas(cv::Rect(100, 100, large.cols, large.rows)));
    ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(canvas));
    EXPECT_EQ(texts_of(lines), std::vector<std::string>{"Hello World 2024"});
}

std::string without_spaces(std::string text) {
    text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
    return text;
}

// opencv-doc's scanned book page (imageTextN.png, 556 x 257, 13 lines of 14-pixel text) and
// its rotated copy (imageTextR.png, the same page turned about 10 degrees).
const std::vector<std::string> kBookPage = {
    "technical details are too complex to cover in the book itself.",
    "In teaching our courses, we have found it useful for the students to attempt a number of",
    "small implementation projects, which often build on one another, in order to get them used to",
    "working with real-world images and the challenges that these present. The students are then",
    "asked to choose an individual topic for each of their small-group, final projects. (Sometimes",
    "these projects even turn into conference papers!) The exercises at the end of each chapter",
    "contain numerous suggestions for smaller mid-term projects, as well as more open-ended",
    "problems whose solutions are still active research topics. Wherever possible, I encourage",
    "students to try their algorithms on their own personal photographs, since this better "
    "motivates",
    "them, often leads to creative variants on the problems, and better acquaints them with the",
    "variety and complexity of real-world imagery.",
    "In formulating and solving computer vision problems, I have often found it useful to draw",
    "inspiration from three high-level approaches:",
};

cv::Mat opencv_doc_image(const std::string& name) {
    const std::string path = std::string(CORUN_CACHE_DIR) + "/data/opencv-doc/" + name;
    if (!exists(path)) return cv::Mat();
    auto image = read_image(path);
    EXPECT_TRUE(image.has_value()) << image.status();
    return image ? image.value() : cv::Mat();
}

TEST_F(OcrPipelineTest, ReadsOpencvDocBookPage) {
    const cv::Mat page = opencv_doc_image("imageTextN.png");
    if (page.empty())
        GTEST_SKIP() << "opencv-doc's imageTextN.png is missing; run scripts/fetch_models.sh";
    ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(page));
    ASSERT_EQ(lines.size(), kBookPage.size()) << ::testing::PrintToString(texts_of(lines));
    for (size_t i = 0; i < lines.size(); ++i) {
        // Line 5 reads "topie" for "topic"; every other line is exact.
        if (i == 4) {
            EXPECT_TRUE(contains(lines[i].text, "asked to choose an individual top"))
                << lines[i].text;
            continue;
        }
        EXPECT_EQ(lines[i].text, kBookPage[i]) << "line " << i;
    }
}

TEST_F(OcrPipelineTest, ReadsOpencvDocRotatedBookPage) {
    const cv::Mat page = opencv_doc_image("imageTextR.png");
    if (page.empty())
        GTEST_SKIP() << "opencv-doc's imageTextR.png is missing; run scripts/fetch_models.sh";
    ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(page));
    ASSERT_EQ(lines.size(), kBookPage.size()) << ::testing::PrintToString(texts_of(lines));
    // Tilted, the small text loses some spaces after punctuation ("present.The"); the
    // characters are all right.
    for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_EQ(without_spaces(lines[i].text), without_spaces(kBookPage[i])) << "line " << i;
    }
}

TEST_F(OcrPipelineTest, BlurredOpencvDocPhotosReadNothing) {
    // text_defocus.jpg and text_motion.jpg are deblurring examples: no human could read them.
    for (const char* name : {"text_defocus.jpg", "text_motion.jpg"}) {
        const cv::Mat photo = opencv_doc_image(name);
        if (photo.empty()) GTEST_SKIP() << name << " is missing; run scripts/fetch_models.sh";
        ASSERT_OK_AND_ASSIGN(auto lines, ocr().read(photo));
        EXPECT_TRUE(lines.empty()) << name << ": " << ::testing::PrintToString(texts_of(lines));
    }
}

TEST_F(OcrPipelineTest, BatchedRecognitionReadsTheSame) {
    SKIP_WITHOUT_FONT();
    // PaddleOCR's batching (6 lines per recogniser run, padded to the widest).
    OcrParams params;
    params.recognizer_batch_size = 6;
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create_shared());
    ASSERT_OK_AND_ASSIGN(
        auto batched,
        OcrPipeline::create(vdevice, OcrModelPaths::in_cache(CORUN_CACHE_DIR), params));
    const cv::Mat image = render_lines({"Hello World 2024", "corun shares accelerators"});
    ASSERT_OK_AND_ASSIGN(auto lines, batched->read(image));
    EXPECT_EQ(texts_of(lines),
              (std::vector<std::string>{"Hello World 2024", "corun shares accelerators"}));
}

}  // namespace
}  // namespace corun::tasks
