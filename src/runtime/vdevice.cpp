#include "corun/vdevice.hpp"

#include <map>
#include <mutex>

#include "corun/infer_model.hpp"
#include "devices/device_registry.hpp"
#include "runtime/device_group.hpp"
#include "runtime/loaded_infer_model.hpp"

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
    CORUN_TRY(auto group, DeviceGroup::acquire(params));
    if (auto found = vdevices.find(params.group_id); found != vdevices.end()) {
        // Same group (acquire checked the params): the same VDevice. A different one means
        // the old group's daemon went away and acquire connected afresh.
        if (auto vdevice = found->second.lock(); vdevice && vdevice->group_ == group) {
            return vdevice;
        }
    }
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
    const size_t slash = onnx_path.find_last_of('/');
    const std::string folder = slash == std::string::npos ? "." : onnx_path.substr(0, slash + 1);
    ModelLoadExtras extras;
    extras.external_data_folder = folder;
    CORUN_TRY(auto loaded, load_model(group_, bytes, std::move(info), std::move(extras)));
    return std::shared_ptr<InferModel>(new InferModel(std::move(loaded)));
}

Expected<std::shared_ptr<InferModel>> VDevice::create_infer_model(
    std::span<const uint8_t> onnx_bytes, const std::string& name) {
    if (onnx_bytes.empty()) {
        return Status(StatusCode::INVALID_MODEL, "model '" + name + "' is empty (0 bytes)");
    }
    ModelInfo info;
    info.name = name;
    CORUN_TRY(auto loaded, load_model(group_, onnx_bytes, std::move(info)));
    return std::shared_ptr<InferModel>(new InferModel(std::move(loaded)));
}

const VDeviceParams& VDevice::params() const {
    return group_->params();
}
const std::string& VDevice::group_id() const {
    return group_->params().group_id;
}

std::vector<DeviceDescription> VDevice::physical_devices() const {
    return group_->backend().describe_devices();
}

// Empty when the backend cannot be asked (corund went away; the models' own calls say so).
std::vector<ScheduledModelStats> VDevice::get_scheduler_stats() const {
    return group_->backend().scheduler_stats();
}

bool VDevice::shares_devices_with(const VDevice& other) const {
    return group_ == other.group_;
}

}  // namespace corun
