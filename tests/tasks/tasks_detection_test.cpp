// COCO object detection (issue 3): NanoDet head decoding and label files on synthetic data,
// then the converted NanoDet model on darknet's test images against boxes read off the images
// by hand. The model tests skip, saying why, when scripts/fetch_models.sh has not fetched the
// model and images.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "tasks/image.hpp"
#include "tasks/object_detection.hpp"
#include "test_support.hpp"

namespace corun::tasks {
namespace {

using corun::test::contains;

bool exists(const std::string& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error);
}

std::string darknet_image(const std::string& name) {
    return std::string(CORUN_CACHE_DIR) + "/data/darknet/" + name;
}

// ---- head decoding ----

// A logit row for `bins` bins that puts (numerically) all the probability on bin `k`.
std::vector<float> peaked(size_t bins, size_t k) {
    std::vector<float> logits(bins, 0.0f);
    logits[k] = 60.0f;
    return logits;
}

TEST(DecodeNanodetHeadTest, BoxIsTheExpectedDistanceAroundTheCellCentreClippedToTheInput) {
    // 2 x 2 grid, stride 8 (input 16), 3 classes, 3 bins. Only cell 3 (x = 1, y = 1, centre
    // (12, 12)) passes the threshold, with class 2.
    const size_t classes = 3, bins = 3;
    std::vector<float> scores(4 * classes, 0.1f);
    scores[3 * classes + 2] = 0.9f;
    std::vector<float> distances(4 * 4 * bins, 0.0f);
    const std::vector<size_t> side_bins{1, 2, 0, 1};  // left, top, right, bottom
    for (size_t side = 0; side < 4; ++side) {
        const auto row = peaked(bins, side_bins[side]);
        std::copy(row.begin(), row.end(), distances.begin() + (3 * 4 + side) * bins);
    }
    std::vector<Detection> candidates;
    decode_nanodet_head({scores, distances, 8, 2}, classes, bins, 0.35f, candidates);
    ASSERT_EQ(candidates.size(), 1u);
    EXPECT_EQ(candidates[0].label_id, 2);
    EXPECT_FLOAT_EQ(candidates[0].score, 0.9f);
    EXPECT_TRUE(candidates[0].label.empty());
    EXPECT_NEAR(candidates[0].box.x1, 12.0f - 8.0f, 1e-4);
    EXPECT_NEAR(candidates[0].box.y1, 0.0f, 1e-4);  // 12 - 16, clipped
    EXPECT_NEAR(candidates[0].box.x2, 12.0f, 1e-4);
    EXPECT_NEAR(candidates[0].box.y2, 16.0f, 1e-4);  // 12 + 8 = 20, clipped to the input
}

TEST(DecodeNanodetHeadTest, UniformLogitsGiveTheMeanBinAndEveryClassAboveTheThresholdCounts) {
    // One cell (grid 1, stride 32), 11 bins of equal logits: distance = 5 bins = 160 px on
    // each side of the centre (16, 16), clipped to [0, 32]. Classes 0 and 3 pass 0.35.
    const size_t classes = 4, bins = 11;
    const std::vector<float> scores{0.5f, 0.2f, 0.34f, 0.35f};
    const std::vector<float> distances(4 * bins, 1.5f);
    std::vector<Detection> candidates;
    decode_nanodet_head({scores, distances, 32, 1}, classes, bins, 0.35f, candidates);
    ASSERT_EQ(candidates.size(), 2u);
    EXPECT_EQ(candidates[0].label_id, 0);
    EXPECT_EQ(candidates[1].label_id, 3);
    for (const auto& candidate : candidates) {
        EXPECT_FLOAT_EQ(candidate.box.x1, 0.0f);
        EXPECT_FLOAT_EQ(candidate.box.x2, 32.0f);
    }

    // Unclipped: a 1-cell head of stride 32 with bins 0 and 1 equally likely on each side
    // gives distance 0.5 bins = 16 px: the box is exactly the cell.
    std::vector<float> half(4 * 2, 0.0f);
    candidates.clear();
    decode_nanodet_head({scores, half, 32, 1}, classes, 2, 0.45f, candidates);
    ASSERT_EQ(candidates.size(), 1u);
    EXPECT_NEAR(candidates[0].box.x1, 0.0f, 1e-4);
    EXPECT_NEAR(candidates[0].box.y1, 0.0f, 1e-4);
    EXPECT_NEAR(candidates[0].box.x2, 32.0f, 1e-4);
    EXPECT_NEAR(candidates[0].box.y2, 32.0f, 1e-4);
}

TEST(DecodeNanodetHeadTest, NothingAboveTheThresholdGivesNoCandidates) {
    const std::vector<float> scores(4 * 80, 0.34f);
    const std::vector<float> distances(4 * 44, 0.0f);
    std::vector<Detection> candidates;
    decode_nanodet_head({scores, distances, 16, 2}, 80, 11, 0.35f, candidates);
    EXPECT_TRUE(candidates.empty());
}

// ---- label files ----

TEST(ReadLabelsTest, DropsCarriageReturnsAndTrailingBlankLines) {
    const std::string path = ::testing::TempDir() + "/labels_crlf.txt";
    std::ofstream(path) << "person\r\nbicycle\r\n\r\ntraffic light\r\n\n\n";
    ASSERT_OK_AND_ASSIGN(auto labels, read_labels(path));
    EXPECT_EQ(labels, (std::vector<std::string>{"person", "bicycle", "", "traffic light"}));
}

TEST(ReadLabelsTest, MissingAndEmptyFilesFailNamingThePath) {
    auto missing = read_labels("/nonexistent/coco.names");
    EXPECT_STATUS(missing, StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(missing.status().message(), "/nonexistent/coco.names"));
    const std::string empty = ::testing::TempDir() + "/labels_empty.txt";
    std::ofstream(empty) << "\n\n";
    auto none = read_labels(empty);
    EXPECT_STATUS(none, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(none.status().message(), empty));
}

// ---- NanoDet on darknet's images ----

// Boxes read off the images by hand (x1, y1, x2, y2 in image pixels), on a 10-pixel grid
// drawn over 2-3x enlargements; each edge is the outermost pixel of the object.
struct ReferenceObject {
    std::set<std::string> labels;  // what the detector may call it
    Box box;
};

// dog.jpg, 768 x 576. The vehicle at the top right is a pickup with a camper shell: NanoDet
// calls it "truck" and "car" at once (0.37 and 0.36), and both are right.
const ReferenceObject kDogBicycle{{"bicycle"}, {126, 140, 566, 418}};  // wheels, bar, saddle
const ReferenceObject kDogDog{{"dog"}, {132, 220, 309, 540}};          // ears to tail
const ReferenceObject kDogTruck{{"truck", "car"}, {466, 75, 688, 170}};
// person.jpg, 640 x 424.
const ReferenceObject kPersonPerson{{"person"}, {191, 99, 274, 373}};  // hat to boots
const ReferenceObject kPersonHorse{{"horse", "cow"}, {406, 140, 601, 345}};
const ReferenceObject kPersonDog{{"dog"}, {65, 265, 201, 343}};

std::string describe(const std::vector<Detection>& detections) {
    std::string text;
    for (const auto& d : detections) {
        text += "  " + d.label + " " + std::to_string(d.score) + " [" +
                std::to_string(static_cast<int>(d.box.x1)) + "," +
                std::to_string(static_cast<int>(d.box.y1)) + "," +
                std::to_string(static_cast<int>(d.box.x2)) + "," +
                std::to_string(static_cast<int>(d.box.y2)) + "]\n";
    }
    return text;
}

// The best IoU between `object` and a detection labelled `label`; 0 when there is none.
float best_iou(const std::vector<Detection>& detections, const std::string& label, const Box& box) {
    float best = 0.0f;
    for (const auto& d : detections) {
        if (d.label == label) best = std::max(best, iou(d.box, box));
    }
    return best;
}

// True when the detection is one of the reference objects: an allowed label, IoU >= 0.5.
bool explained_by(const Detection& detection, const std::vector<ReferenceObject>& objects) {
    for (const auto& object : objects) {
        if (object.labels.count(detection.label) && iou(detection.box, object.box) >= 0.5f) {
            return true;
        }
    }
    return false;
}

class ObjectDetectorTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const auto paths = ObjectDetectorPaths::in_cache(CORUN_CACHE_DIR);
        for (const auto& path :
             {paths.model, paths.labels, darknet_image("dog.jpg"), darknet_image("person.jpg")}) {
            if (!exists(path)) {
                skip_reason_ = path + " is missing; run scripts/fetch_models.sh";
                return;
            }
        }
        auto vdevice = VDevice::create_shared();
        ASSERT_TRUE(vdevice.has_value()) << vdevice.status();
        vdevice_ = vdevice.release();
        auto detector = ObjectDetector::create(vdevice_, paths.model, paths.labels);
        ASSERT_TRUE(detector.has_value()) << detector.status();
        detector_ = detector.release();
    }
    static void TearDownTestSuite() {
        detector_.reset();
        vdevice_.reset();
    }
    void SetUp() override {
        if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
        ASSERT_NE(detector_, nullptr);
    }

    static cv::Mat image(const std::string& name) {
        auto decoded = read_image(darknet_image(name));
        EXPECT_TRUE(decoded.has_value()) << decoded.status();
        return decoded.has_value() ? decoded.release() : cv::Mat();
    }

    static inline std::string skip_reason_;
    static inline std::shared_ptr<VDevice> vdevice_;
    static inline std::unique_ptr<ObjectDetector> detector_;
};

