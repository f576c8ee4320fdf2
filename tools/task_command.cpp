#include "task_command.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "cli_support.hpp"

namespace corun::tools {
namespace {

// The options every task command has; a task's own live in the task.
struct TaskCommandOptions {
    std::string input;
    std::string models;  // the cache folder scripts/fetch_models.sh fills
    int repeat = 1;
    bool json = false;
    ServiceOptions service;
};

Expected<TaskTimings> run_timed(Task& task, int repeat) {
    StageTimes stages;
    // With --repeat, one untimed warm-up run first: ONNX Runtime's first run allocates, and a
    // task configures each new input shape once. A single run is shown as the first run.
    if (repeat > 1) CORUN_RETURN_IF_ERROR(task.run(stages));
    TaskTimings timings;
    for (int i = 0; i < repeat; ++i) {
        stages.clear();
        const auto start = std::chrono::steady_clock::now();
        CORUN_RETURN_IF_ERROR(task.run(stages));
        timings.add(elapsed_ms(start), stages);
    }
    return timings;
}

Status run_task_command(Task& task, const TaskCommandOptions& options,
                        const std::string& untimed_work) {
    // Missing models and a bad --repeat are reported before the input is read, so that a user
    // who has not run the fetch script hears about that first.
    CORUN_RETURN_IF_ERROR(task.find_models(model_cache_dir(options.models)));
    CORUN_CHECK(options.repeat >= 1, StatusCode::INVALID_ARGUMENT, "--repeat must be at least 1");
    CORUN_RETURN_IF_ERROR(task.read_input(options.input));
    VDeviceParams params;
    apply_service_options(options.service, params);
    CORUN_TRY(auto vdevice, VDevice::create_shared(params));
    CORUN_RETURN_IF_ERROR(task.create_models(vdevice));
    CORUN_TRY(const TaskTimings timings, run_timed(task, options.repeat));

    if (options.json) {
        nlohmann::json out = task.result_json(timings);
        out["latency"] = timings.to_json();
        std::cout << out.dump(2) << "\n";
    } else {
        task.print_result(std::cout);
        std::cout << timings.to_text(untimed_work);
    }
    return Status::ok();
}

}  // namespace

void add_task_command(CLI::App& app, const TaskCommandText& text, std::unique_ptr<Task> task) {
    auto* command = app.add_subcommand(text.name, text.description);
    // Shared with the callback, which lives as long as `app`: CLI11 writes the parsed values
    // into them.
    auto options = std::make_shared<TaskCommandOptions>();
    std::shared_ptr<Task> shared_task = std::move(task);
    command->add_option(text.input_name, options->input, text.input_help)->required();
    command->add_flag("--json", options->json, "Print JSON for scripts");
    shared_task->add_options(*command);
    command->add_option("--repeat", options->repeat,
                        "Run N times after a warm-up and report latency percentiles");
    command->add_option("--models", options->models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    add_service_options(*command, options->service);
    command->callback([options, shared_task, untimed_work = text.untimed_work] {
        const Status status = run_task_command(*shared_task, *options, untimed_work);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
