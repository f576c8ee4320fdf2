// `corun batch TASK... PATH... --db FILE`: runs detect, ocr, faces and vad over folder trees
// and file lists into a SQLite database, incrementally (only new or changed files) and
// resumably (a killed batch starts again where it stopped). docs/BATCH.md.
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli_support.hpp"
#include "cluster/batch_runner.hpp"
#include "cluster/batch_task.hpp"
#include "cluster/cluster_batch.hpp"
#include "cluster_options.hpp"
#include "commands.hpp"

namespace corun::tools {
namespace {

struct BatchCommandOptions {
    std::vector<std::string> arguments;  // TASK... PATH...
    cluster::BatchOptions batch;
    std::string models;
    bool json = false;
    bool no_progress = false;
    ServiceOptions service;
    ClusterConnectOptions connect;  // --cluster: publish to the workers instead of running here
    cluster::ClusterBatchOptions cluster;
};

// The leading arguments that name tasks are the tasks; the rest are paths.
void split_arguments(const std::vector<std::string>& arguments, cluster::BatchOptions& batch) {
    size_t i = 0;
    for (; i < arguments.size() && cluster::is_batch_task_name(arguments[i]); ++i) {
        batch.tasks.push_back(arguments[i]);
    }
    batch.paths.assign(arguments.begin() + static_cast<std::ptrdiff_t>(i), arguments.end());
}

size_t terminal_columns() {
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 40) return size.ws_col;
    return 80;
}

// Redraws the progress line on stderr a few times a second while the batch runs.
class ProgressTicker {
public:
    explicit ProgressTicker(const cluster::BatchProgress& progress) : progress_(progress) {
        thread_ = std::thread([this] {
            std::unique_lock lock(mutex_);
            while (!stopped_) {
                wake_.wait_for(lock, std::chrono::milliseconds(200));
                std::cerr << "\r" << progress_.line(terminal_columns()) << std::flush;
            }
            std::cerr << "\n";
        });
    }
    ~ProgressTicker() {
        {
            std::lock_guard lock(mutex_);
            stopped_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

private:
    const cluster::BatchProgress& progress_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopped_ = false;
    std::thread thread_;
};

Status run_batch_command(BatchCommandOptions& options) {
    cluster::BatchOptions batch = options.batch;
    split_arguments(options.arguments, batch);
    batch.models = model_cache_dir(options.models);
    apply_service_options(options.service, batch.vdevice);
    batch.command = {{"arguments", options.arguments},
                     {"db", batch.db},
                     {"files_from", batch.file_lists},
                     {"workers", batch.workers}};
    if (!options.connect.url.empty()) batch.command["cluster"] = options.connect.url;

    cluster::BatchProgress progress;
    Expected<cluster::BatchSummary> summary = Status(StatusCode::UNINITIALIZED, "");
    {
        std::unique_ptr<ProgressTicker> ticker;
        if (!options.no_progress && isatty(STDERR_FILENO)) {
            ticker = std::make_unique<ProgressTicker>(progress);
        }
        if (options.connect.url.empty()) {
            summary = cluster::run_batch(batch, std::cin, progress);
        } else {
            CORUN_TRY(options.cluster.nats, nats_connect_options(options.connect));
            summary = cluster::run_cluster_batch(batch, options.cluster, std::cin, progress);
        }
    }
    CORUN_RETURN_IF_ERROR(summary.status());
    if (options.json) {
        std::cout << summary->to_json().dump(2) << "\n";
    } else {
        std::cout << summary->to_text();
    }
    return Status::ok();
}

}  // namespace

void add_batch_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "batch",
        "Run tasks (detect, ocr, faces, vad) over folders and file lists into a SQLite "
        "database; reruns do only new or changed files");
    auto options = std::make_shared<BatchCommandOptions>();
    command->add_option("TASK_AND_PATH", options->arguments,
                        "Tasks (detect, ocr, faces with embeddings, vad), then files and folders "
                        "(searched recursively)");
    command->add_option("--db", options->batch.db, "SQLite database for the results (created)")
        ->required();
    command->add_option("--jsonl", options->batch.jsonl,
                        "Also append each result computed to this file, one JSON per line");
    command
        ->add_option("--files-from", options->batch.file_lists,
                     "File listing inputs, one path per line ('-' for stdin); repeatable")
        ->allow_extra_args(false);  // one list per --files-from: the paths after it stay paths
    command
        ->add_option("--max-input-bytes", options->batch.max_input_bytes,
                     "Larger inputs are recorded as too_large, unread (default 256 MiB; "
                     "suffixes KiB, MiB, GiB)")
        ->transform(CLI::AsSizeValue(false));
    command
        ->add_option("--workers", options->batch.workers,
                     "Inference lanes: inputs in flight on the device (default 2)")
        ->check(CLI::Range(1, 64));
    command
        ->add_option("--decoders", options->batch.decoders,
                     "Threads reading, hashing and decoding files (default 1)")
        ->check(CLI::Range(1, 64));
    command->add_flag("--rehash", options->batch.rehash,
                      "Read and hash every file, even one whose size and mtime are as recorded");
    command->add_flag("--json", options->json, "Print the summary as JSON for scripts");
    command->add_flag("--no-progress", options->no_progress,
                      "No progress bar (it is drawn only when stderr is a terminal)");
    command->add_option("--models", options->models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    add_service_options(*command, options->service);
    // Scale-out (docs/CLUSTER.md).
    add_cluster_connect_options(*command, options->connect, false);
    command
        ->add_option("--max-message-bytes", options->cluster.max_message_bytes,
                     "--cluster: inputs up to this size travel in the work message (default "
                     "1016 KiB, below the server's 1 MiB max_payload); larger ones go by path "
                     "under --shared-root, else are recorded as too_large")
        ->transform(CLI::AsSizeValue(false));
    command->add_option("--shared-root", options->cluster.shared_root,
                        "--cluster: a folder every worker sees at the same path (and takes as "
                        "--allowed-root): larger inputs under it are sent by path");
    command->callback([options] {
        const Status status = run_batch_command(*options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