TEST_F(ObjectDetectorTest, ModelAndLabels) {
    EXPECT_EQ(detector_->input_size(), 416);
    EXPECT_EQ(detector_->class_count(), 80u);
    EXPECT_EQ(detector_->labels()[16], "dog");
    EXPECT_FLOAT_EQ(detector_->options().score_threshold, 0.35f);
    EXPECT_FLOAT_EQ(detector_->options().iou_threshold, 0.6f);
}

TEST_F(ObjectDetectorTest, DogJpgHasADogABicycleAndTheTruckAndNothingElse) {
    const cv::Mat dog = image("dog.jpg");
    ASSERT_EQ(dog.cols, 768);
    ASSERT_EQ(dog.rows, 576);
    ASSERT_OK_AND_ASSIGN(auto detections, detector_->detect(dog));
    SCOPED_TRACE("detections:\n" + describe(detections));
    EXPECT_GE(best_iou(detections, "dog", kDogDog.box), 0.5f);
    EXPECT_GE(best_iou(detections, "bicycle", kDogBicycle.box), 0.5f);
    EXPECT_GE(std::max(best_iou(detections, "truck", kDogTruck.box),
                       best_iou(detections, "car", kDogTruck.box)),
              0.5f);
    for (const auto& detection : detections) {
        EXPECT_TRUE(explained_by(detection, {kDogBicycle, kDogDog, kDogTruck}))
            << "unexpected " << detection.label;
        EXPECT_GE(detection.score, 0.35f);
        EXPECT_EQ(detection.label, detector_->labels()[static_cast<size_t>(detection.label_id)]);
    }
    // Best first; the bicycle is the clearest object.
    for (size_t i = 1; i < detections.size(); ++i) {
        EXPECT_GE(detections[i - 1].score, detections[i].score);
    }
    ASSERT_FALSE(detections.empty());
    EXPECT_EQ(detections.front().label, "bicycle");
}

