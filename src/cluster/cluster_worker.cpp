#include "cluster/cluster_worker.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "cluster/batch_task.hpp"
#include "cluster/cluster_layout.hpp"
#include "cluster/content_hash.hpp"
#include "cluster/input_decoding.hpp"
#include "cluster/task_results.hpp"
#include "cluster/work_message.hpp"

namespace corun::cluster {
namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "worker";
    return name;
}

// The items a lane holds and has not acknowledged: their leases are renewed until they are.
class LeaseKeeper {
public:
    void hold(natsMsg* message) {
        std::lock_guard lock(mutex_);
        held_.insert(message);
    }
    void release(natsMsg* message) {
        std::lock_guard lock(mutex_);
        held_.erase(message);
    }
    // "Still working on it" for every item held.
    void renew() {
        std::lock_guard lock(mutex_);
        for (natsMsg* message : held_) natsMsg_InProgress(message, nullptr);
    }

private:
    std::mutex mutex_;
    std::set<natsMsg*> held_;
};

// What to do with one message.
struct Handling {
    enum Kind { RESULT, REJECTED, HAND_BACK } kind = RESULT;
    TaskResult result;          // RESULT: published to its batch's results
    std::string batch;          // RESULT
    std::string model_version;  // RESULT: the version the submitter expects, in the result's id
    nlohmann::json reason;      // REJECTED: published to REJECTED_SUBJECT
};

class Worker {
public:
    Worker(const WorkerOptions& options, const std::atomic<bool>& stop)
        : options_(options), stop_(stop) {}

    Status start() {
        name_ = options_.name.empty() ? host_name() : options_.name;
        // The name is the node's key in the nodes bucket: NATS keys take these characters.
        const bool valid_name =
            !name_.empty() && name_.size() <= 64 &&
            std::all_of(name_.begin(), name_.end(),
                        [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                   c == '_' || c == '.';
                        }) &&
            name_.front() != '.' && name_.back() != '.';
        if (!valid_name) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "the node name '" + name_ +
                              "' is not 1 to 64 letters, digits, '-', '_' or inner '.'; give "
                              "--name");
        }
        for (const auto& name : batch_task_names()) {
            auto definition = define_batch_task(name, options_.models);
            if (definition.has_value()) {
                definitions_.emplace(name, std::move(*definition));
            } else {
                missing_[name] = definition.status().message();
            }
        }
        if (definitions_.empty()) {
            return Status(StatusCode::NOT_FOUND,
                          "this worker has the models of no task under '" + options_.models +
                              "'; run scripts/fetch_models.sh or give --models");
        }
        for (const auto& root : options_.allowed_roots) {
            char resolved[PATH_MAX];
            if (realpath(root.c_str(), resolved) == nullptr ||
                !std::filesystem::is_directory(resolved)) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "--allowed-root '" + root + "' is not a folder that exists");
            }
        }
        NatsConnectOptions nats = options_.nats;
        nats.reconnect_forever = true;
        if (nats.name.empty()) nats.name = "corun-worker " + name_;
        CORUN_TRY(client_, NatsClient::connect(nats));
        CORUN_TRY(ack_wait_ms_, work_ack_wait_ms(*client_));
        CORUN_TRY(vdevice_, VDevice::create_shared(options_.vdevice));
        started_ms_ = unix_ms();
        last_activity_ = Clock::now();
        return Status::ok();
    }

    WorkerSummary run() {
        std::thread leases([this] { renew_leases(); });
        std::thread heartbeat([this] { beat(); });
        std::vector<std::thread> lanes;
        for (int i = 0; i < options_.lanes; ++i) lanes.emplace_back([this] { run_lane(); });
        for (auto& lane : lanes) lane.join();
        {
            std::lock_guard lock(mutex_);
            finished_ = true;
        }
        wake_.notify_all();
        leases.join();
        heartbeat.join();
        std::lock_guard lock(mutex_);
        return summary_;
    }

