// InferModel: a loaded ONNX model and the user-side formats of its streams, before it is
// configured for inference (HailoRT's hailort::InferModel). input()/output() are methods here,
// always; the no-name forms fail with INVALID_OPERATION when there are several streams.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "corun/expected.hpp"
#include "corun/format.hpp"

namespace corun {

struct StreamSettings;
struct LoadedInferModel;
class VDevice;
namespace runtime {
struct ApiAccess;
}

// Facts about the model file (for `corun parse` and for logs).
struct ModelInfo {
    std::string name;        // file name without extension, or the name given with the bytes
    std::string path;        // "" when loaded from bytes
    uint64_t file_size = 0;  // bytes
    int64_t ir_version = 0;
    std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
    std::string producer;                   // "pytorch 2.1", ...
    int64_t parameter_count = 0;
    std::map<std::string, std::string> metadata;
};

class InferModel {
public:
    // One input or output edge. A handle: copies refer to the same stream of the same model,
    // and its setters change what the next configure() uses.
    class InferStream {
    public:
        const std::string& name() const;
        bool is_input() const;

        // Shape of one frame in the user's order, batch dimension included and set to 1
        // (e.g. {1, 224, 224, 3} for NHWC). Dimensions not yet known are -1.
        std::vector<int64_t> shape() const;
        Format format() const;          // the user's format (AUTO resolved to native)
        size_t get_frame_size() const;  // bytes of one frame in the user's format; 0 if unknown
        std::vector<QuantInfo> get_quant_infos() const;
        // Where the quantization came from: "QuantizeLinear 'q' at the output",
        // "metadata corun.quant.x", or "none (identity)".
        std::string quant_source() const;

        // What the model itself takes: ONNX element type as a FormatType, order and shape.
        Format native_format() const;
        std::vector<int64_t> native_shape() const;
        // Symbolic names of dynamic dimensions ("batch", "height"); "" for fixed ones.
        std::vector<std::string> dimension_names() const;

        // The format the user's buffers will have. Checked at configure(); converting between
        // NHWC and NCHW, and between UINT8/UINT16/FLOAT32 with the stream's quant info.
        // const: a stream is a handle, so `model->inputs()[0].set_format_type(...)` works as in
        // HailoRT, where inputs() returns copies.
        void set_format_type(FormatType type) const;
        void set_format_order(FormatOrder order) const;
        // Fixes dynamic dimensions, in the model's native order, batch dim included: of an input
        // before configure(), or of an output the model cannot reveal by running a frame.
        // Fixed dimensions must be given as they are. Checked here and at configure().
        Status set_shape(const std::vector<int64_t>& native_dims) const;

    private:
        friend class InferModel;
        friend struct runtime::ApiAccess;
        explicit InferStream(std::shared_ptr<StreamSettings> settings);
        std::shared_ptr<StreamSettings> settings_;
    };

    const ModelInfo& info() const;
    const std::vector<InferStream>& inputs() const;
    const std::vector<InferStream>& outputs() const;
    const std::vector<std::string>& get_input_names() const;
    const std::vector<std::string>& get_output_names() const;
    Expected<InferStream> input();
    Expected<InferStream> output();
    Expected<InferStream> input(const std::string& name);
    Expected<InferStream> output(const std::string& name);

    // Frames per burst: the scheduler may switch models only after this many (HailoRT).
    // Valid range 1..MAX_BATCH_SIZE; 0 (HAILO_DEFAULT_BATCH_SIZE) means "let corun pick" (1).
    Status set_batch_size(uint16_t batch_size);
    uint16_t batch_size() const;
    static constexpr uint16_t MAX_BATCH_SIZE = 256;

    // How long one frame may run on the device before corun stops it (the job then completes
    // with TIMEOUT): a model with an endless Loop must not hold a device forever. 1 ms ..
    // MAX_FRAME_TIME_LIMIT; default DEFAULT_FRAME_TIME_LIMIT. Taken by the next configure();
    // corund may lower it to its own maximum.
    Status set_frame_time_limit(std::chrono::milliseconds limit);
    std::chrono::milliseconds frame_time_limit() const { return frame_time_limit_; }
    // Ten minutes: a bound on an endless Loop that no real model reaches, even on a slow board
    // or in a sanitizer build (corund's own maximum is lower: max_frame_time_limit, 60 s).
    static constexpr std::chrono::milliseconds DEFAULT_FRAME_TIME_LIMIT{600'000};
    static constexpr std::chrono::milliseconds MAX_FRAME_TIME_LIMIT{24 * 3600'000};

    // The most bytes one frame may take: every input and output stream, each counted in the
    // larger of its user and native formats. configure() refuses a model above it with
    // RESOURCE_LIMIT (a 120 GB frame would only fail, or swap, at the first inference).
    // At least 1; default DEFAULT_FRAME_SIZE_LIMIT (1 GiB).
    Status set_frame_size_limit(uint64_t bytes);
    uint64_t frame_size_limit() const { return frame_size_limit_; }
    static constexpr uint64_t DEFAULT_FRAME_SIZE_LIMIT = uint64_t{1} << 30;

    // Checks the formats and shapes, and prepares the model on the device. May be called more
    // than once; each ConfiguredInferModel keeps the formats it was configured with.
    Expected<ConfiguredInferModel> configure();

private:
    friend class VDevice;
    friend struct runtime::ApiAccess;
    explicit InferModel(std::shared_ptr<LoadedInferModel> loaded);

    std::shared_ptr<LoadedInferModel> loaded_;
    std::vector<InferStream> inputs_;
    std::vector<InferStream> outputs_;
    std::vector<std::string> input_names_;
    std::vector<std::string> output_names_;
    std::chrono::milliseconds frame_time_limit_ = DEFAULT_FRAME_TIME_LIMIT;
    uint64_t frame_size_limit_ = DEFAULT_FRAME_SIZE_LIMIT;
};

}  // namespace corun
