// corund's settings: defaults, a config file of `key = value` lines, and command-line flags
// named after the same keys (--max-models-per-client for max_models_per_client). Flags win
// over the file, the file over the defaults.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "corun/status.hpp"

namespace corun::service {

// What one client (session) may hold at once; keeps one process from starving the others.
struct DaemonLimits {
    uint32_t max_models_per_client = 64;          // configured models (and loaded ones)
    uint32_t max_queued_frames_per_client = 256;  // frames queued or running
    uint64_t max_shm_bytes_per_client = uint64_t{4} << 30;
    uint64_t max_model_bytes = uint64_t{512} << 20;  // one LoadModel's ONNX bytes
    // Shared by every session of one user (uid), so that opening more sessions gains nothing:
    // threads its models make (intra-op threads per loaded model, scheduler workers per
    // session) and memory its models take at load (the daemon's peak growth while loading).
    uint32_t max_threads_per_client = 64;
    // The longest one frame may run; a client's own frame time limit is lowered to it.
    std::chrono::milliseconds max_frame_time_limit{60'000};
    uint64_t max_model_memory_per_client = uint64_t{4} << 30;
    // LLMs (LoadLlm): how many one session may hold, the context one may ask for (its KV cache
    // grows with it), and the largest GGUF file a client may send (kept in corund's memory
    // while the LLM is loaded).
    uint32_t max_llms_per_client = 2;
    uint32_t max_llm_context_tokens = 8192;
    uint64_t max_gguf_bytes = uint64_t{4} << 30;  // also bounds a Speech2Text model's file
    // Speech2Text models (LoadSpeech2Text) one session may hold.
    uint32_t max_speech_models_per_client = 2;
};

// Connections corund keeps open at once; beyond them a new one gets a refusal line naming the
// limit and is closed, so that idle connections can never exhaust the descriptor table.
struct ConnectionLimits {
    size_t max_connections = 1024;
    size_t max_connections_per_user = 128;
};

struct DaemonConfig {
    std::string socket;        // empty = $CORUN_SERVICE_SOCKET, else DEFAULT_SERVICE_SOCKET
    std::string socket_group;  // group that may connect (the socket is 0660); empty = ours
    std::string log_file;      // empty = console only
    std::string log_level = "info";
    DaemonLimits limits;
    ConnectionLimits connections;
};

struct DaemonSetting {
    std::string key;  // config-file key; the flag is "--" + key with '-' for '_'
    std::string help;
};
const std::vector<DaemonSetting>& daemon_settings();

// Sets `key` from its text; INVALID_ARGUMENT naming the key, the value and what is accepted.
// Sizes take a K, M or G suffix (KiB, MiB, GiB).
Status apply_daemon_setting(DaemonConfig& config, const std::string& key, const std::string& value);

// Reads `key = value` lines ('#' starts a comment) into `config`; errors name the line.
Status load_daemon_config_file(DaemonConfig& config, const std::string& path);

// The socket path this config listens on (the rule the clients use).
std::string resolved_socket_path(const DaemonConfig& config);

// The fix that ends a limit's error: "raise max_models_per_client (corund's config file, or
// --max-models-per-client)". Inline, so that request validation (fuzzed alone) can name it.
inline std::string how_to_raise(std::string key) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return "raise " + key + " (corund's config file, or " + flag + ")";
}

}  // namespace corun::service
