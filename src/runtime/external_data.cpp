#include "runtime/external_data.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>

namespace corun::runtime {
namespace {

Status refused(const std::string& model_name, const std::string& location, const std::string& why) {
    return Status(
        StatusCode::INVALID_MODEL,
        "model '" + model_name + "' names external data '" + location + "', which " + why +
            "; keep a model's external data files in its own folder (or below) and "
            "name them relative to it, as onnx.save(..., save_as_external_data=True) does");
}

Expected<std::string> real_path(const std::string& path) {
    char resolved[PATH_MAX];
    if (realpath(path.c_str(), resolved) == nullptr) {
        return Status(StatusCode::NOT_FOUND, std::strerror(errno));
    }
    return std::string(resolved);
}

bool has_parent_component(const std::string& location) {
    size_t start = 0;
    while (start <= location.size()) {
        size_t end = location.find_first_of("/\\", start);
        if (end == std::string::npos) end = location.size();
        if (location.compare(start, end - start, "..") == 0 && end - start == 2) return true;
        start = end + 1;
    }
    return false;
}

Expected<std::vector<uint8_t>> read_whole_file(const std::string& path, const std::string& location,
                                               const std::string& model_name) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return Status(StatusCode::FILE_OPERATION_FAILURE, "cannot open external data '" + location +
                                                              "' of model '" + model_name + "' (" +
                                                              path + "): " + std::strerror(errno));
    }
    struct stat info {};
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return refused(model_name, location, "is not a regular file");
    }
    std::vector<uint8_t> content;
    try {
        content.resize(static_cast<size_t>(info.st_size));
    } catch (const std::bad_alloc&) {
        close(fd);
        return Status(StatusCode::OUT_OF_HOST_MEMORY,
                      "cannot hold external data '" + location + "' of model '" + model_name +
                          "' (" + std::to_string(info.st_size) + " bytes) in memory");
    }
    size_t done = 0;
    while (done < content.size()) {
        const ssize_t got = read(fd, content.data() + done, content.size() - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            close(fd);
            return Status(StatusCode::FILE_OPERATION_FAILURE,
                          "reading external data '" + location + "' of model '" + model_name +
                              "' stopped after " + std::to_string(done) + " bytes");
        }
        done += static_cast<size_t>(got);
    }
    close(fd);
    return content;
}

}  // namespace

Expected<std::vector<devices::ExternalDataFile>> read_external_data(
    const std::string& model_folder, const std::vector<std::string>& locations,
    const std::string& model_name) {
    std::vector<devices::ExternalDataFile> files;
    if (locations.empty()) return files;
    auto folder = real_path(model_folder.empty() ? "." : model_folder);
    if (!folder) {
        return Status(StatusCode::NOT_FOUND, "cannot resolve the folder of model '" + model_name +
                                                 "' (" + model_folder +
                                                 "): " + folder.status().message());
    }
    const std::string inside = *folder == "/" ? "/" : *folder + "/";
    for (const auto& location : locations) {
        if (location.find('\0') != std::string::npos || location.front() == '/' ||
            location.front() == '\\') {
            return refused(model_name, location, "is an absolute path");
        }
        if (has_parent_component(location)) {
            return refused(model_name, location, "climbs out of the model's folder with '..'");
        }
        auto resolved = real_path(*folder + "/" + location);
        if (!resolved) {
            return Status(StatusCode::NOT_FOUND,
                          "model '" + model_name + "' names external data '" + location +
                              "', which is not in its folder " + *folder + " (" +
                              resolved.status().message() + "); copy it beside the model");
        }
        if (resolved->compare(0, inside.size(), inside) != 0) {
            return refused(model_name, location,
                           "resolves (through a symbolic link) to " + *resolved +
                               ", outside the model's folder " + *folder);
        }
        CORUN_TRY(auto content, read_whole_file(*resolved, location, model_name));
        files.push_back({location, std::move(content)});
    }
    return files;
}

Status check_external_data_provided(const std::vector<std::string>& locations,
                                    const std::vector<devices::ExternalDataFile>& provided,
                                    const std::string& model_name) {
    std::set<std::string> given;
    for (const auto& file : provided) given.insert(file.location);
    std::string missing;
    for (const auto& location : locations) {
        if (given.contains(location)) continue;
        missing += (missing.empty() ? "'" : ", '") + location + "'";
    }
    if (missing.empty()) return Status::ok();
    return Status(StatusCode::INVALID_MODEL,
                  "model '" + model_name + "' keeps tensors in external data file(s) " + missing +
                      " that were not given with it; corun never lets a model open files by "
                      "itself: load it from its file (create_infer_model(path)), and corun reads "
                      "them from the model's folder (and sends them to corund)");
}

}  // namespace corun::runtime
