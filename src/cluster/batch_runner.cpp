#include "cluster/batch_runner.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cluster/batch_task.hpp"
#include "cluster/bounded_queue.hpp"
#include "cluster/content_hash.hpp"
#include "cluster/input_decoding.hpp"
#include "cluster/input_scan.hpp"
#include "cluster/result_store.hpp"
#include "cluster/task_results.hpp"

namespace corun::cluster {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A file on its way from a reader to an inference lane: its bytes decoded, the tasks still to
// run on them, and the error results the reader already knows.
struct PreparedInput {
    std::string path;
    std::optional<FileRecord> file;
    std::vector<const TaskDefinition*> pending;
    DecodedInput input;
    double decode_ms = 0.0;
    std::vector<TaskResult> results;
};

// Which results the store holds or this run has taken on, so that a result is computed once:
// two paths with the same bytes are done once, by whichever reader meets them first.
class ResultClaims {
public:
    explicit ResultClaims(std::unordered_map<std::string, std::string> done)
        : done_(std::move(done)) {}

    // True when the caller is to compute it (it was neither stored with this model version nor
    // claimed by another reader).
    bool claim(const std::string& content_hash, const TaskDefinition& task) {
        const std::string key = result_key(content_hash, task.name);
        std::lock_guard lock(mutex_);
        auto found = done_.find(key);
        if (found != done_.end() && found->second == task.model_version) return false;
        done_[key] = task.model_version;
        return true;
    }

    bool is_done(const std::string& content_hash, const TaskDefinition& task) {
        std::lock_guard lock(mutex_);
        auto found = done_.find(result_key(content_hash, task.name));
        return found != done_.end() && found->second == task.model_version;
    }

private:
    std::mutex mutex_;
    std::unordered_map<std::string, std::string> done_;
};

class BatchPipeline {
public:
    BatchPipeline(const BatchOptions& options, std::vector<TaskDefinition> tasks,
                  std::vector<std::string> paths, std::unordered_map<std::string, FileRecord> files,
                  std::unordered_map<std::string, std::string> done, ResultStore& store,
                  int64_t run, BatchProgress& progress, BatchSummary& summary)
        : options_(options),
          tasks_(std::move(tasks)),
          paths_(std::move(paths)),
          files_(std::move(files)),
          claims_(std::move(done)),
          store_(store),
          run_(run),
          progress_(progress),
          summary_(summary),
          decoded_(static_cast<size_t>(options.workers) * 2),
          outcomes_(static_cast<size_t>(options.workers) * 4 + 16) {}

    Status run(const std::shared_ptr<VDevice>& vdevice) {
        vdevice_ = vdevice;
        if (!options_.jsonl.empty()) {
            jsonl_.open(options_.jsonl, std::ios::app);
            if (!jsonl_) {
                return Status(StatusCode::OPEN_FILE_FAILURE,
                              "cannot open '" + options_.jsonl + "' (--jsonl) for appending");
            }
        }
        std::thread writer([this] { write_outcomes(); });
        std::vector<std::thread> lanes;
        for (int i = 0; i < options_.workers; ++i) lanes.emplace_back([this] { run_lane(); });
        std::vector<std::thread> readers;
        for (int i = 0; i < options_.decoders; ++i) readers.emplace_back([this] { read_inputs(); });
        for (auto& reader : readers) reader.join();
        decoded_.close();
        for (auto& lane : lanes) lane.join();
        outcomes_.close();
        writer.join();
        std::lock_guard lock(fatal_mutex_);
        return fatal_;
    }

private:
    void fail(Status status) {
        std::lock_guard lock(fatal_mutex_);
        if (fatal_.is_ok()) fatal_ = std::move(status);
        stopping_ = true;
        decoded_.close();
        outcomes_.close();
    }

    std::vector<const TaskDefinition*> applicable(InputKind kind) const {
        return tasks_for_input(tasks_, kind);
    }

    void read_inputs() {
        while (!stopping_) {
            const size_t index = next_input_.fetch_add(1);
            if (index >= paths_.size()) return;
            read_input(paths_[index]);
        }
    }

