// VDevice, its params and the scheduler's statistics, with hailo_platform's names: VDevice(params)
// as a context manager, release(), VDevice.create_params(), HailoSchedulingAlgorithm.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "binding_support.hpp"
#include "corun/infer_model.hpp"
#include "corun/vdevice.hpp"

namespace corun::python {
namespace {

// What Python holds: the VDevice until release() (or the end of a `with` block). Models and
// configured models keep the device group alive on their own, as in HailoRT.
class PyVDevice {
public:
    PyVDevice(std::optional<VDeviceParams> params, std::optional<std::vector<std::string>> ids)
        : vdevice_(create(params.value_or(VDeviceParams{}), ids), "VDevice") {}

    const std::shared_ptr<VDevice>& get() const { return vdevice_.get(); }
    void release() { vdevice_.release(); }

    std::shared_ptr<InferModel> create_infer_model(const py::object& source,
                                                   const std::string& name) {
        const std::shared_ptr<VDevice>& vdevice = get();
        if (py::isinstance<py::bytes>(source) || py::isinstance<py::bytearray>(source)) {
            // `source` keeps the bytes alive for the call; they are read without the GIL.
            const std::span<const uint8_t> bytes = bytes_of(source);
            return without_gil(
                [&] { return vdevice->create_infer_model(bytes, name.empty() ? "model" : name); });
        }
        const std::string path =
            path_of(source, "create_infer_model takes the path of an ONNX file or its bytes");
        return without_gil([&] { return vdevice->create_infer_model(path); });
    }

private:
    static std::shared_ptr<VDevice> create(VDeviceParams params,
                                           const std::optional<std::vector<std::string>>& ids) {
        if (ids) params.device_ids = *ids;
        return without_gil([&] { return VDevice::create(params); });
    }

