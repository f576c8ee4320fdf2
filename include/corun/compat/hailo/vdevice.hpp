// corun's HailoRT compatibility layer: VDevice over corun::VDevice. The group id is passed as it
// is: VDevices of one group share devices and scheduler, in this process and, with
// multi_process_service, through corund across processes (docs/MIGRATING.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"
#include "hailo/infer_model.hpp"

namespace hailort {

class VDevice {
public:
    static Expected<std::unique_ptr<VDevice>> create(const hailo_vdevice_params_t& params) {
        corun::VDeviceParams corun_params;
        corun_params.device_count = params.device_count;
        for (uint32_t i = 0; params.device_ids != nullptr && i < params.device_count; ++i) {
            corun_params.device_ids.emplace_back(params.device_ids[i].id);
        }
        corun_params.scheduling_algorithm =
            params.scheduling_algorithm == HAILO_SCHEDULING_ALGORITHM_NONE
                ? corun::SchedulingAlgorithm::NONE
                : corun::SchedulingAlgorithm::ROUND_ROBIN;
        if (params.group_id != nullptr) corun_params.group_id = params.group_id;
        corun_params.multi_process_service = params.multi_process_service;
        auto vdevice = corun::VDevice::create(corun_params);
        if (!vdevice) {
            return Unexpected(to_hailo_status(vdevice.status()), vdevice.status().to_string());
        }
        return std::unique_ptr<VDevice>(new VDevice(vdevice.release()));
    }
    static Expected<std::unique_ptr<VDevice>> create() {
        hailo_vdevice_params_t params;
        hailo_init_vdevice_params(&params);
        return create(params);
    }
    // HailoRT 4.x's shared_ptr flavour.
    static Expected<std::shared_ptr<VDevice>> create_shared(const hailo_vdevice_params_t& params) {
        auto vdevice = create(params);
        if (!vdevice) return make_unexpected(vdevice.status());
        return std::shared_ptr<VDevice>(vdevice.release());
    }
    static Expected<std::shared_ptr<VDevice>> create_shared() {
        hailo_vdevice_params_t params;
        hailo_init_vdevice_params(&params);
        return create_shared(params);
    }

    virtual ~VDevice() = default;

    // The model file is an ONNX file where HailoRT takes a HEF; `name` labels a model made from
    // bytes.
    Expected<std::shared_ptr<InferModel>> create_infer_model(const std::string& onnx_path,
                                                             const std::string& name = "") {
        (void)name;
        return wrap(vdevice_->create_infer_model(onnx_path));
    }
    Expected<std::shared_ptr<InferModel>> create_infer_model(const MemoryView onnx_bytes,
                                                             const std::string& name = "") {
        return wrap(vdevice_->create_infer_model(
            std::span<const uint8_t>(onnx_bytes.data(), onnx_bytes.size()),
            name.empty() ? "model" : name));
    }

    Expected<std::vector<std::string>> get_physical_devices_ids() const {
        std::vector<std::string> ids;
        for (const auto& device : vdevice_->physical_devices()) ids.push_back(device.id);
        return ids;
    }

    // Host memory is the devices' memory here: there is nothing to map, and these succeed.
    hailo_status dma_map(void*, size_t, hailo_dma_buffer_direction_t) { return HAILO_SUCCESS; }
    hailo_status dma_unmap(void*, size_t, hailo_dma_buffer_direction_t) { return HAILO_SUCCESS; }

    // corun's VDevice, for what only corun's API has (scheduler stats ...).
    corun::VDevice& corun_vdevice() { return *vdevice_; }

private:
    explicit VDevice(std::unique_ptr<corun::VDevice> vdevice) : vdevice_(std::move(vdevice)) {}
    static Expected<std::shared_ptr<InferModel>> wrap(
        corun::Expected<std::shared_ptr<corun::InferModel>> model) {
        if (!model) return Unexpected(to_hailo_status(model.status()), model.status().to_string());
        return std::make_shared<InferModel>(model.release());
    }

    std::unique_ptr<corun::VDevice> vdevice_;
};

}  // namespace hailort
