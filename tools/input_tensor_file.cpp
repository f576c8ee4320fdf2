#include "input_tensor_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace corun::tools {
namespace {

// A file larger than this is no frame corun would take (the default frame size limit, 1 GiB,
// plus room for an .npy header): refused before it is read into memory.
constexpr uint64_t kMaxInputFileBytes = (uint64_t{1} << 30) + (1 << 16);

std::string names_of(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "'" : ", '") + name + "'";
    return text;
}

Expected<std::vector<uint8_t>> read_whole_file(const std::string& path, const std::string& what) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        return Status(StatusCode::NOT_FOUND, what + " does not exist; check the path");
    }
    if (!S_ISREG(info.st_mode)) {
        return Status(StatusCode::INVALID_ARGUMENT, what + " is not a regular file");
    }
    if (static_cast<uint64_t>(info.st_size) > kMaxInputFileBytes) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has " + std::to_string(info.st_size) +
                          " bytes, more than any frame corun takes (1 GiB)");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) return Status(StatusCode::OPEN_FILE_FAILURE, what + " cannot be opened");
    std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (file.gcount() != static_cast<std::streamsize>(bytes.size())) {
        return Status(StatusCode::FILE_OPERATION_FAILURE, what + " could not be read whole");
    }
    return bytes;
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           std::equal(suffix.rbegin(), suffix.rend(), text.rbegin(),
                      [](char a, char b) { return std::tolower(a) == b; });
}

}  // namespace

Expected<std::vector<InputTensorFile>> read_input_tensor_files(
    const std::vector<std::string>& specs, const InferModel& model) {
    const auto& names = model.get_input_names();
    std::vector<InputTensorFile> files;
    for (const auto& spec : specs) {
        InputTensorFile file;
        const size_t equals = spec.find('=');
        // "NAME=PATH" when NAME is an input; otherwise the whole value is a path (paths may
        // hold '=' too), which only a model with one input can take.
        if (equals != std::string::npos &&
            std::find(names.begin(), names.end(), spec.substr(0, equals)) != names.end()) {
            file.stream = spec.substr(0, equals);
            file.path = spec.substr(equals + 1);
        } else if (names.size() == 1) {
            file.stream = names.front();
            file.path = spec;
        } else {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "--input '" + spec + "' names no input of the model, which has " +
                              std::to_string(names.size()) + " (" + names_of(names) +
                              "); give each as --input NAME=FILE");
        }
        for (const auto& other : files) {
            if (other.stream == file.stream) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "--input gives input '" + file.stream + "' twice ('" + other.path +
                                  "' and '" + file.path + "'); give it once");
            }
        }
        const std::string what = "--input '" + file.stream + "' file '" + file.path + "'";
        CORUN_TRY(file.bytes, read_whole_file(file.path, what));
        if (ends_with(file.path, ".npy") || looks_like_npy(file.bytes)) {
            CORUN_TRY(file.npy, parse_npy(file.bytes, what));
        }
        files.push_back(std::move(file));
    }
    return files;
}

Expected<std::vector<uint8_t>> input_frame(const InputTensorFile& file,
                                           const InferModel::InferStream& stream,
                                           size_t frame_size) {
    const std::string what = "--input '" + file.stream + "' file '" + file.path + "'";
    const Format format = stream.format();
    const std::string takes = std::string(format_type_name(format.type)) + " " +
                              shape_text(stream.shape()) + " (" + format_order_name(format.order) +
                              ")";
    if (!file.npy) {
        if (file.bytes.size() != frame_size) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what + " has " + std::to_string(file.bytes.size()) + " bytes; input '" +
                              file.stream + "' takes exactly " + std::to_string(frame_size) +
                              " bytes per frame: " + takes +
                              " as raw bytes (or give an .npy file, whose dtype and shape corun "
                              "checks)");
        }
        return file.bytes;
    }
    const NpyArray& array = *file.npy;
    const auto descr = npy_descr_for(format.type);
    if (!descr) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + ": input '" + file.stream + "' takes " +
                          format_type_name(format.type) +
                          ", which has no .npy dtype; give the frame as a raw file in corun's " +
                          "layout (docs/API.md)");
    }
    if (array.descr != *descr) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has dtype '" + array.descr + "'; input '" + file.stream +
                          "' takes " + format_type_name(format.type) + " ('" + *descr +
                          "'); convert it (array.astype('" + *descr +
                          "')) or choose the input's type with --input-format-type");
    }
    if (array.shape != stream.shape()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has shape " + shape_text(array.shape) + "; input '" + file.stream +
                          "' takes " + takes +
                          "; reshape the array (a dimension the model leaves dynamic takes the "
                          ".npy's size unless --shape fixes it)");
    }
    if (array.data.size() != frame_size) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      what + " holds " + std::to_string(array.data.size()) +
                          " bytes for a frame of " + std::to_string(frame_size));
    }
    return array.data;
}

}  // namespace corun::tools