    Releasable<VDevice> vdevice_;
};

void bind_params(py::module_& module) {
    py::enum_<SchedulingAlgorithm>(module, "HailoSchedulingAlgorithm",
                                   "How models on one VDevice share it (HailoRT's names).")
        .value("NONE", SchedulingAlgorithm::NONE, "no scheduler: jobs run in arrival order")
        .value("ROUND_ROBIN", SchedulingAlgorithm::ROUND_ROBIN, "the model scheduler (default)");

    py::class_<CpuDeviceParams>(module, "CpuDeviceParams", "corun: how the CPU device runs models.")
        .def(py::init<>())
        .def_readwrite("intra_op_threads", &CpuDeviceParams::intra_op_threads,
                       "ONNX Runtime threads per inference; 0 = its default")
        .def_readwrite("execution_slots", &CpuDeviceParams::execution_slots,
                       "inferences that may run on the CPU at once")
        .def_readwrite("latency_slots", &CpuDeviceParams::latency_slots,
                       "extra slots for models above normal priority");

    py::class_<VDeviceParams>(module, "VDeviceParams",
                              "What VDevice(params) takes; get one from VDevice.create_params().")
        .def(py::init<>())
        .def_static("default", [] { return VDeviceParams{}; })
        .def_readwrite("device_ids", &VDeviceParams::device_ids,
                       "physical devices by id ('cpu:0'); empty = device_count of the default")
        .def_readwrite("device_count", &VDeviceParams::device_count)
        .def_readwrite("scheduling_algorithm", &VDeviceParams::scheduling_algorithm)
        .def_readwrite("group_id", &VDeviceParams::group_id,
                       "VDevices with one group_id share devices and scheduler (with "
                       "multi_process_service: across processes, through corund)")
        .def_readwrite("multi_process_service", &VDeviceParams::multi_process_service)
        .def_readwrite("service_socket", &VDeviceParams::service_socket,
                       "corun: corund's socket; empty = $CORUN_SERVICE_SOCKET or "
                       "/run/corun/corund.sock")
        .def_readwrite("cpu", &VDeviceParams::cpu)
        .def("__repr__", [](const VDeviceParams& params) {
            return "VDeviceParams(group_id='" + params.group_id + "', scheduling_algorithm=" +
                   (params.scheduling_algorithm == SchedulingAlgorithm::NONE ? "NONE"
                                                                             : "ROUND_ROBIN") +
                   ", multi_process_service=" + (params.multi_process_service ? "True" : "False") +
                   ")";
        });
}

void bind_stats(py::module_& module) {
    py::class_<ScheduledModelStats>(module, "ScheduledModelStats",
                                    "corun: what the scheduler has done for one configured model.")
        .def_readonly("model_id", &ScheduledModelStats::model_id)
        .def_readonly("name", &ScheduledModelStats::name)
        .def_readonly("priority", &ScheduledModelStats::priority)
        .def_readonly("frames_done", &ScheduledModelStats::frames_done)
        .def_readonly("device_time_ns", &ScheduledModelStats::device_time_ns)
        .def_readonly("switches", &ScheduledModelStats::switches)
        .def_readonly("frames_queued", &ScheduledModelStats::frames_queued)
        .def_readonly("frames_running", &ScheduledModelStats::frames_running)
        .def_readonly("queue_capacity", &ScheduledModelStats::queue_capacity)
        .def_readonly("latency_p50_ms", &ScheduledModelStats::latency_p50_ms)
        .def_readonly("latency_p95_ms", &ScheduledModelStats::latency_p95_ms)
        .def_readonly("max_overtaken_by", &ScheduledModelStats::max_overtaken_by)
        .def_readonly("latency_slo_ms", &ScheduledModelStats::latency_slo_ms)
        .def_readonly("deadline_met", &ScheduledModelStats::deadline_met)
        .def_readonly("predicted_latency_ms", &ScheduledModelStats::predicted_latency_ms)
        .def("__repr__", [](const ScheduledModelStats& stats) {
            return "ScheduledModelStats(name='" + stats.name +
                   "', frames_done=" + std::to_string(stats.frames_done) +
                   ", priority=" + std::to_string(stats.priority) + ")";
        });

    py::class_<DeviceDescription>(module, "DeviceDescription", "One physical device (corun scan).")
        .def_readonly("id", &DeviceDescription::id)
        .def_readonly("kind", &DeviceDescription::kind)
        .def_readonly("architecture", &DeviceDescription::architecture)
        .def_readonly("status", &DeviceDescription::status);
}

}  // namespace

// The VDevice under a Python VDevice, for the other bound areas (GenAI, tasks).
std::shared_ptr<VDevice> vdevice_of(const py::object& vdevice) {
    return vdevice.cast<PyVDevice&>().get();
}

void bind_vdevice(py::module_& module) {
    bind_params(module);
    bind_stats(module);

    py::class_<PyVDevice> vdevice(module, "VDevice",
                                  "A virtual device: every model configured on it shares its "
                                  "devices and scheduler. Use it as a context manager, or call "
                                  "release().");
    with_block(vdevice, [](PyVDevice& self) { self.release(); })
        .def(py::init<std::optional<VDeviceParams>, std::optional<std::vector<std::string>>>(),
             py::arg("params") = py::none(), py::kw_only(), py::arg("device_ids") = py::none())
        .def_static(
            "create_params", [] { return VDeviceParams{}; },
            "Default params: group_id 'SHARED', ROUND_ROBIN, in-process.")
        .def_static(
            "scan", [] { return take(VDevice::scan()); },
            "corun: every physical device the registered device kinds see.")
        .def("release", &PyVDevice::release,
             "Releases the VDevice; models created from it stay usable (they hold its group).")
        .def("create_infer_model", &PyVDevice::create_infer_model, py::arg("hef_source"),
             py::arg("network_name") = "",
             "An InferModel from the path of an ONNX file or from its bytes (network_name "
             "labels a model given as bytes).")
        .def("get_physical_devices_ids",
             [](const PyVDevice& self) {
                 std::vector<std::string> ids;
                 for (const auto& device : self.get()->physical_devices()) ids.push_back(device.id);
                 return ids;
             })
        .def("get_physical_devices",
             [](const PyVDevice& self) { return self.get()->physical_devices(); })
        .def(
            "get_scheduler_stats",
            [](const PyVDevice& self) {
                const std::shared_ptr<VDevice>& vdevice = self.get();
                return without_gil([&] {
                    return Expected<std::vector<ScheduledModelStats>>(
                        vdevice->get_scheduler_stats());
                });
            },
            "corun: per configured model, what the group's scheduler has run so far.")
        .def_property_readonly("group_id",
                               [](const PyVDevice& self) { return self.get()->group_id(); })
        .def("shares_devices_with", [](const PyVDevice& self, const PyVDevice& other) {
            return self.get()->shares_devices_with(*other.get());
        });
}

}  // namespace corun::python
