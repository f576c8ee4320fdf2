#include "cluster/input_scan.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_set>

namespace corun::cluster {
namespace {

namespace fs = std::filesystem;

class InputCollector {
public:
    void add(const fs::path& path) {
        std::error_code error;
        fs::path absolute = fs::absolute(path, error).lexically_normal();
        if (error) absolute = path;
        std::string text = absolute.string();
        if (seen_.insert(text).second) scan_.paths.push_back(std::move(text));
    }

    // Symlinked files are taken; symlinked folders are not followed (no cycles, no escaping the
    // tree).
    void add_folder(const fs::path& folder, const std::set<InputKind>& kinds) {
        std::vector<fs::path> found;
        std::error_code error;
        fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied,
                                            error);
        if (error) {
            scan_.warnings.push_back("cannot list '" + folder.string() + "': " + error.message());
            return;
        }
        for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
            if (error) {
                scan_.warnings.push_back("cannot list under '" + folder.string() +
                                         "': " + error.message());
                break;
            }
            std::error_code status_error;
            if (!it->is_regular_file(status_error)) continue;
            if (kinds.count(input_kind_of_extension(it->path().string())) == 0) {
                ++scan_.other_files;
                continue;
            }
            found.push_back(it->path());
        }
        std::sort(found.begin(), found.end());
        for (const auto& path : found) add(path);
    }

    Status add_list(std::istream& list) {
        std::string line;
        while (std::getline(list, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            add(line);
        }
        return Status::ok();
    }

    InputScan take() { return std::move(scan_); }

private:
    InputScan scan_;
    std::unordered_set<std::string> seen_;
};

}  // namespace

Expected<InputScan> scan_inputs(const std::vector<std::string>& paths,
                                const std::vector<std::string>& lists,
                                const std::set<InputKind>& kinds, std::istream& standard_input) {
    InputCollector collector;
    for (const auto& path : paths) {
        std::error_code error;
        const auto status = fs::status(path, error);
        if (!fs::exists(status)) {
            return Status(StatusCode::NOT_FOUND,
                          "'" + path + "' does not exist; give files, folders or --files-from");
        }
        if (fs::is_directory(status)) {
            collector.add_folder(path, kinds);
        } else {
            collector.add(path);
        }
    }
    for (const auto& list : lists) {
        if (list == "-") {
            CORUN_RETURN_IF_ERROR(collector.add_list(standard_input));
            continue;
        }
        std::ifstream file(list);
        if (!file) {
            return Status(StatusCode::NOT_FOUND,
                          "the file list '" + list + "' (--files-from) cannot be opened");
        }
        CORUN_RETURN_IF_ERROR(collector.add_list(file));
    }
    return collector.take();
}

}  // namespace corun::cluster
