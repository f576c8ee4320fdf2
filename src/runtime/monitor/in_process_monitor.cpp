#include "service/monitor/in_process_monitor.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "corun_service.grpc.pb.h"
#include "service/monitor_socket.hpp"

namespace corun::service {
namespace {

namespace proto = corun::service::v1;
using Clock = std::chrono::steady_clock;

// Turns successive samples into the snapshot `corun monitor` shows: rates over the last second.
class SnapshotKeeper {
public:
    void update(const std::vector<GroupSample>& groups) {
        const auto now = Clock::now();
        proto::MonitorSnapshot snapshot;
        snapshot.set_source("process " + std::to_string(getpid()));
        snapshot.set_unix_time_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
        const double seconds =
            have_previous_ ? std::chrono::duration<double>(now - previous_time_).count() : 0;
        std::map<std::string, Counters> current;
        for (const auto& group : groups) {
            int64_t group_device_ns = 0;
            for (const auto& model : group.models) {
                const std::string key = group.group_id + "/" + std::to_string(model.model_id);
                current[key] = {model.frames_done, model.device_time_ns};
                const Counters before = previous_.count(key) ? previous_[key] : Counters{};
                const uint64_t frames = model.frames_done - before.frames;
                const int64_t device_ns = model.device_time_ns - before.device_ns;
                group_device_ns += device_ns;
                auto* entry = snapshot.add_models();
                entry->set_name(model.name);
                entry->set_pid(static_cast<uint32_t>(getpid()));
                entry->set_group_id(group.group_id);
                entry->set_model_id(model.model_id);
                entry->set_priority(model.priority);
                entry->set_fps(seconds > 0 ? frames / seconds : 0);
                entry->set_utilisation_percent(seconds > 0 ? 100.0 * device_ns / (seconds * 1e9)
                                                           : 0);
                entry->set_latency_p50_ms(model.latency_p50_ms);
                entry->set_latency_p95_ms(model.latency_p95_ms);
                entry->set_queue_capacity(model.queue_capacity);
                entry->set_frames_waiting_in(model.frames_queued);
                entry->set_results_waiting_out(0);  // in-process results go straight to callbacks
                entry->set_frames_done(model.frames_done);
            }
            for (const auto& device : group.devices) {
                auto* entry = snapshot.add_devices();
                entry->set_id(device.id);
                entry->set_kind(device.kind);
                entry->set_group_id(group.group_id);
                // Device time of the group's models over the time its slots had.
                const double capacity_ns = seconds * 1e9 * std::max(1u, group.slots);
                entry->set_utilisation_percent(
                    capacity_ns > 0 ? std::min(100.0, 100.0 * group_device_ns / capacity_ns) : 0);
            }
        }
        std::lock_guard lock(mutex_);
        previous_ = std::move(current);
        previous_time_ = now;
        have_previous_ = true;
        snapshot_ = std::move(snapshot);
    }

    proto::MonitorSnapshot latest() const {
        std::lock_guard lock(mutex_);
        return snapshot_;
    }

private:
    struct Counters {
        uint64_t frames = 0;
        int64_t device_ns = 0;
    };
    mutable std::mutex mutex_;
    proto::MonitorSnapshot snapshot_;
    std::map<std::string, Counters> previous_;
    Clock::time_point previous_time_;
    bool have_previous_ = false;
};

class MonitorOnlyService final : public proto::Corun::Service {
public:
    explicit MonitorOnlyService(std::shared_ptr<SnapshotKeeper> keeper)
        : keeper_(std::move(keeper)) {}

    grpc::Status Monitor(grpc::ServerContext*, const proto::MonitorRequest*,
                         proto::MonitorSnapshot* reply) override {
        *reply = keeper_->latest();
        return grpc::Status::OK;
    }

private:
    std::shared_ptr<SnapshotKeeper> keeper_;
};

std::string socket_path;

void remove_socket() {
    if (!socket_path.empty()) unlink(socket_path.c_str());
}

void start(GroupSampler sampler) {
    socket_path = in_process_monitor_socket(getpid());
    unlink(socket_path.c_str());  // a stale file from an earlier process with this PID
    auto keeper = std::make_shared<SnapshotKeeper>();
    // Lives as long as the process: the application never stops it, and tearing gRPC down
    // during static destruction is not safe.
    auto* service = new MonitorOnlyService(keeper);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
    builder.RegisterService(service);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 1);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
        std::fprintf(stderr,
                     "corun: CORUN_MONITOR=1 but the monitor socket %s could not be created; "
                     "set CORUN_MONITOR_DIR to a writable directory\n",
                     socket_path.c_str());
        return;
    }
    chmod(socket_path.c_str(), 0660);
    std::atexit(remove_socket);
    server.release();
    // Sampling starts on this thread, not the caller's: the caller may hold the group registry.
    std::thread([keeper, sampler = std::move(sampler)] {
        while (true) {
            keeper->update(sampler());
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }).detach();
}

}  // namespace

bool monitoring_requested() {
    const char* value = std::getenv("CORUN_MONITOR");
    return value != nullptr && std::string(value) == "1";
}

void start_in_process_monitor(GroupSampler sampler) {
    static std::once_flag started;
    std::call_once(started, [&] { start(std::move(sampler)); });
}

}  // namespace corun::service