    // Every requested task gets the same error row, keyed by the path (no bytes, no hash).
    void record_unread(const std::string& path, uint64_t size, const char* kind,
                       const std::string& message) {
        FileOutcome outcome{path, std::nullopt, {}};
        for (const auto& task : tasks_) {
            outcome.results.push_back(
                error_task_result(unread_input_key(path), path, size, task, kind, message));
        }
        outcomes_.push(std::move(outcome));
    }

    void read_input(const std::string& path) {
        struct stat info {};
        if (stat(path.c_str(), &info) != 0) {
            const int error = errno;
            record_unread(path, 0, input_error::UNREADABLE,
                          "'" + path + "' cannot be read: " + std::strerror(error));
            return;
        }
        if (!S_ISREG(info.st_mode)) {
            record_unread(path, 0, input_error::UNREADABLE, "'" + path + "' is not a regular file");
            return;
        }
        const auto size = static_cast<uint64_t>(info.st_size);
        const int64_t mtime_ns =
            int64_t(info.st_mtim.tv_sec) * 1000000000 + int64_t(info.st_mtim.tv_nsec);
        if (size > options_.max_input_bytes) {
            record_unread(
                path, size, input_error::TOO_LARGE,
                "'" + path + "' has " + std::to_string(size) + " bytes, above --max-input-bytes " +
                    std::to_string(options_.max_input_bytes) + "; raise the limit to process it");
            return;
        }

        // The fast path: a file whose size and mtime are as recorded keeps its recorded hash.
        const auto known = files_.find(path);
        if (!options_.rehash && known != files_.end() && known->second.size == size &&
            known->second.mtime_ns == mtime_ns) {
            bool all_done = true;
            for (const TaskDefinition* task : applicable(known->second.kind)) {
                all_done = all_done && claims_.is_done(known->second.content_hash, *task);
            }
            if (all_done) {
                unchanged_.fetch_add(1);
                progress_.input_done(false, false);
                return;
            }
        }

        std::vector<uint8_t> bytes(size);
        {
            std::ifstream file(path, std::ios::binary);
            if (file)
                file.read(reinterpret_cast<char*>(bytes.data()),
                          static_cast<std::streamsize>(size));
            if (!file || static_cast<uint64_t>(file.gcount()) != size) {
                const int error = errno;
                record_unread(path, size, input_error::UNREADABLE,
                              "'" + path + "' cannot be read: " + std::strerror(error));
                return;
            }
        }
        PreparedInput prepared;
        prepared.path = path;
        const std::string hash = sha256_hex(bytes);
        const InputKind kind = input_kind_of_bytes(bytes);
        prepared.file = FileRecord{hash, size, mtime_ns, kind};
        const auto tasks = applicable(kind);
        for (const TaskDefinition* task : tasks) {
            if (claims_.claim(hash, *task)) prepared.pending.push_back(task);
        }
        const bool recorded_as_is = known != files_.end() && known->second.content_hash == hash &&
                                    known->second.size == size &&
                                    known->second.mtime_ns == mtime_ns;
        if (prepared.pending.empty()) {
            // Done before (same bytes at another path, or a file touched but not changed): only
            // the path's record changes.
            unchanged_.fetch_add(1);
            if (recorded_as_is) {
                progress_.input_done(false, false);
            } else {
                outcomes_.push(FileOutcome{path, prepared.file, {}});
            }
            return;
        }

        // Tasks of another kind than the bytes: each says why (the input is not for it).
        std::vector<const TaskDefinition*> runnable;
        for (const TaskDefinition* task : prepared.pending) {
            if (task->kind == kind) {
                runnable.push_back(task);
            } else {
                prepared.results.push_back(not_for_task_result(hash, path, size, kind, *task));
            }
        }
        if (!runnable.empty()) {
            const auto start = Clock::now();
            DecodeOutcome decoded = decode_input(bytes, kind, path);
            prepared.decode_ms = ms_since(start);
            if (decoded.ok()) {
                prepared.input = std::move(decoded.input);
            } else {
                for (const TaskDefinition* task : runnable) {
                    prepared.results.push_back(error_task_result(
                        hash, path, size, *task, decoded.error_kind.c_str(), decoded.error));
                }
                runnable.clear();
            }
        }
        prepared.pending = std::move(runnable);
        if (prepared.pending.empty()) {
            outcomes_.push(FileOutcome{path, prepared.file, std::move(prepared.results)});
            return;
        }
        decoded_.push(std::move(prepared));
    }

