// VDevice: a virtual device over one or more physical devices, with one scheduler that every
// model configured on it shares. Same semantics as HailoRT's hailort::VDevice, plus:
// within a process, every VDevice with the same group_id is the same device (no "out of
// physical devices" for a second module that asks for it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun {

class InferModel;
class DeviceGroup;  // what every VDevice handle of one group shares
namespace runtime {
struct ApiAccess;
}

// HailoRT's HAILO_SCHEDULING_ALGORITHM_*.
enum class SchedulingAlgorithm {
    NONE,         // no scheduler: jobs run in arrival order, one model at a time
    ROUND_ROBIN,  // the model scheduler (default)
};

constexpr const char* DEFAULT_GROUP_ID = "SHARED";  // HailoRT's HAILO_DEFAULT_VDEVICE_GROUP_ID
constexpr const char* DEFAULT_SERVICE_SOCKET = "/run/corun/corund.sock";

struct CpuDeviceParams {
    // ONNX Runtime intra-op threads per inference; 0 = ORT's default (as a bare session's).
    uint32_t intra_op_threads = 0;
    // How many inferences may run on the CPU at once (each with intra_op_threads threads).
    // 0 (the default) with intra_op_threads 0: the device shares its cores by itself. A frame
    // alone runs on every core; frames that run at the same time run on one core each (one
    // slot per core); a model above normal priority gets every core at once, on a latency slot
    // of its own, by stopping the others' frames and running them again after it
    // (docs/SCHEDULER.md, "Sharing the CPU"). 0 with an explicit thread count: one slot per core.
    uint32_t execution_slots = 0;
    // Each model runs on an ONNX Runtime pool of its own (intra_op_threads threads, or ORT's
    // default count). spin_wait: its threads spin up to 200 us for work before they sleep,
    // which saves a wake-up between a frame's parallel sections and leaves the cores to the
    // frames beside it soon after its frame ends; off, they sleep at once (docs/PERFORMANCE.md).
    bool spin_wait = true;
    // Slots beyond execution_slots that only models with a priority above normal (> 16) may
    // use: such a model then never waits for a busy slot, at the cost of sharing cores with
    // the running inferences while it runs (docs/SCHEDULER.md, "Sharing the CPU"). With
    // automatic sharing, 0 means one.
    uint32_t latency_slots = 0;
};

struct NpuSimDeviceParams {
    // The timing profile (JSON; docs/SCHEDULER.md). Empty = $CORUN_NPU_SIM_PROFILE.
    std::string profile_path;
    // The profile's text itself; when set, profile_path is not read. With the service, the
    // client reads profile_path and sends this: corund never opens a path a client names.
    std::string profile_json;
    // true: outputs are the real model's, computed on the CPU while the simulated device time
    // runs; false: outputs are zero-filled (timing only, no CPU load).
    bool compute_outputs = true;
};

// How the model scheduler shares a device (beyond HailoRT; docs/SCHEDULER.md).
struct SchedulerParams {
    // Among ready models of the top priority, the one that used the least device time runs
    // next; off = round robin by turns (equal frames, not equal time).
    bool fair_device_time = true;
    // A waiting model gains one priority level per aging_step of waiting (0 = strict priority).
    std::chrono::milliseconds aging_step{250};
    // A freed slot holds its decision up to this long for the next frame of a model whose
    // client sends it from the completion of its last (run() in a loop), when that model could
    // win the slot: fairness then holds whichever thread the OS runs first (docs/SCHEDULER.md,
    // "Anticipation"). 0 = decide at once; at most MAX_ANTICIPATION.
    std::chrono::microseconds anticipation{250};
};
inline constexpr std::chrono::microseconds MAX_ANTICIPATION{10000};

struct VDeviceParams {
    // Physical devices by id ("cpu:0"). Empty = `device_count` devices of the default kind.
    std::vector<std::string> device_ids;
    uint32_t device_count = 1;
    SchedulingAlgorithm scheduling_algorithm = SchedulingAlgorithm::ROUND_ROBIN;
    // VDevices that share a group_id share devices and scheduler: within a process, and with
    // multi_process_service across every process using the same service.
    std::string group_id = DEFAULT_GROUP_ID;
    // true: the devices and the scheduler live in the corund service, shared by every process
    // that connects to it (docs/SERVICE.md); the API is used exactly as in-process.
    bool multi_process_service = false;
    // The service's Unix socket. Empty = $CORUN_SERVICE_SOCKET, else DEFAULT_SERVICE_SOCKET.
    std::string service_socket;
    // Who may be listening on that socket: before sending anything, the client checks that the
    // process at the other end runs as root, as this user (a name or a uid), or as the client's
    // own user. Empty = root, the client's own user, or the user `corun` if it exists (the
    // systemd unit's). Another user's listener (a socket swapped in by someone else) is refused.
    std::string service_user;
    // Frames of a synchronous run() go through shared memory (the fast lane) rather than the
    // session stream. Unset = on, unless $CORUN_SERVICE_FAST_LANE is "0".
    std::optional<bool> service_fast_lane;
    // Lets `corun monitor --pid PID` watch this process's in-process groups (a socket in
    // monitor_dir, answered from a sampling thread of its own). Unset = $CORUN_MONITOR == "1".
    std::optional<bool> monitor;
    // Where that socket is made. Empty = $CORUN_MONITOR_DIR, else /tmp.
    std::string monitor_dir;
    CpuDeviceParams cpu;
    NpuSimDeviceParams npu_sim;
    SchedulerParams scheduler;
};

