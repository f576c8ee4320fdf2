#include "tasks/face_embedding.hpp"

#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "tasks/image.hpp"
#include "tasks/model_runner.hpp"

namespace corun::tasks {
namespace {

// ArcFace's 112x112 landmark template (insightface): the eye on the image's left, the other
// eye, nose tip, and the mouth centre (the mean of its two mouth corners).
constexpr std::array<Point, 4> TEMPLATE_112{{
    {38.2946f, 51.6963f},
    {73.5318f, 51.5014f},
    {56.0252f, 71.7366f},
    {56.1396f, 92.2848f},
}};

void l2_normalise(std::vector<float>& values) {
    double sum = 0.0;
    for (float v : values) sum += double(v) * v;
    if (sum <= 0.0) return;
    const auto inverse = static_cast<float>(1.0 / std::sqrt(sum));
    for (float& v : values) v *= inverse;
}

}  // namespace

Expected<cv::Mat> align_face(const cv::Mat& image, const Face& face, int size) {
    if (image.empty())
        return Status(StatusCode::INVALID_ARGUMENT, "align face: the image is empty");
    if (size <= 0) return Status(StatusCode::INVALID_ARGUMENT, "align face: size must be positive");
    // Least-squares similarity transform q = [a -b; b a] p + t from the keypoints to the
    // template (scaled to `size`), in closed form on centred coordinates.
    const float template_scale = static_cast<float>(size) / 112.0f;
    double px = 0, py = 0, qx = 0, qy = 0;
    for (size_t i = 0; i < TEMPLATE_112.size(); ++i) {
        px += face.keypoints[i].x;
        py += face.keypoints[i].y;
        qx += TEMPLATE_112[i].x * template_scale;
        qy += TEMPLATE_112[i].y * template_scale;
    }
    const double n = static_cast<double>(TEMPLATE_112.size());
    px /= n, py /= n, qx /= n, qy /= n;
    double norm = 0, dot = 0, cross = 0;
    for (size_t i = 0; i < TEMPLATE_112.size(); ++i) {
        const double x = face.keypoints[i].x - px;
        const double y = face.keypoints[i].y - py;
        const double u = TEMPLATE_112[i].x * template_scale - qx;
        const double v = TEMPLATE_112[i].y * template_scale - qy;
        norm += x * x + y * y;
        dot += x * u + y * v;
        cross += x * v - y * u;
    }
    if (norm < 1e-6) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "align face: the face's keypoints coincide; it cannot be aligned");
    }
    const double a = dot / norm;
    const double b = cross / norm;
    const cv::Matx23d transform(a, -b, qx - (a * px - b * py), b, a, qy - (b * px + a * py));
    cv::Mat aligned;
    cv::warpAffine(image, aligned, transform, cv::Size(size, size), cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    return aligned;
}

float cosine_similarity(std::span<const float> a, std::span<const float> b) {
    if (a.size() != b.size() || a.empty()) return 0.0f;
    double dot = 0, norm_a = 0, norm_b = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        dot += double(a[i]) * b[i];
        norm_a += double(a[i]) * a[i];
        norm_b += double(b[i]) * b[i];
    }
    if (norm_a <= 0 || norm_b <= 0) return 0.0f;
    return static_cast<float>(dot / std::sqrt(norm_a * norm_b));
}

FaceEmbedder::~FaceEmbedder() = default;

std::string FaceEmbedder::default_model(const std::string& cache_dir) {
    return cache_dir + "/models/faceres/faceres.onnx";
}

Expected<std::unique_ptr<FaceEmbedder>> FaceEmbedder::create(std::shared_ptr<VDevice> vdevice,
                                                             const std::string& model_path,
                                                             const FaceEmbedderOptions& options) {
    std::unique_ptr<FaceEmbedder> embedder(new FaceEmbedder());
    embedder->options_ = options;
    CORUN_TRY(embedder->runner_, ModelRunner::create(vdevice, model_path));
    ModelRunner& runner = *embedder->runner_;
    auto invalid = [&](const std::string& why) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + model_path + "' is not a face embedding model: " + why);
    };
    if (runner.input_names().size() != 1) return invalid("it must have one input");
    embedder->input_name_ = runner.input_names().front();
    CORUN_TRY(auto input, runner.shape(embedder->input_name_));
    if (input.size() != 4 || input[1] != input[2] || input[3] != 3) {
        return invalid("its input is not [1, S, S, 3] (NHWC)");
    }
    embedder->output_name_ = options.output_name;
    if (embedder->output_name_.empty()) {
        int64_t widest = 0;
        for (const auto& name : runner.output_names()) {
            CORUN_TRY(auto shape, runner.shape(name));
            if (shape.size() == 2 && shape[1] > widest) {
                widest = shape[1];
                embedder->output_name_ = name;
            }
        }
        if (embedder->output_name_.empty()) return invalid("it has no [1, D] output");
    }
    CORUN_TRY(auto output, runner.shape(embedder->output_name_));
    if (output.size() != 2 || output[1] <= 0) {
        return invalid("output '" + embedder->output_name_ + "' is not [1, D]");
    }
    embedder->input_size_ = static_cast<int>(input[1]);
    embedder->dimension_ = static_cast<size_t>(output[1]);
    return embedder;
}

Expected<std::vector<float>> FaceEmbedder::embed(const cv::Mat& face_crop, StageTiming* timing) {
    auto clock = std::chrono::steady_clock::now();
    StageTiming spent;
    if (face_crop.empty())
        return Status(StatusCode::INVALID_ARGUMENT, "embed face: the crop is empty");
    cv::Mat bgr = face_crop;
    if (face_crop.type() == CV_8UC1) cv::cvtColor(face_crop, bgr, cv::COLOR_GRAY2BGR);
    if (bgr.type() != CV_8UC3) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "embed face: the crop must be 8-bit BGR or gray");
    }
    CORUN_TRY(const cv::Mat resized, resize_image(bgr, input_size_, input_size_));

    std::lock_guard lock(mutex_);
    CORUN_TRY(std::span<float> input, runner_->floats(input_name_));
    CORUN_RETURN_IF_ERROR(
        image_to_tensor(resized, TensorLayout::NHWC, options_.normalization, input));
    spent.pre_ms = lap_ms(clock);
    CORUN_RETURN_IF_ERROR(runner_->run());
    spent.infer_ms = lap_ms(clock);
    CORUN_TRY(std::span<float> output, runner_->floats(output_name_));
    std::vector<float> embedding(output.begin(), output.end());
    l2_normalise(embedding);
    spent.post_ms = lap_ms(clock);
    if (timing != nullptr) {
        timing->pre_ms += spent.pre_ms;
        timing->infer_ms += spent.infer_ms;
        timing->post_ms += spent.post_ms;
    }
    return embedding;
}

Expected<std::vector<float>> FaceEmbedder::embed(const cv::Mat& image, const Face& face,
                                                 StageTiming* timing) {
    auto clock = std::chrono::steady_clock::now();
    CORUN_TRY(const cv::Mat aligned, align_face(image, face, input_size_));
    if (timing != nullptr) timing->pre_ms += lap_ms(clock);
    return embed(aligned, timing);
}

}  // namespace corun::tasks
