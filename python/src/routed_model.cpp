// corun's routed models (include/corun/routed_model.hpp; docs/ROUTER.md): one model on several
// placements (VDevices) in order of preference, a frame falling back to the next placement
// when one is full, failing, removed or predicted to miss the SLO. Bound synchronously: run()
// with numpy arrays by stream name, and the placements' statistics.
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding_support.hpp"
#include "corun/routed_model.hpp"

namespace corun::python {
namespace {

class PyRoutedModel {
public:
    PyRoutedModel(const std::string& path, const py::list& placements,
                  std::optional<std::vector<std::string>> labels, uint16_t batch_size,
                  std::optional<uint32_t> scheduler_priority, int64_t latency_slo_ms)
        : model_(create(path, placements, labels, batch_size, scheduler_priority, latency_slo_ms),
                 "RoutedModel") {}

    // Runs one frame on the first placement that takes it; the arrays are read and written
    // in place (C-contiguous, of the streams' sizes in bytes).
    RoutedCompletionInfo run(const py::dict& input_buffers, const py::dict& output_buffers,
                             int64_t timeout_ms) {
        const std::shared_ptr<RoutedModel>& model = model_.get();
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        std::map<std::string, MemoryView> views;
        std::vector<py::array> arrays;  // referenced for the call
        for (const py::dict* buffers : {&input_buffers, &output_buffers}) {
            for (const auto& [name, value] : *buffers) {
                auto array = py::array::ensure(value, py::array::c_style);
                if (!array) {
                    raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                        "stream '" + std::string(py::str(name)) +
                                            "' takes a C-contiguous numpy array"));
                }
                views[py::str(name)] = MemoryView(const_cast<void*>(array.data()),
                                                  static_cast<size_t>(array.nbytes()));
                arrays.push_back(std::move(array));
            }
        }
        const RoutedModel::Bindings bindings = take(model->create_bindings(views));
        RoutedCompletionInfo info = without_gil([&] { return model->run(bindings, timeout); });
        check(info.status);
        return info;
    }

    const std::shared_ptr<RoutedModel>& get() const { return model_.get(); }
    void shutdown() {
        const std::shared_ptr<RoutedModel>& model = model_.get();
        without_gil([&] { return model->shutdown(); });
    }

private:
    static std::shared_ptr<RoutedModel> create(
        const std::string& path, const py::list& vdevices,
        const std::optional<std::vector<std::string>>& labels, uint16_t batch_size,
        std::optional<uint32_t> scheduler_priority, int64_t latency_slo_ms) {
        RoutedModelParams params;
        for (size_t i = 0; i < vdevices.size(); ++i) {
            params.placements.push_back(
                {labels && i < labels->size() ? (*labels)[i] : "", vdevice_of(vdevices[i])});
        }
        params.batch_size = batch_size;
        params.scheduler_priority = scheduler_priority;
        params.latency_slo = timeout_from(latency_slo_ms, "the latency SLO");
        return without_gil([&] { return RoutedModel::create(path, params); });
    }

    Releasable<RoutedModel> model_;
};

}  // namespace

void bind_routed_model(py::module_& module) {
    py::class_<RoutingAttempt>(module, "RoutingAttempt", "A placement that did not run a frame.")
        .def_readonly("placement", &RoutingAttempt::placement)
        .def_property_readonly(
            "status",
            [](const RoutingAttempt& attempt) { return status_code_name(attempt.status.code()); })
        .def_property_readonly(
            "message", [](const RoutingAttempt& attempt) { return attempt.status.message(); });

    py::class_<RoutedCompletionInfo>(module, "RoutedCompletionInfo", "Where one frame ran.")
        .def_readonly("placement", &RoutedCompletionInfo::placement)
        .def_readonly("placement_index", &RoutedCompletionInfo::placement_index)
        .def_readonly("attempts", &RoutedCompletionInfo::attempts)
        .def_readonly("refused", &RoutedCompletionInfo::refused);

    py::class_<PlacementStats>(module, "PlacementStats", "What one placement has done.")
        .def_readonly("label", &PlacementStats::label)
        .def_property_readonly(
            "condition",
            [](const PlacementStats& stats) { return placement_condition_name(stats.condition); })
        .def_readonly("condition_reason", &PlacementStats::condition_reason)
        .def_readonly("frames_run", &PlacementStats::frames_run)
        .def_readonly("failures", &PlacementStats::failures)
        .def_readonly("fallbacks_away", &PlacementStats::fallbacks_away)
        .def_readonly("times_taken_out", &PlacementStats::times_taken_out);

    py::class_<RoutedModelStats>(module, "RoutedModelStats")
        .def_readonly("model", &RoutedModelStats::model)
        .def_readonly("requests", &RoutedModelStats::requests)
        .def_readonly("completed", &RoutedModelStats::completed)
        .def_readonly("failed", &RoutedModelStats::failed)
        .def_readonly("placements", &RoutedModelStats::placements);

    py::class_<PyRoutedModel> routed(
        module, "RoutedModel",
        "corun: one model on several VDevices in order of preference, frames falling back.");
    with_block(routed, [](PyRoutedModel& self) { self.shutdown(); })
        .def(py::init<const std::string&, const py::list&, std::optional<std::vector<std::string>>,
                      uint16_t, std::optional<uint32_t>, int64_t>(),
             py::arg("model_path"), py::arg("placements"), py::kw_only(),
             py::arg("labels") = py::none(), py::arg("batch_size") = 0,
             py::arg("scheduler_priority") = py::none(), py::arg("latency_slo_ms") = 0)
        .def("run", &PyRoutedModel::run, py::arg("input_buffers"), py::arg("output_buffers"),
             py::arg("timeout_ms") = 10000,
             "Runs one frame; returns where it ran (RoutedCompletionInfo), raises why none did.")
        .def(
            "remove_placement",
            [](PyRoutedModel& self, const std::string& label) {
                check(self.get()->remove_placement(label));
            },
            py::arg("label"))
        .def(
            "restore_placement",
            [](PyRoutedModel& self, const std::string& label) {
                const std::shared_ptr<RoutedModel>& model = self.get();
                without_gil([&] { return model->restore_placement(label); });
            },
            py::arg("label"))
        .def(
            "get_frame_size",
            [](PyRoutedModel& self, const std::string& stream) {
                return take(self.get()->get_frame_size(stream));
            },
            py::arg("stream"))
        .def("get_stats", [](PyRoutedModel& self) { return self.get()->get_stats(); })
        .def_property_readonly("placement_labels",
                               [](PyRoutedModel& self) { return self.get()->placement_labels(); })
        .def_property_readonly("name", [](PyRoutedModel& self) { return self.get()->name(); })
        .def_property_readonly("input_names",
                               [](PyRoutedModel& self) { return self.get()->get_input_names(); })
        .def_property_readonly("output_names",
                               [](PyRoutedModel& self) { return self.get()->get_output_names(); })
        .def("shutdown", &PyRoutedModel::shutdown);
}

}  // namespace corun::python
