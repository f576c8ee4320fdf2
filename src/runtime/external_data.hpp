// External data: an ONNX model may keep its weights in other files and name them by location.
// ONNX Runtime would resolve those names itself (against the working directory for a model
// loaded from bytes), so a model could read any file the process can. corun reads them here
// instead, only from the model's own folder, and hands their content to the device.
#pragma once

#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "devices/device.hpp"

namespace corun::runtime {

// Reads each file named in `locations` from `model_folder`. A location must be relative,
// without `..`, and must resolve (symlinks followed) to a regular file inside the folder;
// anything else is INVALID_MODEL naming the location and the rule.
Expected<std::vector<devices::ExternalDataFile>> read_external_data(
    const std::string& model_folder, const std::vector<std::string>& locations,
    const std::string& model_name);

// OK when every location the model names has its content in `provided`; otherwise
// INVALID_MODEL naming the missing files and how to load such a model.
Status check_external_data_provided(const std::vector<std::string>& locations,
                                    const std::vector<devices::ExternalDataFile>& provided,
                                    const std::string& model_name);

}  // namespace corun::runtime
