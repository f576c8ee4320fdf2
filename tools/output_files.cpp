#include "output_files.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "npy_file.hpp"

namespace corun::tools {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxStemBytes = 200;  // file names hold 255 bytes; room for ".npy"

bool keeps(char c, bool leading) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (c == '.' && !leading);
}

Status write_file(const fs::path& path, std::span<const uint8_t> bytes) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) {
        return Status(StatusCode::FILE_OPERATION_FAILURE, "--output-dir: cannot write '" +
                                                              path.string() +
                                                              "'; check the folder's "
                                                              "permissions and free space");
    }
    return Status::ok();
}

}  // namespace

std::string output_file_stem(const std::string& tensor_name) {
    std::string stem;
    for (size_t i = 0; i < tensor_name.size(); ++i) {
        const char c = tensor_name[i];
        if (keeps(c, i == 0)) {
            stem += c;
        } else {
            char hex[4];
            std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
            stem += hex;
        }
    }
    if (stem.empty()) stem = "%";  // ONNX forbids empty names; still a valid file name
    if (stem.size() > kMaxStemBytes) {
        uint64_t hash = 14695981039346656037ull;  // FNV-1a of the whole name
        for (const char c : tensor_name) {
            hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        }
        char suffix[24];
        std::snprintf(suffix, sizeof(suffix), "~%016llx", static_cast<unsigned long long>(hash));
        stem = stem.substr(0, 160) + suffix;
    }
    return stem;
}

Expected<nlohmann::json> write_output_files(const std::string& dir,
                                            const std::vector<OutputTensor>& outputs) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error || !fs::is_directory(dir)) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "--output-dir '" + dir + "' cannot be created (" + error.message() +
                          "); give a folder you can write");
    }
    nlohmann::json manifest = nlohmann::json::array();
    for (const auto& output : outputs) {
        const std::string stem = output_file_stem(output.name);
        nlohmann::json entry = {{"name", output.name},   {"type", format_type_name(output.type)},
                                {"shape", output.shape}, {"bytes", output.bytes.size()},
                                {"bin", stem + ".bin"},  {"npy", nullptr}};
        CORUN_RETURN_IF_ERROR(write_file(fs::path(dir) / (stem + ".bin"), output.bytes));
        if (const auto descr = npy_descr_for(output.type)) {
            CORUN_RETURN_IF_ERROR(write_file(fs::path(dir) / (stem + ".npy"),
                                             npy_bytes(*descr, output.shape, output.bytes)));
            entry["npy"] = stem + ".npy";
        }
        manifest.push_back(std::move(entry));
    }
    const std::string text = manifest.dump(2) + "\n";
    CORUN_RETURN_IF_ERROR(
        write_file(fs::path(dir) / "outputs.json",
                   std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
    return manifest;
}

}  // namespace corun::tools