private:
    bool idle_too_long() const {
        if (options_.exit_when_idle_ms <= 0) return false;
        std::lock_guard lock(mutex_);
        return Clock::now() - last_activity_ >
               std::chrono::milliseconds(options_.exit_when_idle_ms);
    }

    void run_lane() {
        std::unique_ptr<NatsPullSubscription> subscription;
        std::map<std::string, std::unique_ptr<BatchTask>> instances;
        while (!stop_ && !idle_too_long()) {
            if (!subscription) {
                auto bound = client_->bind_pull(WORK_STREAM, WORK_CONSUMER, WORK_SUBJECTS);
                if (!bound.has_value()) {
                    spdlog::warn("worker {}: {}", name_, bound.status().to_string());
                    std::this_thread::sleep_for(std::chrono::seconds(1));
                    continue;
                }
                subscription = std::move(*bound);
            }
            auto fetched = subscription->fetch(options_.prefetch, 500);
            if (!fetched.has_value()) {
                spdlog::warn("worker {}: {}", name_, fetched.status().to_string());
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
                continue;
            }
            if (fetched->empty()) continue;
            {
                std::lock_guard lock(mutex_);
                last_activity_ = Clock::now();
            }
            for (auto& message : *fetched) leases_.hold(message.get());
            for (auto& message : *fetched) {
                if (stop_) {
                    leases_.release(message.get());
                    natsMsg_Nak(message.get(), nullptr);
                    count_requeued();
                    continue;
                }
                handle(message.get(), instances);
                leases_.release(message.get());
            }
            std::lock_guard lock(mutex_);
            last_activity_ = Clock::now();
        }
    }

    void count_requeued() {
        std::lock_guard lock(mutex_);
        ++summary_.requeued;
    }

    void handle(natsMsg* message, std::map<std::string, std::unique_ptr<BatchTask>>& instances) {
        const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(message));
        const std::span<const uint8_t> bytes(data,
                                             static_cast<size_t>(natsMsg_GetDataLength(message)));
        Handling handling = decide(bytes, instances, times_delivered(message));
        if (handling.kind == Handling::HAND_BACK) {
            leases_.release(message);
            natsMsg_NakWithDelay(message, 5000, nullptr);
            count_requeued();
            return;
        }
        Status published;
        if (handling.kind == Handling::REJECTED) {
            handling.reason["node"] = name_;
            handling.reason["subject"] = natsMsg_GetSubject(message);
            const std::string text = handling.reason.dump();
            published =
                client_
                    ->publish(REJECTED_SUBJECT,
                              std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                              "")
                    .status();
        } else {
            handling.result.node = name_;
            nlohmann::json json = to_json(handling.result);
            json["batch"] = handling.batch;
            const std::string text = json.dump();
            published =
                client_
                    ->publish(results_subject(handling.batch),
                              std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                              item_message_id(handling.batch, handling.result.content_hash,
                                              handling.result.task, handling.model_version))
                    .status();
        }
        if (!published.is_ok()) {
            // Not stored: the item goes back (or, the link being down, its lease runs out) and
            // is done again; a result that was stored after all is deduplicated by its id.
            spdlog::warn("worker {}: {}; the item goes back to the queue", name_,
                         published.to_string());
            leases_.release(message);
            natsMsg_Nak(message, nullptr);
            count_requeued();
            return;
        }
        // Out of the renewals first: the message is never acknowledged and renewed at once.
        leases_.release(message);
        const Status acked = ack_message(message);
        std::lock_guard lock(mutex_);
        if (!acked.is_ok()) {
            // The server will give it out again; its result is stored already (deduplicated).
            spdlog::warn("worker {}: {}", name_, acked.to_string());
            ++summary_.requeued;
            return;
        }
        ++summary_.done;
        const bool refused = handling.kind == Handling::REJECTED ||
                             handling.result.error_kind == input_error::REFUSED;
        if (refused) ++summary_.refused;
        if (refused || !handling.result.ok()) ++summary_.errors;
    }

    // How often the server has given this message out, this time included (1 when unknown).
    static uint64_t times_delivered(natsMsg* message) {
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, message) != NATS_OK || meta == nullptr) return 1;
        const uint64_t delivered = meta->NumDelivered;
        jsMsgMetaData_Destroy(meta);
        return delivered;
    }

    Handling decide(std::span<const uint8_t> data,
                    std::map<std::string, std::unique_ptr<BatchTask>>& instances,
                    uint64_t delivered) {
        Handling handling;
        WorkMessageError error;
        auto parsed = parse_work_message(data, error);
        if (!parsed.has_value() && error.batch.empty()) {
            handling.kind = Handling::REJECTED;
            handling.reason = {{"error", error.reason}};
            return handling;
        }
        handling.batch = error.batch;
        auto refuse = [&](const std::string& task, const std::string& reason) {
            TaskDefinition unknown{task, batch_task_input_kind(task), "", {}, ""};
            const auto known = definitions_.find(task);
            const TaskDefinition& definition =
                known != definitions_.end() ? known->second : unknown;
            handling.result = error_task_result(
                error.content_hash, error.path, parsed.has_value() ? parsed->size : 0, definition,
                input_error::REFUSED, "worker " + name_ + " refused the item: " + reason);
            return handling;
        };
        if (!parsed.has_value()) return refuse(error.task, error.reason);
        const WorkMessage& item = *parsed;
        handling.model_version = item.model_version;
        if (!is_batch_task_name(item.task)) {
            return refuse(item.task,
                          "'" + item.task + "' is not a task it knows (detect, ocr, faces, vad)");
        }
        const auto found = definitions_.find(item.task);
        if (found == definitions_.end()) {
            // Another node may have the models: hand the item back rather than fail it.
            spdlog::warn("worker {}: an item of task {} came, and this node lacks its models ({})",
                         name_, item.task, missing_[item.task]);
            handling.kind = Handling::HAND_BACK;
            return handling;
        }
        const TaskDefinition& task = found->second;
        if (options_.max_deliveries > 0 && delivered > options_.max_deliveries) {
            handling.result = error_task_result(
                item.content_hash, item.path, item.size, task, input_error::ABANDONED,
                "given out " + std::to_string(delivered) + " times without a result (more than " +
                    "--max-deliveries " + std::to_string(options_.max_deliveries) +
                    "): every worker holding it died or lost its link first, as an input that "
                    "crashes the worker makes it happen; not run again (a changed file is a new "
                    "item)");
            spdlog::warn("worker {}: an item of task {} ('{}') was abandoned after {} deliveries",
                         name_, item.task, item.path, delivered);
            return handling;
        }

        std::vector<uint8_t> file_bytes;
        std::span<const uint8_t> bytes = item.bytes;
        if (!item.inline_bytes) {
            if (options_.allowed_roots.empty()) {
                return refuse(item.task, "the item names a path ('" + item.path +
                                             "') and this worker was given no --allowed-root");
            }
            auto real = resolve_allowed_path(item.path, options_.allowed_roots);
            if (!real.has_value()) return refuse(item.task, real.status().message());
            std::error_code size_error;
            const uint64_t size = std::filesystem::file_size(*real, size_error);
            if (size_error || size > options_.max_input_bytes) {
                handling.result = error_task_result(
                    item.content_hash, item.path, item.size, task,
                    size_error ? input_error::UNREADABLE : input_error::TOO_LARGE,
                    size_error ? "'" + item.path + "' cannot be read on worker " + name_ + ": " +
                                     size_error.message()
                               : "'" + item.path + "' is larger than the worker's limit");
                return handling;
            }
            file_bytes.resize(size);
            std::ifstream file(*real, std::ios::binary);
            file.read(reinterpret_cast<char*>(file_bytes.data()),
                      static_cast<std::streamsize>(size));
            if (!file || static_cast<uint64_t>(file.gcount()) != size) {
                handling.result = error_task_result(
                    item.content_hash, item.path, item.size, task, input_error::UNREADABLE,
                    "'" + item.path + "' cannot be read on worker " + name_);
                return handling;
            }
            bytes = file_bytes;
        }
        if (sha256_hex(bytes) != item.content_hash) {
            if (!item.inline_bytes) {
                handling.result = error_task_result(
                    item.content_hash, item.path, item.size, task, input_error::UNREADABLE,
                    "'" + item.path +
                        "' changed after the batch was submitted (its bytes are "
                        "not those hashed); run the batch again");
                return handling;
            }
            return refuse(item.task,
                          "the message's bytes do not have the content hash it announces");
        }
        const InputKind kind = input_kind_of_bytes(bytes);
        if (kind != task.kind) {
            handling.result =
                not_for_task_result(item.content_hash, item.path, item.size, kind, task);
            return handling;
        }
        const auto start = Clock::now();
        DecodeOutcome decoded = decode_input(bytes, kind, item.path);
        const double decode_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (!decoded.ok()) {
            handling.result = error_task_result(item.content_hash, item.path, item.size, task,
                                                decoded.error_kind.c_str(), decoded.error);
            handling.result.times.decode_ms = decode_ms;
            return handling;
        }
        auto& instance = instances[item.task];
        if (!instance) {
            std::lock_guard lock(load_mutex_);
            auto created = create_batch_task(task, vdevice_);
            if (!created.has_value()) {
                spdlog::error("worker {}: cannot load the {} task's models: {}", name_, item.task,
                              created.status().to_string());
                handling.kind = Handling::HAND_BACK;
                return handling;
            }
            instance = std::move(*created);
        }
        handling.result = run_task_on_input(*instance, task, decoded.input, item.content_hash,
                                            item.path, item.size, decode_ms);
        return handling;
    }

    // Renews the leases of held items at a third of the AckWait, so an item that waits behind
    // others of its fetch, or runs long, is not given to another node meanwhile.
    void renew_leases() {
        const auto period = std::chrono::milliseconds(std::max<int64_t>(ack_wait_ms_ / 3, 100));
        std::unique_lock lock(mutex_);
        while (!finished_) {
            wake_.wait_for(lock, period);
            if (finished_) break;
            lock.unlock();
            leases_.renew();
            lock.lock();
        }
    }

    void beat() {
        kvStore* nodes = nullptr;
        std::deque<std::pair<Clock::time_point, uint64_t>> samples;
        std::unique_lock lock(mutex_);
        while (!finished_) {
            const WorkerSummary now = summary_;
            lock.unlock();
            if (nodes == nullptr &&
                js_KeyValue(&nodes, client_->jetstream(), NODES_BUCKET) != NATS_OK) {
                nodes = nullptr;
            }
            const auto time = Clock::now();
            samples.emplace_back(time, now.done);
            while (samples.size() > 1 && time - samples.front().first > std::chrono::seconds(10)) {
                samples.pop_front();
            }
            const double window =
                std::chrono::duration<double>(time - samples.front().first).count();
            const double rate =
                window > 0 ? static_cast<double>(now.done - samples.front().second) / window : 0.0;
            nlohmann::json beat{{"name", name_},
                                {"host", host_name()},
                                {"pid", getpid()},
                                {"lanes", options_.lanes},
                                {"done", now.done},
                                {"errors", now.errors},
                                {"refused", now.refused},
                                {"requeued", now.requeued},
                                {"rate_per_s", rate},
                                {"started_ms", started_ms_},
                                {"last_seen_ms", unix_ms()}};
            nlohmann::json tasks = nlohmann::json::array();
            for (const auto& [task, definition] : definitions_) tasks.push_back(task);
            beat["tasks"] = tasks;
            if (nodes != nullptr) {
                const std::string text = beat.dump();
                uint64_t revision = 0;
                kvStore_Put(&revision, nodes, name_.c_str(), text.data(),
                            static_cast<int>(text.size()));
            }
            lock.lock();
            wake_.wait_for(lock, std::chrono::seconds(2));
        }
        lock.unlock();
        if (nodes != nullptr) kvStore_Destroy(nodes);
    }

    const WorkerOptions& options_;
    const std::atomic<bool>& stop_;
    std::string name_;
    std::map<std::string, TaskDefinition> definitions_;
    std::map<std::string, std::string> missing_;
    std::unique_ptr<NatsClient> client_;
    std::shared_ptr<VDevice> vdevice_;
    int64_t ack_wait_ms_ = 30000;
    int64_t started_ms_ = 0;
    LeaseKeeper leases_;
    std::mutex load_mutex_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool finished_ = false;
    Clock::time_point last_activity_;
    WorkerSummary summary_;
};

}  // namespace

