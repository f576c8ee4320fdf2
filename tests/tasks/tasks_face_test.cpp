// Faces (issue 3): BlazeFace anchors and decoding on synthetic outputs, then the real models
// through the corun API: exactly one face in opencv-doc's messi5.jpg, at the box read off the
// image by hand, none in darknet's eagle.jpg, four in facereg.jpg; face embeddings (faceres)
// that put two crops of one face closer than crops of different faces. The model tests skip,
// saying why, when scripts/fetch_models.sh has not fetched the models and images.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "tasks/face_detection.hpp"
#include "tasks/face_embedding.hpp"
#include "tasks/image.hpp"
#include "test_support.hpp"

namespace corun::tasks {
namespace {

using corun::test::contains;

const std::string CACHE = CORUN_CACHE_DIR;
const std::string FRONT_MODEL =
    CACHE + "/models/blazeface-128/face_detection_front_128x128_barracuda.onnx";
const std::string BACK_MODEL = FaceDetector::default_model(CACHE);
const std::string FACERES_MODEL = FaceEmbedder::default_model(CACHE);
const std::string MESSI = CACHE + "/data/opencv-doc/messi5.jpg";
const std::string FACEREG = CACHE + "/data/opencv-doc/facereg.jpg";
const std::string MONA_LISA = CACHE + "/data/opencv-doc/julia_facedetect_sample.jpg";
const std::string EAGLE = CACHE + "/data/darknet/eagle.jpg";

// Messi's face in messi5.jpg (548 x 342), read off a 5x zoom of the image: hairline to chin,
// cheek to cheek.
constexpr Box MESSI_FACE{221, 92, 258, 134};

bool exists(const std::string& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error);
}

#define SKIP_UNLESS_FETCHED(...)                                                       \
    for (const std::string& corun_path_ : {__VA_ARGS__}) {                             \
        if (!exists(corun_path_)) {                                                    \
            GTEST_SKIP() << corun_path_ << " is missing; run scripts/fetch_models.sh"; \
        }                                                                              \
    }

std::shared_ptr<VDevice> shared_device() {
    auto vdevice = VDevice::create_shared();
    EXPECT_TRUE(vdevice.has_value()) << vdevice.status();
    return vdevice.has_value() ? vdevice.release() : nullptr;
}

// ---- anchors and decoding ----

TEST(FaceAnchorsTest, FrontModelSchemeGives896Anchors) {
    const auto anchors = generate_ssd_anchors(128, {8, 16, 16, 16});
    ASSERT_EQ(anchors.size(), 896u);  // 16 x 16 x 2 + 8 x 8 x 6
    // First grid: 16 x 16 cells, 2 anchors per cell, centres at (cell + 0.5) / 16.
    EXPECT_FLOAT_EQ(anchors[0].x, 0.5f / 16);
    EXPECT_FLOAT_EQ(anchors[0].y, 0.5f / 16);
    EXPECT_FLOAT_EQ(anchors[1].x, 0.5f / 16);
    EXPECT_FLOAT_EQ(anchors[2].x, 1.5f / 16);
    EXPECT_FLOAT_EQ(anchors[511].x, 15.5f / 16);
    EXPECT_FLOAT_EQ(anchors[511].y, 15.5f / 16);
    // Second grid: 8 x 8 cells, 6 anchors per cell.
    EXPECT_FLOAT_EQ(anchors[512].x, 0.5f / 8);
    EXPECT_FLOAT_EQ(anchors[517].x, 0.5f / 8);
    EXPECT_FLOAT_EQ(anchors[518].x, 1.5f / 8);
    EXPECT_FLOAT_EQ(anchors[895].y, 7.5f / 8);
    // The back model's scheme is the same grid at twice the stride.
    EXPECT_EQ(generate_ssd_anchors(256, {16, 32, 32, 32}).size(), 896u);
}

TEST(FaceDecodeTest, DecodesAnchorOffsetsSigmoidAndWeightedNms) {
    const auto anchors = generate_ssd_anchors(128, {8, 16, 16, 16});
    std::vector<float> logits(anchors.size(), -10.0f);
    std::vector<float> regressors(anchors.size() * 16, 0.0f);
    // Two anchors of cell (3, 2) of the first grid see one face, 20 x 30 pixels, centred
    // 1 pixel right of the cell centre (3.5 * 8 = 28, 2.5 * 8 = 20).
    for (size_t anchor : {size_t{(2 * 16 + 3) * 2}, size_t{(2 * 16 + 3) * 2 + 1}}) {
        float* raw = &regressors[anchor * 16];
        raw[0] = 1.0f;
        raw[2] = 20.0f;
        raw[3] = 30.0f;
        raw[4] = -5.0f;  // right eye 5 pixels left of the anchor
    }
    logits[(2 * 16 + 3) * 2] = 3.0f;      // score 0.953
    logits[(2 * 16 + 3) * 2 + 1] = 1.0f;  // score 0.731, below the default threshold
    FaceDetectorOptions options;
    auto faces = decode_blazeface(logits, regressors, anchors, 128, options);
    ASSERT_EQ(faces.size(), 1u);
    EXPECT_NEAR(faces[0].score, 1.0f / (1.0f + std::exp(-3.0f)), 1e-6);
    EXPECT_NEAR(faces[0].box.x1, 29.0f - 10.0f, 1e-4);
    EXPECT_NEAR(faces[0].box.y1, 20.0f - 15.0f, 1e-4);
    EXPECT_NEAR(faces[0].box.x2, 29.0f + 10.0f, 1e-4);
    EXPECT_NEAR(faces[0].box.y2, 20.0f + 15.0f, 1e-4);
    EXPECT_NEAR(faces[0].keypoints[0].x, 23.0f, 1e-4);
    EXPECT_NEAR(faces[0].keypoints[0].y, 20.0f, 1e-4);

    // With a lower threshold both pass and merge into one face (same box, weighted mean).
    options.score_threshold = 0.5f;
    regressors[((2 * 16 + 3) * 2 + 1) * 16] = 3.0f;  // the second one 2 pixels further right
    faces = decode_blazeface(logits, regressors, anchors, 128, options);
    ASSERT_EQ(faces.size(), 1u);
    const float w1 = 1.0f / (1.0f + std::exp(-3.0f));
    const float w2 = 1.0f / (1.0f + std::exp(-1.0f));
    EXPECT_NEAR(faces[0].box.x1, (w1 * 19.0f + w2 * 21.0f) / (w1 + w2), 1e-4);
    EXPECT_NEAR(faces[0].score, w1, 1e-6);
    options.weighted_nms = false;
    faces = decode_blazeface(logits, regressors, anchors, 128, options);
    ASSERT_EQ(faces.size(), 1u);
    EXPECT_NEAR(faces[0].box.x1, 19.0f, 1e-4);

    // Nothing above the threshold: no faces.
    std::vector<float> quiet(anchors.size(), -10.0f);
    EXPECT_TRUE(decode_blazeface(quiet, regressors, anchors, 128, {}).empty());
}

// ---- the real detector ----

TEST(FaceDetectorTest, FindsExactlyMessisFace) {
    SKIP_UNLESS_FETCHED(BACK_MODEL, MESSI);
    ASSERT_OK_AND_ASSIGN(auto detector, FaceDetector::create(shared_device(), BACK_MODEL));
    EXPECT_EQ(detector->input_size(), 256);
    EXPECT_EQ(detector->anchor_count(), 896u);
    ASSERT_OK_AND_ASSIGN(const cv::Mat image, read_image(MESSI));
    ASSERT_OK_AND_ASSIGN(const auto faces, detector->detect(image));
    ASSERT_EQ(faces.size(), 1u);  // the blurred crowd behind him is not taken for faces
    EXPECT_GE(iou(faces[0].box, MESSI_FACE), 0.5f)
        << "box " << faces[0].box.x1 << "," << faces[0].box.y1 << "," << faces[0].box.x2 << ","
        << faces[0].box.y2;
    EXPECT_GE(faces[0].score, 0.75f);
    // The eyes lie inside the box, the image-left one first.
    for (size_t eye : {0u, 1u}) {
        EXPECT_GT(faces[0].keypoints[eye].x, MESSI_FACE.x1);
        EXPECT_LT(faces[0].keypoints[eye].x, MESSI_FACE.x2);
        EXPECT_GT(faces[0].keypoints[eye].y, MESSI_FACE.y1);
        EXPECT_LT(faces[0].keypoints[eye].y, MESSI_FACE.y2);
    }
    EXPECT_LT(faces[0].keypoints[0].x, faces[0].keypoints[1].x);
}

TEST(FaceDetectorTest, FindsNoFaceInAnEagle) {
    SKIP_UNLESS_FETCHED(FRONT_MODEL, BACK_MODEL, EAGLE);
    ASSERT_OK_AND_ASSIGN(const cv::Mat image, read_image(EAGLE));
    for (const auto& model : {FRONT_MODEL, BACK_MODEL}) {
        ASSERT_OK_AND_ASSIGN(auto detector, FaceDetector::create(shared_device(), model));
        ASSERT_OK_AND_ASSIGN(const auto faces, detector->detect(image));
        EXPECT_TRUE(faces.empty()) << model << " found " << faces.size() << " face(s), the first "
                                   << "with score " << faces[0].score;
    }
}

TEST(FaceDetectorTest, FindsFourFacesInAGridAndAPortraitWithTheFrontModel) {
    SKIP_UNLESS_FETCHED(FRONT_MODEL, FACEREG, MONA_LISA);
    ASSERT_OK_AND_ASSIGN(auto detector, FaceDetector::create(shared_device(), FRONT_MODEL));
    EXPECT_EQ(detector->input_size(), 128);
    ASSERT_OK_AND_ASSIGN(const cv::Mat grid, read_image(FACEREG));
    ASSERT_OK_AND_ASSIGN(const auto faces, detector->detect(grid));
    ASSERT_EQ(faces.size(), 4u);
    // One face per 100 x 100 quadrant.
    std::vector<int> per_quadrant(4, 0);
    for (const auto& face : faces) {
        const float cx = (face.box.x1 + face.box.x2) / 2;
        const float cy = (face.box.y1 + face.box.y2) / 2;
        ++per_quadrant[(cy >= 100 ? 2 : 0) + (cx >= 100 ? 1 : 0)];
    }
    EXPECT_EQ(per_quadrant, (std::vector<int>{1, 1, 1, 1}));

    ASSERT_OK_AND_ASSIGN(const cv::Mat portrait, read_image(MONA_LISA));
    ASSERT_OK_AND_ASSIGN(const auto mona, detector->detect(portrait));
    ASSERT_EQ(mona.size(), 1u);
    // The sample image carries another detector's green frame around the face, at about
    // (184, 140)-(315, 300) read off a 3x zoom.
    EXPECT_GE(iou(mona[0].box, Box{184, 140, 315, 300}), 0.5f);
}

TEST(FaceDetectorTest, TinyGrayAndEmptyImages) {
    SKIP_UNLESS_FETCHED(FRONT_MODEL);
    ASSERT_OK_AND_ASSIGN(auto detector, FaceDetector::create(shared_device(), FRONT_MODEL));
    ASSERT_OK_AND_ASSIGN(const auto none, detector->detect(cv::Mat(1, 1, CV_8UC3, cv::Scalar(90))));
    EXPECT_TRUE(none.empty());
    ASSERT_OK_AND_ASSIGN(const auto gray,
                         detector->detect(cv::Mat(40, 30, CV_8UC1, cv::Scalar(0))));
    EXPECT_TRUE(gray.empty());
    EXPECT_STATUS(detector->detect(cv::Mat()), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(detector->detect(cv::Mat(4, 4, CV_32FC3)), StatusCode::INVALID_ARGUMENT);
}

TEST(FaceDetectorTest, RejectsModelsThatAreNotBlazeFace) {
    SKIP_UNLESS_FETCHED(FACERES_MODEL);
    auto detector = FaceDetector::create(shared_device(), FACERES_MODEL);
    EXPECT_STATUS(detector, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(detector.status().message(), "not a BlazeFace model"))
        << detector.status();
    EXPECT_STATUS(FaceDetector::create(shared_device(), CACHE + "/models/nonexistent.onnx"),
                  StatusCode::NOT_FOUND);
}

// ---- embeddings ----

TEST(FaceEmbeddingTest, AlignFacePutsTheEyesOnTheTemplate) {
    // A face whose keypoints are the template itself, scaled 2x and shifted: the aligned crop
    // samples exactly the pixel under each keypoint.
    Face face;
    const std::vector<Point> template_points = {
        {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f}, {56.1396f, 92.2848f}};
    for (size_t i = 0; i < template_points.size(); ++i) {
        face.keypoints[i] = {template_points[i].x * 2 + 10, template_points[i].y * 2 + 20};
    }
    cv::Mat image(300, 300, CV_8UC3, cv::Scalar(0, 0, 0));
    cv::circle(
        image,
        cv::Point(static_cast<int>(face.keypoints[0].x), static_cast<int>(face.keypoints[0].y)), 4,
        cv::Scalar(255, 255, 255), -1);
    ASSERT_OK_AND_ASSIGN(const cv::Mat aligned, align_face(image, face, 112));
    EXPECT_EQ(aligned.size(), cv::Size(112, 112));
    EXPECT_GT(aligned.at<cv::Vec3b>(52, 38)[0], 200);  // the bright eye
    EXPECT_LT(aligned.at<cv::Vec3b>(52, 74)[0], 50);   // the other eye is dark
    EXPECT_STATUS(align_face(cv::Mat(), face), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(align_face(image, Face{}), StatusCode::INVALID_ARGUMENT);  // all keypoints at 0
}

TEST(FaceEmbeddingTest, CosineSimilarity) {
    EXPECT_FLOAT_EQ(cosine_similarity(std::vector<float>{1, 0}, std::vector<float>{1, 0}), 1.0f);
    EXPECT_FLOAT_EQ(cosine_similarity(std::vector<float>{1, 0}, std::vector<float>{0, 3}), 0.0f);
    EXPECT_FLOAT_EQ(cosine_similarity(std::vector<float>{1, 0}, std::vector<float>{-2, 0}), -1.0f);
    EXPECT_FLOAT_EQ(cosine_similarity(std::vector<float>{1}, std::vector<float>{1, 0}), 0.0f);
}

TEST(FaceEmbeddingTest, SameFaceIsCloserThanOtherFaces) {
    SKIP_UNLESS_FETCHED(BACK_MODEL, FACERES_MODEL, FACEREG, MESSI, MONA_LISA);
    auto vdevice = shared_device();
    ASSERT_OK_AND_ASSIGN(auto detector, FaceDetector::create(vdevice, BACK_MODEL));
    ASSERT_OK_AND_ASSIGN(auto embedder, FaceEmbedder::create(vdevice, FACERES_MODEL));
    EXPECT_EQ(embedder->input_size(), 224);
    EXPECT_EQ(embedder->dimension(), 1024u);

    // Two crops of each face: one from the photo, one from a mirrored copy scaled to 80 %
    // (detected again there, so box, keypoints and pixels all differ).
    std::vector<std::vector<float>> first;
    std::vector<std::vector<float>> second;
    for (const auto& path : {FACEREG, MESSI, MONA_LISA}) {
        ASSERT_OK_AND_ASSIGN(const cv::Mat image, read_image(path));
        cv::Mat mirrored;
        cv::flip(image, mirrored, 1);
        cv::resize(mirrored, mirrored, cv::Size(), 0.8, 0.8, cv::INTER_AREA);
        ASSERT_OK_AND_ASSIGN(const auto faces, detector->detect(image));
        ASSERT_OK_AND_ASSIGN(const auto mirrored_faces, detector->detect(mirrored));
        ASSERT_EQ(faces.size(), mirrored_faces.size()) << path;
        for (const auto& face : faces) {
            // The same face in the mirrored copy: the one whose centre is nearest.
            const float cx = mirrored.cols - (face.box.x1 + face.box.x2) / 2 * 0.8f;
            const float cy = (face.box.y1 + face.box.y2) / 2 * 0.8f;
            const Face* match = nullptr;
            float best = 1e9f;
            for (const auto& other : mirrored_faces) {
                const float dx = (other.box.x1 + other.box.x2) / 2 - cx;
                const float dy = (other.box.y1 + other.box.y2) / 2 - cy;
                if (dx * dx + dy * dy < best) {
                    best = dx * dx + dy * dy;
                    match = &other;
                }
            }
            ASSERT_NE(match, nullptr);
            ASSERT_OK_AND_ASSIGN(auto a, embedder->embed(image, face));
            ASSERT_OK_AND_ASSIGN(auto b, embedder->embed(mirrored, *match));
            first.push_back(std::move(a));
            second.push_back(std::move(b));
        }
    }
    ASSERT_EQ(first.size(), 6u);  // 4 + Messi + Mona Lisa
    for (const auto& embedding : first) {
        double norm = 0;
        for (float v : embedding) norm += double(v) * v;
        EXPECT_NEAR(norm, 1.0, 1e-4);
    }
    for (size_t i = 0; i < first.size(); ++i) {
        const float same = cosine_similarity(first[i], second[i]);
        for (size_t j = 0; j < first.size(); ++j) {
            if (j == i) continue;
            EXPECT_GT(same, cosine_similarity(first[i], second[j])) << "face " << i << " vs " << j;
            EXPECT_GT(same, cosine_similarity(first[i], first[j])) << "face " << i << " vs " << j;
        }
    }
}

TEST(FaceEmbeddingTest, BadCropsAndModels) {
    SKIP_UNLESS_FETCHED(FACERES_MODEL, FRONT_MODEL);
    ASSERT_OK_AND_ASSIGN(auto embedder, FaceEmbedder::create(shared_device(), FACERES_MODEL));
    EXPECT_STATUS(embedder->embed(cv::Mat()), StatusCode::INVALID_ARGUMENT);
    ASSERT_OK_AND_ASSIGN(auto tiny,
                         embedder->embed(cv::Mat(1, 1, CV_8UC3, cv::Scalar(50, 60, 70))));
    EXPECT_EQ(tiny.size(), 1024u);
    // BlazeFace has no [1, D] output.
    EXPECT_STATUS(FaceEmbedder::create(shared_device(), FRONT_MODEL), StatusCode::INVALID_MODEL);
}

}  // namespace
}  // namespace corun::tasks
