#include "devices/device_registry.hpp"

#include "devices/cpu/cpu_device.hpp"
#include "devices/npu_sim/npu_sim_device.hpp"

namespace corun::devices {

size_t TensorSpec::byte_size() const {
    size_t count = 1;
    for (int64_t dim : dims) count *= static_cast<size_t>(dim < 0 ? 0 : dim);
    return count * format_type_size(type);
}

DeviceRegistry& DeviceRegistry::instance() {
    static DeviceRegistry registry = [] {
        DeviceRegistry built_in;
        built_in.add(cpu::cpu_device_kind());
        built_in.add(npu_sim::npu_sim_device_kind());
        return built_in;
    }();
    return registry;
}

void DeviceRegistry::add(DeviceKind kind) {
    kinds_.push_back(std::move(kind));
}

std::vector<std::string> DeviceRegistry::kind_names() const {
    std::vector<std::string> names;
    for (const auto& kind : kinds_) names.push_back(kind.name);
    return names;
}

std::vector<DeviceDescription> DeviceRegistry::enumerate() const {
    std::vector<DeviceDescription> all;
    for (const auto& kind : kinds_) {
        auto found = kind.enumerate();
        all.insert(all.end(), found.begin(), found.end());
    }
    return all;
}

Expected<std::shared_ptr<Device>> DeviceRegistry::create(const std::string& id,
                                                         const VDeviceParams& params) const {
    const std::string kind_name = id.substr(0, id.find(':'));
    for (const auto& kind : kinds_) {
        if (kind.name == kind_name) return kind.create(id, params);
    }
    std::string known;
    for (const auto& description : enumerate())
        known += (known.empty() ? "" : ", ") + description.id;
    return Status(StatusCode::NOT_FOUND,
                  "no device '" + id + "'; devices here: " + known + " (see `corun scan`)");
}

std::vector<std::string> DeviceRegistry::resolved_ids(const VDeviceParams& params) const {
    if (!params.device_ids.empty()) return params.device_ids;
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < params.device_count; ++i)
        ids.push_back(default_kind() + ":" + std::to_string(i));
    return ids;
}

}  // namespace corun::devices
