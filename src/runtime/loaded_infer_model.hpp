// What an InferModel is made of: the model loaded on every device of its group, and the
// user's chosen format for each stream.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/infer_model.hpp"
#include "devices/device.hpp"
#include "runtime/backend.hpp"
#include "runtime/device_group.hpp"

namespace corun {

struct LoadedInferModel;

struct StreamSettings {
    bool is_input = false;
    // The model the stream belongs to: an output's shape follows its inputs'. Weak, since the
    // model owns its streams; a stream outliving its model reports its declared shape.
    std::weak_ptr<LoadedInferModel> model;
    size_t index = 0;                  // among the model's inputs, or among its outputs
    devices::DeclaredTensor declared;  // as the model declares it (dims may be -1)
    std::vector<int64_t> native_dims;  // declared dims with the batch dim and set_shape applied
    bool shape_set = false;            // native_dims came from set_shape
    Format native;                     // type and order the model takes
    Format user;                       // what the user binds (AUTO = native)
    QuantInfo quant;
    std::string quant_source;

    Format resolved_user_format() const;
};

struct LoadedInferModel {
    std::shared_ptr<DeviceGroup> group;  // keeps the backend alive
    ModelInfo info;
    std::shared_ptr<runtime::BackendModel> backend_model;
    std::vector<std::shared_ptr<StreamSettings>> inputs;
    std::vector<std::shared_ptr<StreamSettings>> outputs;
    uint16_t batch_size = 0;  // 0 = corun picks (1)
    // Output dims found by running a zero-filled frame, per input dims (output_shapes.hpp).
    std::mutex output_dims_mutex;
    std::map<std::vector<std::vector<int64_t>>, std::vector<std::vector<int64_t>>>
        output_dims_by_input_dims;
};

// What loading takes besides the model's bytes.
struct ModelLoadExtras {
    // Where the model's external data files are read from (its own folder); empty = none is
    // read here, every file must come in external_data.
    std::string external_data_folder;
    // The content of every external data file the model names (runtime/external_data.hpp);
    // a model naming one that is missing is refused.
    std::vector<devices::ExternalDataFile> external_data;
    uint64_t constant_folding_max_bytes = 0;  // 0 = the device's default
};

// Loads the model on the group's backend and reads its streams and quantization.
Expected<std::shared_ptr<LoadedInferModel>> load_model(std::shared_ptr<DeviceGroup> group,
                                                       std::span<const uint8_t> onnx_bytes,
                                                       ModelInfo info, ModelLoadExtras extras = {});

// The bytes of an ONNX file; NOT_FOUND / OPEN_FILE_FAILURE / INVALID_MODEL (empty) with the path.
Expected<std::vector<uint8_t>> read_model_file(const std::string& path);

}  // namespace corun