nlohmann::json WorkerSummary::to_json() const {
    return {{"done", done}, {"errors", errors}, {"refused", refused}, {"requeued", requeued}};
}

Expected<std::string> resolve_allowed_path(const std::string& path,
                                           const std::vector<std::string>& roots) {
    std::string listed;
    for (const auto& root : roots) listed += (listed.empty() ? "'" : ", '") + root + "'";
    const std::string outside = "'" + path + "' is not inside the allowed roots (" + listed + ")";
    if (path.empty() || path[0] != '/') {
        return Status(StatusCode::INVALID_ARGUMENT, "'" + path + "' is not an absolute path");
    }
    for (const auto& part : std::filesystem::path(path)) {
        if (part == "..") {
            return Status(StatusCode::INVALID_ARGUMENT, "'" + path + "' holds '..'");
        }
    }
    char resolved[PATH_MAX];
    if (realpath(path.c_str(), resolved) == nullptr) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + path + "' does not exist on this worker, or " + outside);
    }
    const std::string real = resolved;
    for (const auto& root : roots) {
        char root_resolved[PATH_MAX];
        if (realpath(root.c_str(), root_resolved) == nullptr) continue;
        std::string prefix = root_resolved;
        if (prefix.back() != '/') prefix += '/';
        if (real.rfind(prefix, 0) == 0) return real;
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  outside + (real != path ? " (it resolves to '" + real + "')" : ""));
}

Expected<WorkerSummary> run_worker(const WorkerOptions& options, const std::atomic<bool>& stop) {
    CORUN_CHECK(options.lanes >= 1 && options.lanes <= 64, StatusCode::INVALID_ARGUMENT,
                "--lanes must be 1 to 64");
    CORUN_CHECK(options.prefetch >= 1 && options.prefetch <= 256, StatusCode::INVALID_ARGUMENT,
                "--prefetch must be 1 to 256");
    Worker worker(options, stop);
    CORUN_RETURN_IF_ERROR(worker.start());
    return worker.run();
}

}  // namespace corun::cluster
