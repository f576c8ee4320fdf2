// corun._corun.tasks: the task pipelines of src/tasks (object detection, faces, OCR, voice
// activity) over a VDevice, taking numpy images (BGR, OpenCV's order), encoded image bytes or
// paths, and returning plain dicts. corun/tasks.py turns them into dataclasses and keeps one
// pipeline per model.
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "binding_support.hpp"
#include "corun/environment.hpp"
#include "corun/vdevice.hpp"
#include "tasks/audio.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/image.hpp"
#include "tasks/object_detection.hpp"
#include "tasks/ocr_pipeline.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::python {
namespace {

// An image as the tasks take it: a numpy array (H x W gray, or H x W x 3 BGR / x 4 BGRA,
// uint8), the bytes of an encoded file, or a path. `pixels` keeps a numpy array alive while
// the cv::Mat views it.
struct TaskImage {
    cv::Mat mat;
    py::object pixels;
};

TaskImage task_image(const py::object& image) {
    if (py::isinstance<py::bytes>(image) || py::isinstance<py::bytearray>(image)) {
        const std::span<const uint8_t> bytes = bytes_of(image);
        return {without_gil([&] { return tasks::decode_image(bytes); }), py::none()};
    }
    if (!py::isinstance<py::array>(image)) {
        const std::string path = path_of(image, "an image is a numpy array, bytes or a path");
        return {without_gil([&] { return tasks::read_image(path); }), py::none()};
    }
    py::array array = py::reinterpret_borrow<py::array>(image);
    if (array.dtype().kind() != 'u' || array.dtype().itemsize() != 1) {
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            "an image array must be uint8 (OpenCV's BGR); got " +
                                std::string(py::str(static_cast<py::handle>(array.dtype())))));
    }
    const ssize_t channels = array.ndim() == 3 ? array.shape(2) : 1;
    if ((array.ndim() != 2 && array.ndim() != 3) ||
        (channels != 1 && channels != 3 && channels != 4)) {
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            "an image array is H x W (gray) or H x W x 3 (BGR) or H x W x 4 "
                            "(BGRA); got " +
                                std::to_string(array.ndim()) + " dimensions"));
    }
    array = py::array::ensure(array, py::array::c_style);
    cv::Mat mat(static_cast<int>(array.shape(0)), static_cast<int>(array.shape(1)),
                CV_8UC(static_cast<int>(channels)), const_cast<void*>(array.data()));
    return {mat, array};
}

py::tuple box_tuple(const tasks::Box& box) {
    return py::make_tuple(box.x1, box.y1, box.x2, box.y2);
}

// Audio as the voice-activity detector takes it: float samples with their rate, or a WAV path.
tasks::AudioClip task_audio(const py::object& audio, int sample_rate) {
    if (!py::isinstance<py::array>(audio) && !py::isinstance<py::list>(audio)) {
        const std::string path = path_of(audio, "audio is a float array or a WAV path");
        return without_gil([&] { return tasks::read_wav(path); });
    }
    auto samples = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(audio);
    if (!samples || samples.ndim() != 1) {
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            "audio is a 1-D array of float samples in [-1, 1], or a WAV path"));
    }
    tasks::AudioClip clip;
    clip.sample_rate = sample_rate;
    clip.samples.assign(samples.data(), samples.data() + samples.size());
    return clip;
}

// Creates a task pipeline without the GIL (it loads and configures models), then raises its
// error, if any, with the GIL.
template <typename Create>
auto created(Create&& create) {
    auto task = without_gil(std::forward<Create>(create));
    return std::shared_ptr<typename decltype(task)::element_type>(std::move(task));
}

// Runs a task on an image without the GIL; the image's pixels stay referenced meanwhile.
template <typename Run>
auto on_image(const py::object& image, Run&& run) {
    const TaskImage input = task_image(image);
    return without_gil([&] { return run(input.mat); });
}

}  // namespace