TEST_F(ObjectDetectorTest, PersonJpgHasAPersonAHorseAndADog) {
    const cv::Mat person = image("person.jpg");
    ASSERT_EQ(person.cols, 640);
    ASSERT_EQ(person.rows, 424);
    ASSERT_OK_AND_ASSIGN(auto detections, detector_->detect(person));
    SCOPED_TRACE("detections:\n" + describe(detections));
    EXPECT_GE(best_iou(detections, "person", kPersonPerson.box), 0.5f);
    EXPECT_GE(best_iou(detections, "horse", kPersonHorse.box), 0.5f);
    EXPECT_GE(best_iou(detections, "dog", kPersonDog.box), 0.5f);
    // The grazing white horse also scores as "cow"; class-aware NMS keeps both labels.
    for (const auto& detection : detections) {
        EXPECT_TRUE(explained_by(detection, {kPersonPerson, kPersonHorse, kPersonDog}))
            << "unexpected " << detection.label;
    }
}

TEST_F(ObjectDetectorTest, ClassAwareNmsLeavesOneBoxPerObjectAndLabel) {
    ASSERT_OK_AND_ASSIGN(auto detections, detector_->detect(image("dog.jpg")));
    for (size_t i = 0; i < detections.size(); ++i) {
        for (size_t j = i + 1; j < detections.size(); ++j) {
            if (detections[i].label_id != detections[j].label_id) continue;
            EXPECT_LE(iou(detections[i].box, detections[j].box), 0.6f)
                << detections[i].label << " twice";
        }
    }
}

