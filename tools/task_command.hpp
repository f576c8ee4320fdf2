// The skeleton of the task commands (`corun detect`, `faces`, `ocr`, `vad`): each one is a Task
// (its own options, models, input, one run and its result) that add_task_command turns into a
// subcommand. The parts every task command has are written here once: the input argument,
// --json, --repeat, --models and the service flags; the checks before any file is read; the
// untimed warm-up and the timed runs; the latency summary in text and in JSON.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "corun/corun.hpp"
#include "task_timings.hpp"

namespace CLI {
class App;
}

namespace corun::tools {

// What one task command does that the others do not. The skeleton calls, in this order:
// add_options (once, at start-up), then for a command line find_models, read_input,
// create_models, run (once untimed as a warm-up when --repeat > 1, then --repeat times timed),
// and result_json or print_result for the last run's result.
class Task {
public:
    virtual ~Task() = default;

    // The task's own options (thresholds, model files, ...), stored in the task.
    virtual void add_options(CLI::App& command) = 0;
    // Runs before any input is read: resolves the model files against `cache` (the folder
    // scripts/fetch_models.sh fills) and returns NOT_FOUND, naming the fetch script's entries,
    // for one that is missing.
    virtual Status find_models(const std::string& cache) = 0;
    // Reads and prepares the input file (decoding, resampling): not part of the timed runs.
    virtual Status read_input(const std::string& path) = 0;
    virtual Status create_models(const std::shared_ptr<VDevice>& vdevice) = 0;
    // One run on the input; keeps its result, replacing the previous run's. A task whose run
    // has parts worth timing apart records them in `stages`, in the order they run.
    virtual Status run(StageTimes& stages) = 0;

    // The result's JSON fields; the skeleton adds "latency". `timings` for a task that reports
    // a stage in more detail than the summary's p50.
    virtual nlohmann::json result_json(const TaskTimings& timings) const = 0;
    // The result as text, before the skeleton's latency line.
    virtual void print_result(std::ostream& out) const = 0;
};

// How a task command presents itself.
struct TaskCommandText {
    std::string name;          // "detect"
    std::string description;   // the help line
    std::string input_name;    // the positional argument: "image"
    std::string input_help;    // "Image file (JPEG, PNG, BMP, WebP, ...)"
    std::string untimed_work;  // what the latency leaves out: "file decoding"
};

void add_task_command(CLI::App& app, const TaskCommandText& text, std::unique_ptr<Task> task);

}  // namespace corun::tools
