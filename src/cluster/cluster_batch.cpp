#include "cluster/cluster_batch.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "cluster/batch_task.hpp"
#include "cluster/content_hash.hpp"
#include "cluster/input_scan.hpp"
#include "cluster/result_store.hpp"
#include "cluster/task_results.hpp"
#include "cluster/work_message.hpp"

namespace corun::cluster {
namespace {

constexpr const char* BATCH_META_KEY = "cluster_batch";

std::string random_batch_id() {
    std::random_device device;
    std::uniform_int_distribution<uint64_t> draw;
    static const char* const DIGITS = "0123456789abcdef";
    std::string id;
    for (uint64_t value = draw(device), i = 0; i < 16; ++i, value >>= 4) id += DIGITS[value & 15];
    return id;
}

// The tasks as this machine knows them: with their model versions when the models are here
// (a rerun then redoes results of another version), else by name only (any version counts).
Expected<std::vector<TaskDefinition>> submitter_tasks(const BatchOptions& options) {
    std::vector<TaskDefinition> tasks;
    for (const auto& name : options.tasks) {
        auto definition = define_batch_task(name, options.models);
        if (definition.has_value()) {
            tasks.push_back(std::move(*definition));
        } else if (definition.status().code() == StatusCode::NOT_FOUND) {
            tasks.push_back(TaskDefinition{name, batch_task_input_kind(name), "", {}, ""});
        } else {
            return definition.status();
        }
    }
    return tasks;
}

class ClusterSubmitter {
public:
    ClusterSubmitter(const BatchOptions& options, const ClusterBatchOptions& cluster,
                     std::vector<TaskDefinition> tasks, ResultStore& store, NatsClient& client,
                     std::string batch, BatchProgress& progress, BatchSummary& summary)
        : options_(options),
          cluster_(cluster),
          tasks_(std::move(tasks)),
          store_(store),
          client_(client),
          batch_(std::move(batch)),
          progress_(progress),
          summary_(summary) {}

    Status run(const std::vector<std::string>& paths,
               std::unordered_map<std::string, FileRecord> files,
               std::unordered_map<std::string, std::string> done, int64_t run) {
        run_ = run;
        files_ = std::move(files);
        done_ = std::move(done);
        if (!options_.jsonl.empty()) {
            jsonl_.open(options_.jsonl, std::ios::app);
            if (!jsonl_) {
                return Status(StatusCode::OPEN_FILE_FAILURE,
                              "cannot open '" + options_.jsonl + "' (--jsonl) for appending");
            }
        }
        CORUN_TRY(auto subscription, client_.bind_pull(RESULTS_STREAM, results_consumer(batch_),
                                                       results_subject(batch_)));
        std::thread consumer([this, &subscription] { consume_results(*subscription); });
        Status published = Status::ok();
        for (const auto& path : paths) {
            published = submit(path);
            if (!published.is_ok() || failed()) break;
        }
        {
            std::unique_lock lock(mutex_);
            all_published_ = true;
            if (!published.is_ok() && fatal_.is_ok()) fatal_ = published;
            changed_.notify_all();
            changed_.wait(lock, [this] { return outstanding_.empty() || !fatal_.is_ok(); });
            stopping_ = true;
        }
        consumer.join();
        std::lock_guard lock(mutex_);
        summary_.cluster = {{"batch", batch_},
                            {"server", client_.url()},
                            {"published", published_},
                            {"already_queued", already_queued_},
                            {"by_path", by_path_},
                            {"results_received", received_},
                            {"duplicates_dropped", duplicates_},
                            {"nodes", nodes_}};
        return fatal_;
    }

private:
    bool failed() {
        std::lock_guard lock(mutex_);
        return !fatal_.is_ok();
    }

    bool is_done(const std::string& hash, const TaskDefinition& task) const {
        const auto found = done_.find(result_key(hash, task.name));
        return found != done_.end() &&
               (task.model_version.empty() || found->second == task.model_version);
    }

    std::vector<const TaskDefinition*> applicable(InputKind kind) const {
        return tasks_for_input(tasks_, kind);
    }

