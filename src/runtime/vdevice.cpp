#include "corun/vdevice.hpp"

#include <map>
#include <mutex>

#include "corun/infer_model.hpp"
#include "devices/device_registry.hpp"
#include "runtime/device_group.hpp"
#include "runtime/model_state.hpp"

namespace corun {
namespace {

std::string stem_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const size_t dot = name.rfind('.');
    return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

std::mutex shared_mutex;
std::map<std::string, std::weak_ptr<VDevice>>& shared_vdevices() {
    static std::map<std::string, std::weak_ptr<VDevice>> vdevices;
    return vdevices;
}

}  // namespace

VDevice::VDevice(std::shared_ptr<DeviceGroup> group) : group_(std::move(group)) {}
VDevice::~VDevice() = default;

Expected<std::unique_ptr<VDevice>> VDevice::create(const VDeviceParams& params) {
    CORUN_TRY(auto group, DeviceGroup::acquire(params));
    return std::unique_ptr<VDevice>(new VDevice(std::move(group)));
}

Expected<std::shared_ptr<VDevice>> VDevice::create_shared(const VDeviceParams& params) {
    std::lock_guard lock(shared_mutex);
    auto& vdevices = shared_vdevices();
    if (auto found = vdevices.find(params.group_id); found != vdevices.end()) {
        if (auto vdevice = found->second.lock()) {
            // Same checks as a new handle: a group is opened with one set of params.
            CORUN_TRY(auto group, DeviceGroup::acquire(params));
            (void)group;
            return vdevice;
        }
    }
    CORUN_TRY(auto group, DeviceGroup::acquire(params));
    std::shared_ptr<VDevice> vdevice(new VDevice(std::move(group)));
    vdevices[params.group_id] = vdevice;
    return vdevice;
}

Expected<std::vector<DeviceDescription>> VDevice::scan() {
    return devices::DeviceRegistry::instance().enumerate();
}

Expected<std::shared_ptr<InferModel>> VDevice::create_infer_model(const std::string& onnx_path) {
    CORUN_TRY(auto bytes, read_model_file(onnx_path));
    ModelInfo info;
    info.name = stem_of(onnx_path);
    info.path = onnx_path;
    CORUN_TRY(auto state, load_model_state(group_, bytes, std::move(info)));
    return std::make_shared<InferModel>(std::move(state));
}

Expected<std::shared_ptr<InferModel>> VDevice::create_infer_model(
    std::span<const uint8_t> onnx_bytes, const std::string& name) {
    if (onnx_bytes.empty()) {
        return Status(StatusCode::INVALID_MODEL, "model '" + name + "' is empty (0 bytes)");
    }
    ModelInfo info;
    info.name = name;
    CORUN_TRY(auto state, load_model_state(group_, onnx_bytes, std::move(info)));
    return std::make_shared<InferModel>(std::move(state));
}

const VDeviceParams& VDevice::params() const {
    return group_->params();
}
const std::string& VDevice::group_id() const {
    return group_->params().group_id;
}

std::vector<DeviceDescription> VDevice::physical_devices() const {
    std::vector<DeviceDescription> descriptions;
    for (const auto& device : group_->devices()) descriptions.push_back(device->describe());
    return descriptions;
}

std::vector<ScheduledModelStats> VDevice::get_scheduler_stats() const {
    std::vector<ScheduledModelStats> all;
    for (const auto& model : group_->scheduler().stats()) {
        all.push_back({model.model_id, model.name, model.params.priority, model.frames_done,
                       model.device_time_ns, model.switches_in, model.frames_queued});
    }
    return all;
}

bool VDevice::shares_devices_with(const VDevice& other) const {
    return group_ == other.group_;
}

}  // namespace corun
