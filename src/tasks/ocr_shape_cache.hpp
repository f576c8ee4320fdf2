// A model with dynamic input dimensions (PP-OCR's height, width and batch) run through the
// corun API: one ConfiguredInferModel per input shape, kept in a small least-recently-used
// cache. configure() of a model whose output shape is dynamic runs one zero-filled frame to
// learn it, which would double the cost of every new shape; so callers that know the output
// shape declare it (output set_shape), and configure() then runs nothing. The cache makes a
// repeated shape (the same camera, text lines of similar length) cost no configure() at all.
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

    // Runs one frame of shape `input_dims` (native order, batch included) and returns the
    // output values. `output_dims` declares the output's shape for this input shape; empty
    // lets configure() find it with a zero-filled frame. A model should be run either always
    // or never with output_dims: a declared shape stays declared.
    Expected<std::vector<float>> run(const std::vector<float>& input,
                                     const std::vector<int64_t>& input_dims,
                                     const std::vector<int64_t>& output_dims,
                                     std::chrono::milliseconds timeout);

    InferModel& model() { return *model_; }
    // Shapes configured so far (cache misses), for tests and logs.
    size_t configure_count() const;

private:
    ShapeCachedModel(std::shared_ptr<InferModel> model, size_t capacity)
        : model_(std::move(model)), capacity_(capacity) {}
    Expected<ConfiguredInferModel> configured_for(const std::vector<int64_t>& input_dims,
                                                  const std::vector<int64_t>& output_dims);

    std::shared_ptr<InferModel> model_;
    size_t capacity_;
    mutable std::mutex mutex_;  // guards the InferModel's shape and the cache
    std::list<std::pair<std::vector<int64_t>, ConfiguredInferModel>> cache_;  // most recent first
    size_t configure_count_ = 0;
};

}  // namespace corun::tasks