void bind_tasks(py::module_& parent) {
    py::module_ module = parent.def_submodule("tasks", "corun's task pipelines (src/tasks)");

    module.def(
        "default_cache_dir",
        [] {
            const std::string value = environment::value(environment::CACHE_DIR);
            return value.empty() ? std::string(CORUN_DEFAULT_CACHE_DIR) : value;
        },
        "$CORUN_CACHE_DIR, else the checkout's .cache (scripts/fetch_models.sh).");
    module.def("default_model_paths", [](const std::string& cache) {
        const auto detector = tasks::ObjectDetectorPaths::in_cache(cache);
        const auto ocr = tasks::OcrModelPaths::in_cache(cache);
        py::dict paths;
        paths["nanodet"] = detector.model;
        paths["coco_labels"] = detector.labels;
        paths["blazeface"] = tasks::FaceDetector::default_model(cache);
        paths["ocr_detector"] = ocr.detector;
        paths["ocr_recognizer"] = ocr.recognizer;
        paths["ocr_classifier"] = ocr.classifier;
        paths["ocr_keys"] = ocr.keys;
        paths["silero_vad"] = tasks::VoiceActivityDetector::default_model(cache);
        return paths;
    });

    py::class_<tasks::ObjectDetector, std::shared_ptr<tasks::ObjectDetector>>(module,
                                                                              "ObjectDetector")
        .def(py::init([](const py::object& vdevice, const std::string& model,
                         const std::string& labels, float score_threshold, float iou_threshold,
                         bool letterbox) {
                 tasks::ObjectDetectorOptions options;
                 options.score_threshold = score_threshold;
                 options.iou_threshold = iou_threshold;
                 options.resize =
                     letterbox ? tasks::ResizeMode::LETTERBOX : tasks::ResizeMode::STRETCH;
                 auto device = vdevice_of(vdevice);
                 return created(
                     [&] { return tasks::ObjectDetector::create(device, model, labels, options); });
             }),
             py::arg("vdevice"), py::arg("model_path"), py::arg("labels_path"),
             py::arg("score_threshold") = 0.35f, py::arg("iou_threshold") = 0.6f,
             py::arg("letterbox") = false)
        .def("detect", [](tasks::ObjectDetector& detector, const py::object& image) {
            py::list result;
            for (const auto& detection :
                 on_image(image, [&](const cv::Mat& mat) { return detector.detect(mat); })) {
                py::dict item;
                item["label"] = detection.label;
                item["label_id"] = detection.label_id;
                item["score"] = detection.score;
                item["box"] = box_tuple(detection.box);
                result.append(item);
            }
            return result;
        });

    py::class_<tasks::FaceDetector, std::shared_ptr<tasks::FaceDetector>>(module, "FaceDetector")
        .def(
            py::init([](const py::object& vdevice, const std::string& model,
                        float score_threshold) {
                tasks::FaceDetectorOptions options;
                options.score_threshold = score_threshold;
                auto device = vdevice_of(vdevice);
                return created([&] { return tasks::FaceDetector::create(device, model, options); });
            }),
            py::arg("vdevice"), py::arg("model_path"), py::arg("score_threshold") = 0.75f)
        .def("detect", [](tasks::FaceDetector& detector, const py::object& image) {
            py::list result;
            for (const auto& face :
                 on_image(image, [&](const cv::Mat& mat) { return detector.detect(mat); })) {
                py::dict item;
                item["score"] = face.score;
                item["box"] = box_tuple(face.box);
                py::list keypoints;
                for (const auto& point : face.keypoints)
                    keypoints.append(py::make_tuple(point.x, point.y));
                item["keypoints"] = keypoints;
                result.append(item);
            }
            return result;
        });

    py::class_<tasks::OcrPipeline, std::shared_ptr<tasks::OcrPipeline>>(module, "OcrPipeline")
        .def(py::init([](const py::object& vdevice, const std::string& detector,
                         const std::string& recognizer, const std::string& classifier,
                         const std::string& keys) {
                 tasks::OcrModelPaths paths{detector, recognizer, classifier, keys};
                 tasks::OcrParams params;
                 params.classify_angle = !classifier.empty();
                 auto device = vdevice_of(vdevice);
                 return created([&] { return tasks::OcrPipeline::create(device, paths, params); });
             }),
             py::arg("vdevice"), py::arg("detector"), py::arg("recognizer"), py::arg("classifier"),
             py::arg("keys"))
        .def("read", [](tasks::OcrPipeline& pipeline, const py::object& image) {
            py::list result;
            for (const auto& line :
                 on_image(image, [&](const cv::Mat& mat) { return pipeline.read(mat); })) {
                py::dict item;
                item["text"] = line.text;
                item["confidence"] = line.confidence;
                py::list corners;
                for (const auto& corner : line.box)
                    corners.append(py::make_tuple(corner.x, corner.y));
                item["box"] = corners;
                item["box_score"] = line.box_score;
                item["rotated"] = line.rotated;
                result.append(item);
            }
            return result;
        });

    py::class_<tasks::VoiceActivityDetector, std::shared_ptr<tasks::VoiceActivityDetector>>(
        module, "VoiceActivityDetector")
        .def(py::init([](const py::object& vdevice, const std::string& model, float threshold) {
                 tasks::VadOptions options;
                 options.threshold = threshold;
                 options.negative_threshold = threshold - 0.15f;
                 auto device = vdevice_of(vdevice);
                 return created(
                     [&] { return tasks::VoiceActivityDetector::create(device, model, options); });
             }),
             py::arg("vdevice"), py::arg("model_path"), py::arg("threshold") = 0.5f)
        .def(
            "detect",
            [](tasks::VoiceActivityDetector& detector, const py::object& audio, int sample_rate) {
                const tasks::AudioClip clip = task_audio(audio, sample_rate);
                py::list result;
                for (const auto& segment : without_gil([&] { return detector.detect(clip); })) {
                    py::dict item;
                    item["start_s"] = segment.start_s;
                    item["end_s"] = segment.end_s;
                    result.append(item);
                }
                return result;
            },
            py::arg("audio"), py::arg("sample_rate") = 16000);
}

}  // namespace corun::python