    // A lane loads its instance of every task's models when its first input arrives, so a
    // rerun with nothing to do loads none. (The model files were found and hashed before the
    // batch started; a model that then fails to load stops the batch.)
    Status load_lane(std::vector<std::unique_ptr<BatchTask>>& lane) {
        std::lock_guard lock(load_mutex_);  // one model load at a time: their peaks add up
        for (const auto& task : tasks_) {
            CORUN_TRY(auto instance, create_batch_task(task, vdevice_));
            lane.push_back(std::move(instance));
        }
        return Status::ok();
    }

    void run_lane() {
        std::vector<std::unique_ptr<BatchTask>> lane;
        while (auto prepared = decoded_.pop()) {
            if (lane.empty()) {
                const Status loaded = load_lane(lane);
                if (!loaded.is_ok()) {
                    fail(loaded);
                    return;
                }
            }
            FileOutcome outcome{prepared->path, prepared->file, std::move(prepared->results)};
            for (const TaskDefinition* task : prepared->pending) {
                const size_t index = static_cast<size_t>(task - tasks_.data());
                outcome.results.push_back(run_task_on_input(
                    *lane[index], *task, prepared->input, prepared->file->content_hash,
                    prepared->path, prepared->file->size, prepared->decode_ms));
            }
            if (!outcomes_.push(std::move(outcome))) return;
        }
    }

    void write_outcomes() {
        while (auto outcome = outcomes_.pop()) {
            const Status stored = store_.store(*outcome, run_);
            if (!stored.is_ok()) {
                fail(stored);
                return;
            }
            bool bad = false;
            for (const auto& result : outcome->results) {
                ++summary_.results;
                ++summary_.tasks[result.task];
                if (!result.ok()) {
                    ++summary_.errors[result.error_kind];
                    bad = true;
                }
                if (jsonl_.is_open()) jsonl_ << to_json(result).dump() << "\n";
            }
            if (jsonl_.is_open()) jsonl_.flush();
            const bool processed = !outcome->results.empty();
            if (processed) ++summary_.processed;
            if (bad) ++summary_.bad;
            progress_.input_done(processed, bad);
        }
    }

public:
    size_t unchanged() const { return unchanged_.load(); }

private:
    const BatchOptions& options_;
    const std::vector<TaskDefinition> tasks_;
    const std::vector<std::string> paths_;
    const std::unordered_map<std::string, FileRecord> files_;
    ResultClaims claims_;
    ResultStore& store_;
    const int64_t run_;
    BatchProgress& progress_;
    BatchSummary& summary_;  // the writer thread's, until run() returns
    BoundedQueue<PreparedInput> decoded_;
    BoundedQueue<FileOutcome> outcomes_;
    std::atomic<size_t> next_input_{0};
    std::atomic<size_t> unchanged_{0};
    std::atomic<bool> stopping_{false};
    std::shared_ptr<VDevice> vdevice_;
    std::mutex load_mutex_;
    std::ofstream jsonl_;
    std::mutex fatal_mutex_;
    Status fatal_;
};

}  // namespace