    // Stores rows computed here (bad inputs) with the path's record, and counts them.
    Status store_local(const FileOutcome& outcome, bool input_finished) {
        {
            std::lock_guard lock(store_mutex_);
            CORUN_RETURN_IF_ERROR(store_.store(outcome, run_));
            for (const auto& result : outcome.results) {
                if (jsonl_.is_open()) jsonl_ << to_json(result).dump() << "\n";
            }
            if (jsonl_.is_open()) jsonl_.flush();
        }
        std::lock_guard lock(mutex_);
        bool bad = false;
        for (const auto& result : outcome.results) {
            count_row(result);
            bad = bad || !result.ok();
            done_[result_key(result.content_hash, result.task)] = result.model_version;
        }
        if (input_finished) {
            if (!outcome.results.empty()) ++summary_.processed;
            if (bad) ++summary_.bad;
            progress_.input_done(!outcome.results.empty(), bad);
        } else if (bad) {
            bad_paths_.insert(outcome.path);
        }
        return Status::ok();
    }

    void count_row(const TaskResult& result) {
        ++summary_.results;
        ++summary_.tasks[result.task];
        if (!result.ok()) ++summary_.errors[result.error_kind];
    }

    Status record_unread(const std::string& path, uint64_t size, const char* kind,
                         const std::string& message) {
        FileOutcome outcome{path, std::nullopt, {}};
        for (const auto& task : tasks_) {
            outcome.results.push_back(
                error_task_result(unread_input_key(path), path, size, task, kind, message));
        }
        return store_local(outcome, true);
    }

    Status submit(const std::string& path) {
        struct stat info {};
        if (stat(path.c_str(), &info) != 0) {
            const int error = errno;
            return record_unread(path, 0, input_error::UNREADABLE,
                                 "'" + path + "' cannot be read: " + std::strerror(error));
        }
        if (!S_ISREG(info.st_mode)) {
            return record_unread(path, 0, input_error::UNREADABLE,
                                 "'" + path + "' is not a regular file");
        }
        const auto size = static_cast<uint64_t>(info.st_size);
        const int64_t mtime_ns =
            int64_t(info.st_mtim.tv_sec) * 1000000000 + int64_t(info.st_mtim.tv_nsec);
        if (size > options_.max_input_bytes) {
            return record_unread(
                path, size, input_error::TOO_LARGE,
                "'" + path + "' has " + std::to_string(size) + " bytes, above --max-input-bytes " +
                    std::to_string(options_.max_input_bytes) + "; raise the limit to process it");
        }
        const bool by_path = size > cluster_.max_message_bytes;
        if (by_path) {
            const std::string root =
                cluster_.shared_root.empty()
                    ? ""
                    : std::filesystem::path(cluster_.shared_root).lexically_normal().string();
            const std::string prefix = root.empty() || root.back() == '/' ? root : root + "/";
            if (root.empty() || path.rfind(prefix, 0) != 0) {
                return record_unread(
                    path, size, input_error::TOO_LARGE,
                    "'" + path + "' has " + std::to_string(size) +
                        " bytes, above --max-message-bytes " +
                        std::to_string(cluster_.max_message_bytes) +
                        (root.empty() ? "; give --shared-root DIR (a folder every worker mounts "
                                        "at the same path and takes as --allowed-root) to send "
                                        "it by path"
                                      : "; it is not under --shared-root '" + root +
                                            "', so it cannot go by path") +
                        ", or raise --max-message-bytes (below the server's max_payload)");
            }
        }

        const auto known = files_.find(path);
        if (!options_.rehash && known != files_.end() && known->second.size == size &&
            known->second.mtime_ns == mtime_ns) {
            bool all_done = true;
            {
                std::lock_guard lock(mutex_);
                for (const TaskDefinition* task : applicable(known->second.kind)) {
                    all_done = all_done && is_done(known->second.content_hash, *task);
                }
            }
            if (all_done) {
                ++summary_.unchanged;
                progress_.input_done(false, false);
                return Status::ok();
            }
        }

        std::vector<uint8_t> bytes(size);
        {
            std::ifstream file(path, std::ios::binary);
            if (file) {
                file.read(reinterpret_cast<char*>(bytes.data()),
                          static_cast<std::streamsize>(size));
            }
            if (!file || static_cast<uint64_t>(file.gcount()) != size) {
                const int error = errno;
                return record_unread(path, size, input_error::UNREADABLE,
                                     "'" + path + "' cannot be read: " + std::strerror(error));
            }
        }
        const std::string hash = sha256_hex(bytes);
        const InputKind kind = input_kind_of_bytes(bytes);
        const FileRecord record{hash, size, mtime_ns, kind};
        FileOutcome local{path, record, {}};
        std::vector<const TaskDefinition*> remote;
        {
            std::lock_guard lock(mutex_);
            for (const TaskDefinition* task : applicable(kind)) {
                const std::string key = result_key(hash, task->name);
                if (is_done(hash, *task) || outstanding_.count(key) > 0) continue;
                if (task->kind != kind) {
                    local.results.push_back(not_for_task_result(hash, path, size, kind, *task));
                } else {
                    remote.push_back(task);
                    outstanding_[key] = path;
                }
            }
            remaining_[path] += remote.size();
        }
        if (local.results.empty() && remote.empty()) {
            ++summary_.unchanged;
            const bool recorded_as_is =
                known != files_.end() && known->second.content_hash == hash &&
                known->second.size == size && known->second.mtime_ns == mtime_ns;
            if (recorded_as_is) {
                progress_.input_done(false, false);
                return Status::ok();
            }
            return store_local(local, true);
        }
        // The path's record now (a resumed submitter then finds the file known), with the rows
        // computed here; the workers' rows follow.
        CORUN_RETURN_IF_ERROR(store_local(local, remote.empty()));
        for (const TaskDefinition* task : remote) {
            WorkMessage item;
            item.batch = batch_;
            item.task = task->name;
            item.content_hash = hash;
            item.path = path;
            item.size = size;
            item.kind = kind;
            item.model_version = task->model_version;
            item.inline_bytes = !by_path;
            if (item.inline_bytes) item.bytes = bytes;
            const std::vector<uint8_t> data = encode_work_message(item);
            CORUN_TRY(const bool duplicate,
                      client_.publish(
                          work_subject(batch_), data,
                          item_message_id(batch_, hash, task->name, task->model_version), 10000));
            std::lock_guard lock(mutex_);
            ++published_;
            if (duplicate) ++already_queued_;
            if (by_path) ++by_path_;
        }
        return Status::ok();
    }

