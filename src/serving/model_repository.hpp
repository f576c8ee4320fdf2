// The model repository: a folder in Triton's layout, one folder per model holding one folder
// per version, each with the model file, and an optional config.json beside the versions:
//
//   repository/
//     mobilefacenet/
//       config.json        (optional; docs/SERVING.md, "Model configuration")
//       1/model.onnx
//       2/model.onnx       (served: the highest version, unless config.json lists versions)
//
// This reads the folder and the configs; InferenceService loads what it resolves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corun/expected.hpp"

namespace corun::serving {

// What config.json may say; every key optional, an unknown key is an error (a typo must not
// pass silently).
struct ModelConfig {
    // The model file inside each version folder; "" = model.onnx, else model.gguf (an LLM).
    std::string file;
    uint32_t priority = 16;             // corun's scheduler priority 0..31 (NORMAL = 16)
    uint16_t batch_size = 0;            // frames per burst (1..256; 0 = corun picks)
    uint32_t latency_slo_ms = 0;        // every frame's deadline from being queued; 0 = none
    uint32_t instance_count = 1;        // configured copies per priority level (1..16)
    uint32_t max_queued_requests = 64;  // requests waiting or running; beyond: 429
    uint32_t frame_time_limit_ms = 0;   // a frame running longer is stopped (504); 0 = corun's
    std::vector<std::string> versions;  // versions to serve; empty = the highest only
    // A routed model (docs/ROUTER.md): the devices its frames may run on, in order of
    // preference ("npu-sim", "cpu"); empty = the shared device only, not routed.
    std::vector<std::string> placements;
    // A generative model (a .gguf file; genai::LLMParams): tokens the context holds (0 = the
    // model's, capped at 4096), prompt chunk size, engine threads (0 = corun picks).
    uint32_t context_size = 0;
    uint32_t prefill_chunk_tokens = 64;
    uint32_t threads = 0;
};

// What a model file is, by its name: ONNX (served with infer) or GGUF (an LLM, served with
// generate).
enum class ModelFileKind { ONNX, GGUF };
ModelFileKind model_file_kind(std::string_view path);

// Parses config.json's text; `label` names the file in errors.
Expected<ModelConfig> parse_model_config(std::string_view json_text, const std::string& label);

// True for names a repository folder may have and a URL may carry: letters, digits, '_', '-'
// and '.', not starting with '.', at most 128 bytes.
bool is_valid_model_name(std::string_view name);

struct ModelVersionFile {
    std::string version;  // the folder's number, as written ("1", "12")
    std::string path;     // the model file in it
};

// One model of the repository, resolved: its config and the versions to serve.
struct RepositoryModel {
    std::string name;
    ModelConfig config;
    std::vector<ModelVersionFile> versions;  // ascending; the last is the default
};

class ModelRepository {
public:
    explicit ModelRepository(std::string root) : root_(std::move(root)) {}

    const std::string& root() const { return root_; }

    // Every model folder's name, sorted (folders with names a model cannot have are skipped).
    Expected<std::vector<std::string>> model_names() const;

    // The model's config and version files; NOT_FOUND for a model the repository does not hold,
    // INVALID_ARGUMENT for a bad config, no version folder or a missing model file, each naming
    // the path.
    Expected<RepositoryModel> resolve(const std::string& name) const;

private:
    std::string root_;
};

}  // namespace corun::serving