Status check_batch_options(const BatchOptions& options) {
    CORUN_CHECK(!options.tasks.empty(), StatusCode::INVALID_ARGUMENT,
                "no task given; name one or more of detect, ocr, faces, vad before the paths "
                "(corun batch detect photos/ --db photos.db)");
    std::set<std::string> seen;
    for (const auto& task : options.tasks) {
        CORUN_CHECK(is_batch_task_name(task), StatusCode::INVALID_ARGUMENT,
                    "unknown task '" + task + "'; the batch tasks are detect, ocr, faces, vad");
        CORUN_CHECK(seen.insert(task).second, StatusCode::INVALID_ARGUMENT,
                    "task '" + task + "' is given twice");
    }
    CORUN_CHECK(!options.paths.empty() || !options.file_lists.empty(), StatusCode::INVALID_ARGUMENT,
                "no input given; name files or folders after the tasks, or use --files-from");
    CORUN_CHECK(!options.db.empty(), StatusCode::INVALID_ARGUMENT,
                "--db FILE is required: the SQLite database the results go to");
    CORUN_CHECK(options.workers >= 1 && options.workers <= 64, StatusCode::INVALID_ARGUMENT,
                "--workers must be 1 to 64");
    CORUN_CHECK(options.decoders >= 1 && options.decoders <= 64, StatusCode::INVALID_ARGUMENT,
                "--decoders must be 1 to 64");
    CORUN_CHECK(options.max_input_bytes >= 1, StatusCode::INVALID_ARGUMENT,
                "--max-input-bytes must be at least 1");
    return Status::ok();
}

nlohmann::json BatchSummary::to_json() const {
    nlohmann::json json{
        {"run_id", run_id},
        {"inputs", inputs},
        {"processed", processed},
        {"unchanged", unchanged},
        {"bad", bad},
        {"results", results},
        {"other_files", other_files},
        {"errors", errors},
        {"tasks", tasks},
        {"seconds", seconds},
        {"inputs_per_s", seconds > 0 ? static_cast<double>(processed) / seconds : 0.0},
        {"warnings", warnings}};
    if (!cluster.is_null()) json["cluster"] = cluster;
    return json;
}

std::string BatchSummary::to_text() const {
    std::ostringstream out;
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.1f", seconds > 0 ? processed / seconds : 0.0);
    out << "batch run " << run_id << ": " << inputs << " inputs: " << processed << " processed, "
        << unchanged << " unchanged (done before), " << bad << " with errors; " << results
        << " results written in " << duration_text(seconds) << " (" << rate << " inputs/s)\n";
    for (const auto& [task, count] : tasks) out << "  " << task << ": " << count << " rows\n";
    for (const auto& [kind, count] : errors) out << "  errors " << kind << ": " << count << "\n";
    if (other_files > 0) {
        out << "  " << other_files << " files under the folders are of no requested task's kind\n";
    }
    for (const auto& warning : warnings) out << "  warning: " << warning << "\n";
    return out.str();
}

Expected<BatchSummary> run_batch(const BatchOptions& options, std::istream& standard_input,
                                 BatchProgress& progress) {
    CORUN_RETURN_IF_ERROR(check_batch_options(options));
    std::vector<TaskDefinition> tasks;
    std::set<InputKind> kinds;
    for (const auto& name : options.tasks) {
        CORUN_TRY(auto task, define_batch_task(name, options.models));
        kinds.insert(task.kind);
        tasks.push_back(std::move(task));
    }
    CORUN_TRY(InputScan scan,
              scan_inputs(options.paths, options.file_lists, kinds, standard_input));
    CORUN_TRY(auto store, ResultStore::open(options.db));
    CORUN_TRY(auto files, store->files());
    CORUN_TRY(auto done, store->done_results());
    CORUN_TRY(auto vdevice, VDevice::create_shared(options.vdevice));

    BatchSummary summary;
    summary.inputs = scan.paths.size();
    summary.other_files = scan.other_files;
    summary.warnings = scan.warnings;
    CORUN_TRY(summary.run_id, store->begin_run(options.command));
    progress.start(scan.paths.size());
    BatchPipeline pipeline(options, std::move(tasks), std::move(scan.paths), std::move(files),
                           std::move(done), *store, summary.run_id, progress, summary);
    const Status status = pipeline.run(vdevice);
    summary.unchanged = pipeline.unchanged();
    summary.seconds = progress.elapsed_s();
    CORUN_RETURN_IF_ERROR(status);
    CORUN_RETURN_IF_ERROR(store->finish_run(summary.run_id, summary.to_json()));
    return summary;
}

}  // namespace corun::cluster