    void fail(Status status) {
        std::lock_guard lock(mutex_);
        if (fatal_.is_ok()) fatal_ = std::move(status);
        changed_.notify_all();
    }

    void consume_results(NatsPullSubscription& subscription) {
        while (true) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_ || !fatal_.is_ok()) return;
            }
            auto fetched = subscription.fetch(16, 500);
            if (!fetched.has_value()) {
                spdlog::warn("batch {}: {}", batch_, fetched.status().to_string());
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
                continue;
            }
            for (auto& message : *fetched) {
                const Status taken = take_result(message.get());
                if (!taken.is_ok()) {
                    fail(taken);
                    return;
                }
                // Acknowledged once stored: a result lost before that comes again.
                const Status acked = ack_message(message.get());
                if (!acked.is_ok()) spdlog::warn("batch {}: {}", batch_, acked.to_string());
            }
        }
    }

    Status take_result(natsMsg* message) {
        const char* data = natsMsg_GetData(message);
        const int length = natsMsg_GetDataLength(message);
        Expected<TaskResult> result = Status(StatusCode::INVALID_ARGUMENT, "not JSON");
        try {
            const auto json = nlohmann::json::parse(data, data + length);
            result = task_result_from_json(json);
        } catch (const nlohmann::json::exception& error) {
            result = Status(StatusCode::INVALID_ARGUMENT, error.what());
        }
        std::unique_lock lock(mutex_);
        ++received_;
        if (!result.has_value()) {
            spdlog::warn(
                "batch {}: a message on its results subject is not a result ({}); "
                "dropped",
                batch_, result.status().message());
            ++duplicates_;
            return Status::ok();
        }
        const std::string key = result_key(result->content_hash, result->task);
        if (outstanding_.count(key) == 0 && done_.count(key) > 0) {
            ++duplicates_;  // a result already stored (a redelivered item past the window)
            return Status::ok();
        }
        // Done from now on: the publisher, meeting the same input meanwhile, does not queue it.
        done_[key] = result->model_version;
        lock.unlock();
        {
            std::lock_guard store_lock(store_mutex_);
            CORUN_RETURN_IF_ERROR(
                store_.store(FileOutcome{result->path, std::nullopt, {*result}}, run_));
            if (jsonl_.is_open()) jsonl_ << to_json(*result).dump() << "\n" << std::flush;
        }
        lock.lock();
        count_row(*result);
        ++nodes_[result->node.empty() ? "?" : result->node];
        // Outstanding now, or published while it was being stored.
        const auto pending = outstanding_.find(key);
        if (pending != outstanding_.end()) {
            const std::string path = pending->second;
            outstanding_.erase(pending);
            if (!result->ok()) bad_paths_.insert(path);
            if (--remaining_[path] == 0) {
                const bool bad = bad_paths_.count(path) > 0;
                ++summary_.processed;
                if (bad) ++summary_.bad;
                progress_.input_done(true, bad);
            }
        }
        if (all_published_ && outstanding_.empty()) changed_.notify_all();
        return Status::ok();
    }

    const BatchOptions& options_;
    const ClusterBatchOptions& cluster_;
    const std::vector<TaskDefinition> tasks_;
    ResultStore& store_;
    NatsClient& client_;
    const std::string batch_;
    BatchProgress& progress_;
    BatchSummary& summary_;
    int64_t run_ = 0;
    std::unordered_map<std::string, FileRecord> files_;
    std::ofstream jsonl_;
    std::mutex store_mutex_;

    std::mutex mutex_;  // what follows, and summary_'s counts
    std::condition_variable changed_;
    std::unordered_map<std::string, std::string> done_;         // result_key -> model version
    std::unordered_map<std::string, std::string> outstanding_;  // result_key -> path
    std::unordered_map<std::string, size_t> remaining_;         // path -> items outstanding
    std::set<std::string> bad_paths_;
    std::map<std::string, size_t> nodes_;
    bool all_published_ = false;
    bool stopping_ = false;
    Status fatal_;
    size_t published_ = 0;
    size_t already_queued_ = 0;
    size_t by_path_ = 0;
    size_t received_ = 0;
    size_t duplicates_ = 0;
};

}  // namespace

