#include "service/daemon/daemon_config.hpp"

#include "common/environment.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>

#include "corun/vdevice.hpp"

namespace corun::service {
namespace {

std::string trimmed(const std::string& text) {
    const size_t begin = text.find_first_not_of(" \t\r");
    if (begin == std::string::npos) return "";
    const size_t end = text.find_last_not_of(" \t\r");
    return text.substr(begin, end - begin + 1);
}

Status bad_value(const std::string& key, const std::string& value, const std::string& accepted) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "setting '" + key + "' = '" + value + "' is not valid; use " + accepted);
}

// "1024", "64K", "512M", "4G" -> bytes; nullopt-like false on anything else or overflow.
bool parse_count(const std::string& text, bool allow_suffix, uint64_t max, uint64_t& result) {
    if (text.empty()) return false;
    uint64_t value = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
        value = value * 10 + digit;
    }
    if (i == 0) return false;
    unsigned shift = 0;
    if (i < text.size()) {
        if (!allow_suffix || i + 1 != text.size()) return false;
        switch (text[i]) {
            case 'K':
            case 'k':
                shift = 10;
                break;
            case 'M':
            case 'm':
                shift = 20;
                break;
            case 'G':
            case 'g':
                shift = 30;
                break;
            default:
                return false;
        }
    }
    if (value > (max >> shift)) return false;
    result = value << shift;
    return true;
}

// A numeric setting: from 1 to `max` (a byte count with a K, M or G suffix when `bytes`),
// `accepted` for the error, `apply` to store it. One row each, so that adding a limit is one line.
struct NumericSetting {
    const char* key;
    bool bytes;
    uint64_t max;
    const char* accepted;
    void (*apply)(DaemonConfig& config, uint64_t number);
};

const NumericSetting* numeric_setting(const std::string& key) {
    static const NumericSetting settings[] = {
        {"max_models_per_client", false, 1u << 20, "a count from 1 to 1048576",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_models_per_client = static_cast<uint32_t>(number);
         }},
        {"max_queued_frames_per_client", false, 1u << 20, "a count from 1 to 1048576",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_queued_frames_per_client = static_cast<uint32_t>(number);
         }},
        {"max_shm_bytes_per_client", true, uint64_t{1} << 46,
         "a byte count such as 1073741824, 512M or 4G",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_shm_bytes_per_client = number;
         }},
        // gRPC takes message sizes as int: keep room for the rest of the message below 2 GiB.
        {"max_model_bytes", true, uint64_t{2000} << 20, "a byte count from 1 to 2000M",
         [](DaemonConfig& config, uint64_t number) { config.limits.max_model_bytes = number; }},
        {"max_threads_per_client", false, 4096, "a count from 1 to 4096",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_threads_per_client = static_cast<uint32_t>(number);
         }},
        {"max_model_memory_per_client", true, uint64_t{1} << 46,
         "a byte count such as 536870912, 512M or 4G",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_model_memory_per_client = number;
         }},
        {"max_frame_time_limit", false, 24 * 3600'000, "milliseconds from 1 to 86400000",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_frame_time_limit = std::chrono::milliseconds(number);
         }},
        {"max_llms_per_client", false, 1024, "a count from 1 to 1024",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_llms_per_client = static_cast<uint32_t>(number);
         }},
        {"max_speech_models_per_client", false, 1024, "a count from 1 to 1024",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_speech_models_per_client = static_cast<uint32_t>(number);
         }},
        {"max_llm_context_tokens", false, 1u << 20, "a count from 1 to 1048576",
         [](DaemonConfig& config, uint64_t number) {
             config.limits.max_llm_context_tokens = static_cast<uint32_t>(number);
         }},
        {"max_gguf_bytes", true, uint64_t{1} << 40, "a byte count such as 1073741824, 512M or 4G",
         [](DaemonConfig& config, uint64_t number) { config.limits.max_gguf_bytes = number; }},
        {"max_connections", false, 65536, "a count from 1 to 65536",
         [](DaemonConfig& config, uint64_t number) {
             config.connections.max_connections = number;
         }},
        {"max_connections_per_user", false, 65536, "a count from 1 to 65536",
         [](DaemonConfig& config, uint64_t number) {
             config.connections.max_connections_per_user = number;
         }},
    };
    for (const auto& setting : settings) {
        if (key == setting.key) return &setting;
    }
    return nullptr;
}

}  // namespace

