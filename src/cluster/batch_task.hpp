// The tasks a batch runs on each input (detect, ocr, faces, vad): the same task pipelines and
// default options as `corun detect/ocr/faces/vad`, so a batch finds what those commands find,
// with results in the same JSON fields (less the input's path, which the store keeps).
//
// A TaskDefinition is resolved once per batch (model files found, their version hashed); a
// BatchTask is one instance of its models on a VDevice, used by one thread at a time. The batch
// runs several instances of a task on one shared VDevice so that several inputs are in flight.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/input_decoding.hpp"
#include "cluster/work_item.hpp"
#include "corun/corun.hpp"
#include "tasks/stage_timing.hpp"

namespace corun::cluster {

struct TaskDefinition {
    std::string name;  // "detect"
    InputKind kind = InputKind::IMAGE;
    std::string model;                     // "nanodet"
    std::vector<std::string> model_files;  // every file that decides the results
    std::string model_version;             // the first 16 hex digits of their SHA-256
};

// What one run of a task on one input found.
struct TaskOutput {
    nlohmann::json result;
    std::vector<std::vector<float>> embeddings;  // faces
    std::optional<tasks::StageTiming> timing;    // absent when the task does not split it
    nlohmann::json stages;                       // a task's own stage times (OCR), or null
};

class BatchTask {
public:
    virtual ~BatchTask() = default;
    // `input` is of the definition's kind.
    virtual Expected<TaskOutput> run(const DecodedInput& input) = 0;
};

// "detect", "ocr", "faces", "vad".
const std::vector<std::string>& batch_task_names();
bool is_batch_task_name(const std::string& name);
// The kind of input a task takes (vad: audio; the others: images), without its models.
InputKind batch_task_input_kind(const std::string& name);

// Finds the task's model files under `cache` (the folder scripts/fetch_models.sh fills) and
// hashes them. INVALID_ARGUMENT naming the known tasks for an unknown name; NOT_FOUND naming the
// missing files and the fetch script's entries.
Expected<TaskDefinition> define_batch_task(const std::string& name, const std::string& cache);
// The tasks that apply to an input of `kind`: those of its kind, or, when none is, every
// requested task (each then records why the input is not for it).
std::vector<const TaskDefinition*> tasks_for_input(const std::vector<TaskDefinition>& tasks,
                                                   InputKind kind);

// Loads the task's models on `vdevice`.
Expected<std::unique_ptr<BatchTask>> create_batch_task(const TaskDefinition& definition,
                                                       const std::shared_ptr<VDevice>& vdevice);

// One per file (detect_batch_task.cpp, ...), called by create_batch_task.
Expected<std::unique_ptr<BatchTask>> create_detect_batch_task(
    const TaskDefinition& definition, const std::shared_ptr<VDevice>& vdevice);
Expected<std::unique_ptr<BatchTask>> create_ocr_batch_task(const TaskDefinition& definition,
                                                           const std::shared_ptr<VDevice>& vdevice);
Expected<std::unique_ptr<BatchTask>> create_faces_batch_task(
    const TaskDefinition& definition, const std::shared_ptr<VDevice>& vdevice);
Expected<std::unique_ptr<BatchTask>> create_vad_batch_task(const TaskDefinition& definition,
                                                           const std::shared_ptr<VDevice>& vdevice);

// `value` rounded to `digits` decimals, as the task commands print it (cli_support's rounded).
double rounded_value(double value, int digits);
// [x1, y1, x2, y2] to a tenth of a pixel.
nlohmann::json box_json(float x1, float y1, float x2, float y2);

}  // namespace corun::cluster