Expected<BatchSummary> run_cluster_batch(const BatchOptions& options,
                                         const ClusterBatchOptions& cluster,
                                         std::istream& standard_input, BatchProgress& progress) {
    CORUN_RETURN_IF_ERROR(check_batch_options(options));
    CORUN_CHECK(cluster.max_message_bytes >= 1 && cluster.max_message_bytes <= 64ull * 1024 * 1024,
                StatusCode::INVALID_ARGUMENT, "--max-message-bytes must be 1 byte to 64 MiB");
    CORUN_TRY(auto tasks, submitter_tasks(options));
    std::set<InputKind> kinds;
    for (const auto& task : tasks) kinds.insert(task.kind);
    CORUN_TRY(InputScan scan,
              scan_inputs(options.paths, options.file_lists, kinds, standard_input));
    CORUN_TRY(auto store, ResultStore::open(options.db));
    CORUN_TRY(auto files, store->files());
    CORUN_TRY(auto done, store->done_results());
    CORUN_TRY(std::string batch, store->meta_value(BATCH_META_KEY));
    if (batch.empty()) {
        batch = random_batch_id();
        CORUN_RETURN_IF_ERROR(store->set_meta_value(BATCH_META_KEY, batch));
    }
    NatsConnectOptions nats = cluster.nats;
    if (nats.name.empty()) nats.name = "corun batch " + batch;
    CORUN_TRY(auto client, NatsClient::connect(nats));
    CORUN_TRY(const auto layout, ensure_cluster_layout(*client, ClusterSettings{}));
    (void)layout;
    CORUN_RETURN_IF_ERROR(ensure_results_consumer(*client, batch));

    BatchSummary summary;
    summary.inputs = scan.paths.size();
    summary.other_files = scan.other_files;
    summary.warnings = scan.warnings;
    CORUN_TRY(summary.run_id, store->begin_run(options.command));
    progress.start(scan.paths.size());
    ClusterSubmitter submitter(options, cluster, std::move(tasks), *store, *client, batch, progress,
                               summary);
    const Status status =
        submitter.run(scan.paths, std::move(files), std::move(done), summary.run_id);
    summary.seconds = progress.elapsed_s();
    CORUN_RETURN_IF_ERROR(status);
    CORUN_RETURN_IF_ERROR(store->finish_run(summary.run_id, summary.to_json()));
    return summary;
}

}  // namespace corun::cluster
