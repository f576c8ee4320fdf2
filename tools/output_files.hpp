// `corun run --output-dir DIR`: each output of one frame written as DIR/<name>.bin (the raw
// bytes, as the output buffer holds them) and DIR/<name>.npy, plus DIR/outputs.json listing
// them in the model's output order with name, type, shape and file names.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corun/corun.hpp"

namespace corun::tools {

// A file name stem for any tensor name, injective: letters, digits, '_', '-' and non-leading
// '.' stay; every other byte becomes %XX ("encoder/out:0" -> "encoder%2Fout%3A0"). Names
// longer than fit in a file name keep their first 160 bytes and get a hash of the whole.
std::string output_file_stem(const std::string& tensor_name);

struct OutputTensor {
    std::string name;
    FormatType type = FormatType::AUTO;
    std::vector<int64_t> shape;  // the frame's shape in the user's order
    std::span<const uint8_t> bytes;
};

// Writes the files (creating DIR) and returns what outputs.json holds. STRING outputs get no
// .npy (numpy would need pickled objects); BFLOAT16 ones get an .npy of their bits ('<u2').
Expected<nlohmann::json> write_output_files(const std::string& dir,
                                            const std::vector<OutputTensor>& outputs);

}  // namespace corun::tools