TEST_F(ObjectDetectorTest, ThresholdAndMaxDetectionsOptions) {
    const auto paths = ObjectDetectorPaths::in_cache(CORUN_CACHE_DIR);
    ObjectDetectorOptions options;
    options.score_threshold = 0.6f;
    ASSERT_OK_AND_ASSIGN(auto strict,
                         ObjectDetector::create(vdevice_, paths.model, paths.labels, options));
    ASSERT_OK_AND_ASSIGN(auto detections, strict->detect(image("dog.jpg")));
    ASSERT_EQ(detections.size(), 1u) << describe(detections);
    EXPECT_EQ(detections[0].label, "bicycle");

    options.score_threshold = 0.2f;
    options.max_detections = 2;
    ASSERT_OK_AND_ASSIGN(auto capped,
                         ObjectDetector::create(vdevice_, paths.model, paths.labels, options));
    ASSERT_OK_AND_ASSIGN(detections, capped->detect(image("dog.jpg")));
    ASSERT_EQ(detections.size(), 2u) << describe(detections);
    EXPECT_EQ(detections[0].label, "bicycle");
}

TEST_F(ObjectDetectorTest, LetterboxModeFindsTheSameDogAndBicycle) {
    const auto paths = ObjectDetectorPaths::in_cache(CORUN_CACHE_DIR);
    ObjectDetectorOptions options;
    options.resize = ResizeMode::LETTERBOX;
    ASSERT_OK_AND_ASSIGN(auto letterboxed,
                         ObjectDetector::create(vdevice_, paths.model, paths.labels, options));
    ASSERT_OK_AND_ASSIGN(auto detections, letterboxed->detect(image("dog.jpg")));
    SCOPED_TRACE("detections:\n" + describe(detections));
    EXPECT_GE(best_iou(detections, "dog", kDogDog.box), 0.5f);
    EXPECT_GE(best_iou(detections, "bicycle", kDogBicycle.box), 0.5f);
}