const std::vector<DaemonSetting>& daemon_settings() {
    static const std::vector<DaemonSetting> settings = {
        {"socket", "Unix socket to listen on (default: $CORUN_SERVICE_SOCKET, else " +
                       std::string(DEFAULT_SERVICE_SOCKET) + ")"},
        {"socket_group", "Group allowed to connect (the socket is mode 0660)"},
        {"log_file", "Also write the log to this file"},
        {"log_level", "trace, debug, info, warn or error (default info)"},
        {"max_models_per_client", "Models one client may load and configure (default 64)"},
        {"max_queued_frames_per_client",
         "Frames one client may have queued or running (default 256)"},
        {"max_shm_bytes_per_client", "Shared memory one client may register (default 4G)"},
        {"max_model_bytes",
         "Largest ONNX model a client may load, external data included (default 512M)"},
        {"max_threads_per_client",
         "Threads the models of one user may make: intra-op threads per loaded model and "
         "scheduler workers per session (default 64)"},
        {"max_model_memory_per_client",
         "Memory the models of one user may take at load, measured as the daemon's peak growth "
         "while loading (default 4G)"},
        {"max_frame_time_limit",
         "The longest one frame may run, in milliseconds; longer frames are stopped with "
         "TIMEOUT, and a client's own limit is lowered to this (default 60000)"},
        {"max_llms_per_client", "LLMs one client may load (default 2)"},
        {"max_speech_models_per_client",
         "Speech2Text (whisper.cpp) models one client may load (default 2)"},
        {"max_llm_context_tokens",
         "The largest context (LLMParams::context_size) an LLM may have, in tokens "
         "(default 8192)"},
        {"max_gguf_bytes",
         "Largest GGUF file a client may load as an LLM (or whisper.cpp file as a Speech2Text); "
         "corund keeps it in memory while the model is loaded (default 4G)"},
        {"max_connections", "Connections corund keeps open at once (default 1024)"},
        {"max_connections_per_user", "Connections one user may keep open (default 128)"},
    };
    return settings;
}

Status apply_daemon_setting(DaemonConfig& config, const std::string& key,
                            const std::string& value) {
    if (key == "socket") {
        config.socket = value;
    } else if (key == "socket_group") {
        config.socket_group = value;
    } else if (key == "log_file") {
        config.log_file = value;
    } else if (key == "log_level") {
        if (value != "trace" && value != "debug" && value != "info" && value != "warn" &&
            value != "error") {
            return bad_value(key, value, "trace, debug, info, warn or error");
        }
        config.log_level = value;
    } else if (const NumericSetting* numeric = numeric_setting(key)) {
        uint64_t number = 0;
        if (!parse_count(value, numeric->bytes, numeric->max, number) || number == 0) {
            return bad_value(key, value, numeric->accepted);
        }
        numeric->apply(config, number);
    } else {
        std::string keys;
        for (const auto& setting : daemon_settings())
            keys += (keys.empty() ? "" : ", ") + setting.key;
        return Status(StatusCode::INVALID_ARGUMENT,
                      "unknown setting '" + key + "'; the settings are " + keys);
    }
    return Status::ok();
}

Status load_daemon_config_file(DaemonConfig& config, const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot read config file '" + path + "'; check the path and permissions");
    }
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        line = trimmed(line);
        if (line.empty()) continue;
        const size_t equals = line.find('=');
        const std::string where = path + ":" + std::to_string(number);
        if (equals == std::string::npos) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + ": expected `key = value`, got '" + line + "'");
        }
        CORUN_RETURN_IF_ERROR(apply_daemon_setting(config, trimmed(line.substr(0, equals)),
                                                   trimmed(line.substr(equals + 1)))
                                  .with_context(where));
    }
    return Status::ok();
}

std::string resolved_socket_path(const DaemonConfig& config) {
    return environment::resolve_service_socket(config.socket);
}

}  // namespace corun::service
