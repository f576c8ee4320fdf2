// `corun run --input [NAME=]FILE`: a tensor for one input stream from a raw file (the frame's
// bytes in the stream's format) or a numpy .npy file (dtype and shape checked against the
// stream, with errors naming the stream, what it takes, what the file holds, and the fix).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "npy_file.hpp"

namespace corun::tools {

struct InputTensorFile {
    std::string stream;  // the input's name
    std::string path;
    std::vector<uint8_t> bytes;   // the whole file, as read
    std::optional<NpyArray> npy;  // set for .npy files
};

// Splits each --input value into stream and path ("x=a.npy"; a bare path for a model with one
// input) and reads the files. NOT_FOUND / INVALID_ARGUMENT name the option and the fix.
Expected<std::vector<InputTensorFile>> read_input_tensor_files(
    const std::vector<std::string>& specs, const InferModel& model);

// The tensor for `stream` (configured: its format and shape are final), checked: a raw file
// must be exactly one frame; an .npy file must have the stream's dtype and shape.
Expected<std::vector<uint8_t>> input_frame(const InputTensorFile& file,
                                           const InferModel::InferStream& stream,
                                           size_t frame_size);

}  // namespace corun::tools
