// A model with fixed input shapes, configured once through the corun API, with one buffer per
// stream that the task fills and reads: the common core of the face detector, the face
// embedder and the voice-activity detector. Float streams are bound as FLOAT32 in the model's
// own order; other streams (Silero's int64 sample rate) in their native type.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/corun.hpp"

namespace corun::tasks {

class ModelRunner {
public:
    // Loads `onnx_path` on `vdevice`, fixes the dynamic input dimensions listed in
    // `input_shapes` (native order, batch included), configures it and binds a buffer per
    // stream. Errors name the model file.
    static Expected<std::unique_ptr<ModelRunner>> create(
        const std::shared_ptr<VDevice>& vdevice, const std::string& onnx_path,
        const std::map<std::string, std::vector<int64_t>>& input_shapes = {});

    // The buffer of a stream, in elements of its type. NOT_FOUND for an unknown name, and
    // INVALID_ARGUMENT when the stream has another element type.
    Expected<std::span<float>> floats(const std::string& name);
    Expected<std::span<int64_t>> int64s(const std::string& name);
    // The configured shape of a stream (native order, batch included).
    Expected<std::vector<int64_t>> shape(const std::string& name) const;

    // Runs one frame on the inputs' current contents; the outputs hold the results after.
    Status run(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    const std::string& path() const { return path_; }
    // The configured model, for its scheduler knobs (priority, latency SLO).
    ConfiguredInferModel& configured() { return *configured_; }
    const std::vector<std::string>& input_names() const { return model_->get_input_names(); }
    const std::vector<std::string>& output_names() const { return model_->get_output_names(); }

private:
    struct Stream {
        FormatType type = FormatType::FLOAT32;
        std::vector<int64_t> shape;
        std::vector<uint8_t> bytes;
    };
    ModelRunner() = default;
    Expected<Stream*> find(const std::string& name, FormatType type);

    std::shared_ptr<VDevice> vdevice_;
    std::shared_ptr<InferModel> model_;
    std::unique_ptr<ConfiguredInferModel> configured_;
    std::unique_ptr<ConfiguredInferModel::Bindings> bindings_;
    std::map<std::string, Stream> streams_;
    std::string path_;
};

}  // namespace corun::tasks
