#include "devices/npu_sim/npu_timing_model.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "corun/environment.hpp"

namespace corun::devices::npu_sim {
namespace {

using Json = nlohmann::json;

Expected<std::chrono::nanoseconds> microseconds_field(const Json& object, const char* key,
                                                      const std::string& where, bool required) {
    if (!object.contains(key)) {
        if (!required) return std::chrono::nanoseconds(0);
        return Status(StatusCode::INVALID_ARGUMENT,
                      "npu-sim profile: " + where + " has no \"" + key + "\" (microseconds)");
    }
    const Json& value = object.at(key);
    if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 3.6e9) {
        return Status(StatusCode::INVALID_ARGUMENT, "npu-sim profile: " + where + "." + key +
                                                        " must be a number of microseconds in "
                                                        "0..3.6e9, got " +
                                                        value.dump());
    }
    return std::chrono::nanoseconds(static_cast<int64_t>(value.get<double>() * 1000.0));
}

}  // namespace

Expected<ModelTiming> NpuTimingModel::timing_of(const std::string& model_name) const {
    if (auto found = models.find(model_name); found != models.end()) return found->second;
    std::string known;
    for (const auto& [name, timing] : models) known += (known.empty() ? "" : ", ") + name;
    return Status(StatusCode::NOT_FOUND,
                  "model '" + model_name + "' is not in the npu-sim profile (it has: " +
                      (known.empty() ? std::string("no models") : known) +
                      "); add it under \"models\" or write a profile with `corun benchmark`");
}

Expected<NpuTimingModel> parse_npu_profile(const std::string& json_text) {
    Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object()) {
        return Status(StatusCode::INVALID_ARGUMENT, "npu-sim profile is not a JSON object");
    }
    NpuTimingModel profile;
    if (root.contains("device")) {
        if (!root["device"].is_object()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "npu-sim profile: \"device\" must be an object");
        }
        CORUN_TRY(profile.context_switch,
                  microseconds_field(root["device"], "context_switch_us", "device", false));
    }
    if (!root.contains("models") || !root["models"].is_object()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "npu-sim profile has no \"models\" object (name -> {\"frame_us\": ...})");
    }
    for (const auto& [name, entry] : root["models"].items()) {
        const std::string where = "models." + name;
        if (!entry.is_object()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "npu-sim profile: " + where + " must be an object");
        }
        ModelTiming timing;
        CORUN_TRY(timing.frame, microseconds_field(entry, "frame_us", where, true));
        CORUN_TRY(timing.burst_overhead,
                  microseconds_field(entry, "burst_overhead_us", where, false));
        CORUN_TRY(timing.host_pre, microseconds_field(entry, "host_pre_us", where, false));
        CORUN_TRY(timing.host_post, microseconds_field(entry, "host_post_us", where, false));
        if (entry.contains("max_in_flight")) {
            const Json& value = entry["max_in_flight"];
            if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
                value.get<int64_t>() > 1024) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "npu-sim profile: " + where + ".max_in_flight must be 1..1024");
            }
            timing.max_in_flight = value.get<uint32_t>();
        }
        if (timing.frame.count() == 0 && timing.burst_overhead.count() == 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "npu-sim profile: " + where + " takes no device time; set frame_us > 0");
        }
        profile.models[name] = timing;
    }
    return profile;
}

Expected<std::string> read_npu_profile_text(const std::string& path) {
    // Non-blocking open: a FIFO at the path must not hang the caller; only a regular file of
    // sane size is read (not /dev/zero).
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return Status(StatusCode::NOT_FOUND, "npu-sim profile '" + path +
                                                 "' cannot be opened; write one or make it with "
                                                 "`corun benchmark MODEL... --profile " +
                                                 path + "`");
    }
    struct stat info {};
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
        static_cast<uint64_t>(info.st_size) > MAX_NPU_PROFILE_BYTES) {
        close(fd);
        return Status(StatusCode::INVALID_ARGUMENT,
                      "npu-sim profile '" + path + "' is not a regular file of at most " +
                          std::to_string(MAX_NPU_PROFILE_BYTES) + " bytes");
    }
    std::string text(static_cast<size_t>(info.st_size), '\0');
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t got = read(fd, text.data() + done, text.size() - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        done += static_cast<size_t>(got);
    }
    close(fd);
    text.resize(done);
    return text;
}

std::string npu_profile_path(const std::string& profile_path) {
    if (!profile_path.empty()) return profile_path;
    return environment::value(environment::NPU_SIM_PROFILE);
}

Expected<NpuTimingModel> load_npu_profile(const std::string& path) {
    CORUN_TRY(const std::string text, read_npu_profile_text(path));
    CORUN_TRY(auto profile, parse_npu_profile(text), "reading '" + path + "'");
    return profile;
}

std::string npu_profile_to_json(const NpuTimingModel& profile) {
    auto micros = [](std::chrono::nanoseconds value) { return value.count() / 1000.0; };
    Json models = Json::object();
    for (const auto& [name, timing] : profile.models) {
        models[name] = {{"frame_us", micros(timing.frame)},
                        {"burst_overhead_us", micros(timing.burst_overhead)},
                        {"host_pre_us", micros(timing.host_pre)},
                        {"host_post_us", micros(timing.host_post)},
                        {"max_in_flight", timing.max_in_flight}};
    }
    return Json{{"device", {{"context_switch_us", micros(profile.context_switch)}}},
                {"models", models}}
        .dump(2);
}

}  // namespace corun::devices::npu_sim
