// What a batch is made of, apart from where it runs: an input (a file, keyed by the SHA-256 of
// its bytes) and, per task, one result or the reason the input could not be done. `corun batch`
// produces these on one machine; the NATS workers of issue 16 item 2 carry the same items and
// results as JSON (to_json / from_json below) and store them with the same ResultStore.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corun/expected.hpp"

namespace corun::cluster {

// What a file holds, as far as the tasks care.
enum class InputKind { UNKNOWN, IMAGE, AUDIO };
const char* input_kind_name(InputKind kind);  // "unknown", "image", "audio"
InputKind input_kind_from_name(const std::string& name);
// From the file name alone (folder scans take only these): .jpg .jpeg .png .bmp .webp .pbm .pgm
// .ppm .pnm .tif .tiff are images, .wav is audio, case-insensitively.
InputKind input_kind_of_extension(const std::string& path);
// From the first bytes: an image when tasks::read_image_header knows the format (even with a
// damaged header), audio for RIFF/WAVE, else UNKNOWN.
InputKind input_kind_of_bytes(std::span<const uint8_t> bytes);

// Why an input has no result for a task. Recorded in the results' error_kind column.
namespace input_error {
inline constexpr const char* UNREADABLE = "unreadable";      // missing, no permission, I/O error
inline constexpr const char* TOO_LARGE = "too_large";        // bytes or pixels above a limit
inline constexpr const char* NOT_AN_IMAGE = "not_an_image";  // an image task, bytes of no format
inline constexpr const char* NOT_AUDIO = "not_audio";        // an audio task, bytes of no WAV
inline constexpr const char* WRONG_KIND = "wrong_kind";      // audio given to an image task ...
inline constexpr const char* DAMAGED = "damaged";            // truncated or corrupt data
inline constexpr const char* TASK_FAILED = "task_failed";    // the model or its pipeline failed
// A cluster worker refused the item: a task it does not know, a path outside its allowed roots,
// a malformed message (docs/CLUSTER.md). Nothing of it ran.
inline constexpr const char* REFUSED = "refused";
// A cluster item given out more often than the worker's --max-deliveries without a result: each
// worker holding it died or lost its link first, as an input that crashes the worker makes it
// happen. It is not run again, so that one such input cannot keep a batch from ending.
inline constexpr const char* ABANDONED = "abandoned";
}  // namespace input_error

// Inputs whose bytes could not be read have no content hash; their results are keyed by this
// instead, and a rerun tries them again.
std::string unread_input_key(const std::string& path);
bool is_unread_input_key(const std::string& key);

// One file to do: what a submitter hands out.
struct WorkItem {
    std::string path;
    std::string content_hash;  // "" until the bytes were read
    uint64_t size = 0;
    InputKind kind = InputKind::UNKNOWN;
    std::vector<std::string> tasks;
};
nlohmann::json to_json(const WorkItem& item);
Expected<WorkItem> work_item_from_json(const nlohmann::json& json);

// Milliseconds spent on one input and task. The decode is the file's (shared by the tasks run
// on it); pre / infer / post are absent for a task that does not time them apart (OCR, whose
// three models report their own stages in TaskResult::stages).
struct TaskTimes {
    double decode_ms = 0.0;
    std::optional<double> pre_ms;
    std::optional<double> infer_ms;
    std::optional<double> post_ms;
    double total_ms = 0.0;  // the task's wall time, decode not included
};

// One input and one task: a result, or the reason there is none.
struct TaskResult {
    std::string content_hash;  // or unread_input_key(path)
    std::string path;          // where the input was found (the same bytes may lie elsewhere too)
    uint64_t size = 0;
    std::string task;
    std::string model;          // "nanodet"
    std::string model_version;  // the SHA-256 prefix of the model files
    std::string error_kind;     // "" for a result; else one of input_error
    std::string error;          // the message: what was wrong and what to do
    TaskTimes times;
    nlohmann::json result;                       // the task's findings (null on error)
    nlohmann::json stages;                       // a task's own stage times, or null
    std::vector<std::vector<float>> embeddings;  // faces: one float32 vector per face
    std::string node;  // the cluster worker that computed it; "" = this machine (corun batch)

    bool ok() const { return error_kind.empty(); }
};
// With the embeddings as arrays of numbers (JSONL, messages); the database keeps them as BLOBs.
nlohmann::json to_json(const TaskResult& result);
Expected<TaskResult> task_result_from_json(const nlohmann::json& json);

}  // namespace corun::cluster
