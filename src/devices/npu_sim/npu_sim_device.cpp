#include "devices/npu_sim/npu_sim_device.hpp"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "devices/cpu/cpu_device.hpp"
#include "devices/npu_sim/npu_sim_fault_injection.hpp"
#include "devices/npu_sim/npu_timing_model.hpp"

namespace corun::devices::npu_sim {
namespace {

using Clock = std::chrono::steady_clock;

// What the device itself holds: one active context at a time.
struct NpuContext {
    std::mutex mutex;  // one burst at a time, as on a single-context NPU
    const void* active_model = nullptr;
    NpuTimingModel profile;
    bool compute_outputs = true;
    std::string group_id;  // where a test's injected faults find this device
};

class NpuSimLoadedModel final : public LoadedModel {
public:
    NpuSimLoadedModel(std::shared_ptr<NpuContext> context, std::shared_ptr<LoadedModel> on_cpu,
                      ModelTiming timing)
        : context_(std::move(context)), on_cpu_(std::move(on_cpu)), timing_(timing) {}

    const std::vector<DeclaredTensor>& declared_inputs() const override {
        return on_cpu_->declared_inputs();
    }
    const std::vector<DeclaredTensor>& declared_outputs() const override {
        return on_cpu_->declared_outputs();
    }

    Status execute(const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs,
                   std::span<const FrameBuffers> frames) override {
        return execute(inputs, outputs, frames, FrameLimits{});
    }

    // The simulated device time is the profile's, so bounded; the outputs computed on the CPU
    // meanwhile are bounded by `limits`.
    Status execute(const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs,
                   std::span<const FrameBuffers> frames, const FrameLimits& limits) override {
        std::lock_guard lock(context_->mutex);
        CORUN_RETURN_IF_ERROR(test_double::NpuSimFaultInjection::before_burst(context_->group_id));
        const auto start = Clock::now();
        std::chrono::nanoseconds busy = timing_.burst(static_cast<uint32_t>(frames.size()));
        if (context_->active_model != this) {
            busy += context_->profile.context_switch;
            context_->active_model = this;
        }
        Status status;
        if (context_->compute_outputs) {
            status = on_cpu_->execute(inputs, outputs, frames, limits);
        } else {
            for (const auto& frame : frames) {
                for (size_t i = 0; i < outputs.size(); ++i) {
                    std::memset(frame.outputs[i], 0, outputs[i].byte_size());
                }
            }
        }
        std::this_thread::sleep_until(start + busy);
        return status;
    }

    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<TensorSpec>& inputs) override {
        return on_cpu_->infer_output_dims(inputs);
    }
    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<TensorSpec>& inputs, const FrameLimits& limits) override {
        return on_cpu_->infer_output_dims(inputs, limits);
    }

private:
    std::shared_ptr<NpuContext> context_;
    std::shared_ptr<LoadedModel> on_cpu_;
    ModelTiming timing_;
};

DeviceDescription describe_npu_sim(const std::string& id, bool compute_outputs) {
    DeviceDescription description;
    description.id = id;
    description.kind = "npu-sim";
    description.architecture =
        std::string("simulated single-context NPU (timing from a profile; ") +
        (compute_outputs ? "outputs computed on the CPU)" : "outputs zero-filled)");
    description.cores = 1;
    description.threads = 1;
    description.status = "available";
    return description;
}

class NpuSimDevice final : public Device {
public:
    NpuSimDevice(std::string id, std::shared_ptr<NpuContext> context, std::shared_ptr<Device> cpu)
        : id_(std::move(id)), context_(std::move(context)), cpu_(std::move(cpu)) {}

    DeviceDescription describe() const override {
        return describe_npu_sim(id_, context_->compute_outputs);
    }
    uint32_t execution_slots() const override { return 1; }

    Expected<std::shared_ptr<LoadedModel>> load_model(const ModelSource& source) override {
        CORUN_TRY(ModelTiming timing, context_->profile.timing_of(source.name));
        CORUN_TRY(auto on_cpu, cpu_->load_model(source));
        return std::shared_ptr<LoadedModel>(
            std::make_shared<NpuSimLoadedModel>(context_, std::move(on_cpu), timing));
    }

private:
    std::string id_;
    std::shared_ptr<NpuContext> context_;
    std::shared_ptr<Device> cpu_;  // computes outputs and declares the model's tensors
};

}  // namespace

DeviceKind npu_sim_device_kind() {
    DeviceKind kind;
    kind.name = "npu-sim";
    kind.enumerate = [] {
        return std::vector<DeviceDescription>{describe_npu_sim("npu-sim:0", true)};
    };
    kind.create = [](const std::string& id,
                     const VDeviceParams& params) -> Expected<std::shared_ptr<Device>> {
        if (id != "npu-sim" && id != "npu-sim:0") {
            return Status(StatusCode::NOT_FOUND,
                          "no device '" + id + "': the npu-sim kind has one device, 'npu-sim:0'");
        }
        auto context = std::make_shared<NpuContext>();
        if (!params.npu_sim.profile_json.empty()) {
            CORUN_TRY(context->profile, parse_npu_profile(params.npu_sim.profile_json));
        } else {
            const std::string path = npu_profile_path(params.npu_sim.profile_path);
            if (path.empty()) {
                return Status(
                    StatusCode::INVALID_ARGUMENT,
                    "npu-sim needs a timing profile: set VDeviceParams::npu_sim.profile_path "
                    "(or profile_json) or CORUN_NPU_SIM_PROFILE (`corun benchmark MODEL... "
                    "--profile FILE` writes one)");
            }
            CORUN_TRY(context->profile, load_npu_profile(path));
        }
        context->compute_outputs = params.npu_sim.compute_outputs;
        context->group_id = params.group_id;
        // Outputs are computed with one CPU thread: the simulated device, not the CPU, sets
        // the pace.
        VDeviceParams cpu_params = params;
        cpu_params.cpu.intra_op_threads = 1;
        cpu_params.cpu.execution_slots = 1;
        CORUN_TRY(auto cpu, cpu::cpu_device_kind().create("cpu:0", cpu_params));
        return std::shared_ptr<Device>(
            std::make_shared<NpuSimDevice>("npu-sim:0", std::move(context), std::move(cpu)));
    };
    return kind;
}

}  // namespace corun::devices::npu_sim
