// A model with dynamic input dimensions (PP-OCR's height, width and batch) run through the
// corun API: one ConfiguredInferModel per input shape, kept in a small least-recently-used
// cache. configure() of a model with dynamic outputs runs one zero-filled frame to learn the
// output shape, so configuring per call would double the cost of every new call; with the
// cache a repeated shape (the same camera, the same batch of text lines) costs nothing extra.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "corun/corun.hpp"

namespace corun::tasks {

class ShapeCachedModel {
public:
    // Loads `onnx_path` on `vdevice`; the model must have one float input and one float output.
    static Expected<std::unique_ptr<ShapeCachedModel>> create(VDevice& vdevice,
                                                              const std::string& onnx_path,
                                                              size_t capacity);

    // Runs one frame of shape `input_dims` (native NCHW order, batch included); returns the
    // output values (the output's shape follows from the input's; the caller knows it).
    Expected<std::vector<float>> run(const std::vector<float>& input,
                                     const std::vector<int64_t>& input_dims,
                                     std::chrono::milliseconds timeout);

    InferModel& model() { return *model_; }
    // Shapes configured so far (cache misses), for tests and logs.
    size_t configure_count() const;

private:
    ShapeCachedModel(std::shared_ptr<InferModel> model, size_t capacity)
        : model_(std::move(model)), capacity_(capacity) {}
    Expected<ConfiguredInferModel> configured_for(const std::vector<int64_t>& input_dims);

    std::shared_ptr<InferModel> model_;
    size_t capacity_;
    mutable std::mutex mutex_;  // guards the InferModel's shape and the cache
    std::list<std::pair<std::vector<int64_t>, ConfiguredInferModel>> cache_;  // most recent first
    size_t configure_count_ = 0;
};

}  // namespace corun::tasks