TEST_F(ObjectDetectorTest, GrayAndBgraImagesWork) {
    const cv::Mat dog = image("dog.jpg");
    cv::Mat gray, bgra;
    cv::cvtColor(dog, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(dog, bgra, cv::COLOR_BGR2BGRA);
    ASSERT_OK_AND_ASSIGN(auto from_gray, detector_->detect(gray));
    EXPECT_GE(best_iou(from_gray, "bicycle", kDogBicycle.box), 0.5f) << describe(from_gray);
    ASSERT_OK_AND_ASSIGN(auto from_bgra, detector_->detect(bgra));
    ASSERT_OK_AND_ASSIGN(auto from_bgr, detector_->detect(dog));
    ASSERT_EQ(from_bgra.size(), from_bgr.size());
    for (size_t i = 0; i < from_bgr.size(); ++i) {
        EXPECT_EQ(from_bgra[i].label, from_bgr[i].label);
        EXPECT_FLOAT_EQ(from_bgra[i].score, from_bgr[i].score);
    }
}

TEST_F(ObjectDetectorTest, BadImagesGiveClearErrorsOrSaneResults) {
    auto empty = detector_->detect(cv::Mat());
    EXPECT_STATUS(empty, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(empty.status().message(), "empty"));

    auto float_image = detector_->detect(cv::Mat(32, 32, CV_32FC3, cv::Scalar::all(0.5)));
    EXPECT_STATUS(float_image, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(float_image.status().message(), "8-bit"));

    // A 1x1 image and a flat gray one: nothing to find, and any box stays inside the image.
    for (const cv::Mat& blank : {cv::Mat(1, 1, CV_8UC3, cv::Scalar(40, 90, 200)),
                                 cv::Mat(300, 500, CV_8UC3, cv::Scalar::all(128))}) {
        ASSERT_OK_AND_ASSIGN(auto detections, detector_->detect(blank));
        EXPECT_TRUE(detections.empty()) << describe(detections);
        for (const auto& d : detections) {
            EXPECT_GE(d.box.x1, 0.0f);
            EXPECT_LE(d.box.x2, static_cast<float>(blank.cols));
        }
    }
}

TEST_F(ObjectDetectorTest, ConcurrentCallsGiveTheSameResults) {
    const cv::Mat dog = image("dog.jpg");
    const cv::Mat person = image("person.jpg");
    ASSERT_OK_AND_ASSIGN(const auto dog_once, detector_->detect(dog));
    ASSERT_OK_AND_ASSIGN(const auto person_once, detector_->detect(person));
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (size_t t = 0; t < mismatches.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round) {
                const bool use_dog = (t + static_cast<size_t>(round)) % 2 == 0;
                auto result = detector_->detect(use_dog ? dog : person);
                const auto& expected = use_dog ? dog_once : person_once;
                if (!result.has_value() || result->size() != expected.size()) {
                    ++mismatches[t];
                    continue;
                }
                for (size_t i = 0; i < expected.size(); ++i) {
                    if ((*result)[i].label != expected[i].label ||
                        (*result)[i].score != expected[i].score) {
                        ++mismatches[t];
                    }
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (int count : mismatches) EXPECT_EQ(count, 0);
}

TEST_F(ObjectDetectorTest, CreateRejectsLabelsThatDoNotFitAndOtherModels) {
    const auto paths = ObjectDetectorPaths::in_cache(CORUN_CACHE_DIR);
    const std::string three = ::testing::TempDir() + "/three_labels.txt";
    std::ofstream(three) << "a\nb\nc\n";
    auto wrong_labels = ObjectDetector::create(vdevice_, paths.model, three);
    EXPECT_STATUS(wrong_labels, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(wrong_labels.status().message(), "[1,2704,80]")) << wrong_labels.status();
    EXPECT_TRUE(contains(wrong_labels.status().message(), three)) << wrong_labels.status();

    auto not_nanodet =
        ObjectDetector::create(vdevice_, corun::test::test_model("add_one.onnx"), paths.labels);
    EXPECT_STATUS(not_nanodet, StatusCode::INVALID_MODEL);

    auto missing_model =
        ObjectDetector::create(vdevice_, "/nonexistent/nanodet.onnx", paths.labels);
    EXPECT_FALSE(missing_model.has_value());
    EXPECT_TRUE(contains(missing_model.status().message(), "/nonexistent/nanodet.onnx"))
        << missing_model.status();

    auto no_device = ObjectDetector::create(nullptr, paths.model, paths.labels);
    EXPECT_STATUS(no_device, StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace corun::tasks