// What the scheduler has done for one configured model (run2, benchmark, monitor).
struct ScheduledModelStats {
    uint64_t model_id = 0;  // ConfiguredInferModel::scheduler_model_id()
    std::string name;       // the model's name (file stem)
    uint32_t priority = 16;
    uint64_t frames_done = 0;
    int64_t device_time_ns = 0;  // time the device spent on its frames
    uint64_t switches = 0;       // times a device slot switched to it from another model
    uint32_t frames_queued = 0;
    uint32_t frames_running = 0;
    uint32_t queue_capacity = 0;  // async queue size (2 x batch size)
    double latency_p50_ms = 0;    // queue + execution of recent frames (up to the last 128)
    double latency_p95_ms = 0;
    // The most bursts of other models that went ahead while one of its frames waited (from
    // queueing, threshold waits included): 0 means none of its frames was ever overtaken, what
    // a top priority with threshold 1 promises (docs/SCHEDULER.md).
    uint64_t max_overtaken_by = 0;
    // Deadlines (corun; docs/SCHEDULER.md, "Deadlines"): the SLO, and what became of frames
    // that had a deadline (the SLO's or their job's own).
    double latency_slo_ms = 0;            // 0 = none
    uint64_t deadline_admitted = 0;       // admitted to the queue
    uint64_t deadline_refused = 0;        // refused at admission: predicted to finish late
    uint64_t deadline_dropped = 0;        // admitted, then dropped before running: late in queue
    uint64_t deadline_finished_late = 0;  // ran, and completed after their deadline
    uint64_t deadline_met = 0;            // ran, and completed by their deadline
    // The latency predicted now for a frame of this model (ConfiguredInferModel::
    // predicted_latency); -1 before a frame of it has run.
    double predicted_latency_ms = -1;
};

// One physical device as `corun scan` lists it.
struct DeviceDescription {
    std::string id;            // "cpu:0"
    std::string kind;          // "cpu"
    std::string architecture;  // "x86_64 (ONNX Runtime 1.29.0, CPU execution provider)"
    uint32_t cores = 0;
    uint32_t threads = 0;
    std::string status;  // "available", ...
};

class VDevice {
public:
    // A handle to the group named by params.group_id, creating it if no handle in this process
    // holds it. Two handles of one group share devices and scheduler; the group lives until
    // the last handle, model and configured model that uses it is gone.
    static Expected<std::unique_ptr<VDevice>> create(const VDeviceParams& params = {});
    // As create(), but the same group_id returns the same VDevice object while it lives.
    static Expected<std::shared_ptr<VDevice>> create_shared(const VDeviceParams& params = {});

    // Every physical device that the registered device kinds can see.
    static Expected<std::vector<DeviceDescription>> scan();

    ~VDevice();
    VDevice(const VDevice&) = delete;
    VDevice& operator=(const VDevice&) = delete;

    // An InferModel from an ONNX file, or from the bytes of one (`name` labels it in messages).
    Expected<std::shared_ptr<InferModel>> create_infer_model(const std::string& onnx_path);
    Expected<std::shared_ptr<InferModel>> create_infer_model(std::span<const uint8_t> onnx_bytes,
                                                             const std::string& name = "model");

    const VDeviceParams& params() const;
    const std::string& group_id() const;
    std::vector<DeviceDescription> physical_devices() const;
    // Per configured model, what the group's scheduler has run so far.
    std::vector<ScheduledModelStats> get_scheduler_stats() const;
    // True when both handles drive the same devices through the same scheduler.
    bool shares_devices_with(const VDevice& other) const;

private:
    friend struct runtime::ApiAccess;
    explicit VDevice(std::shared_ptr<DeviceGroup> group);
    std::shared_ptr<DeviceGroup> group_;
};

}  // namespace corun
