// corun's routed models (include/corun/routed_model.hpp; docs/ROUTER.md): one model on several
// placements (VDevices) in order of preference, a frame falling back to the next placement
// when one is full, failing, removed or predicted to miss the SLO: run() and run_async() with
// numpy arrays by stream name, and the placements' statistics.
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding_support.hpp"
#include "corun/routed_model.hpp"
#include "job_context.hpp"

namespace corun::python {
namespace {

// A routed frame in flight (RoutedInferJob): dropping it does not wait.
class PyRoutedJob {
public:
    explicit PyRoutedJob(RoutedInferJob job)
        : job_(std::make_shared<RoutedInferJob>(std::move(job))) {
        job_->detach();  // a dropped Python job must not block (its callback needs the GIL)
    }
    void wait(int64_t timeout_ms) {
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        without_gil([&] { return job_->wait(timeout); });
    }
    bool is_done() const { return job_->is_done(); }
    RoutedCompletionInfo completion() const { return take(job_->completion()); }

private:
    std::shared_ptr<RoutedInferJob> job_;
};

// The arrays of one frame by stream name, checked C-contiguous, as views; `arrays` keeps them.
std::map<std::string, MemoryView> views_of(const py::dict& input_buffers,
                                           const py::dict& output_buffers,
                                           std::vector<py::object>& arrays) {
    std::map<std::string, MemoryView> views;
    for (const py::dict* buffers : {&input_buffers, &output_buffers}) {
        for (const auto& [name, value] : *buffers) {
            auto array = py::array::ensure(value, py::array::c_style);
            if (!array) {
                raise_status(
                    Status(StatusCode::INVALID_ARGUMENT, "stream '" + std::string(py::str(name)) +
                                                             "' takes a C-contiguous numpy array"));
            }
            views[py::str(name)] =
                MemoryView(const_cast<void*>(array.data()), static_cast<size_t>(array.nbytes()));
            arrays.push_back(std::move(array));
        }
    }
    return views;
}

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
        std::vector<py::object> arrays;  // referenced for the call
        const auto views = views_of(input_buffers, output_buffers, arrays);
        const RoutedModel::Bindings bindings = take(model->create_bindings(views));
        RoutedCompletionInfo info = without_gil([&] { return model->run(bindings, timeout); });
        check(info.status);
        return info;
    }

    // Queues one frame; `callback(completion_info=RoutedCompletionInfo)` runs once on a corun
    // thread when it ran somewhere or no placement could run it. The arrays stay referenced
    // until then.
    PyRoutedJob run_async(const py::dict& input_buffers, const py::dict& output_buffers,
                          const py::object& callback) {
        if (!callback.is_none() && !PyCallable_Check(callback.ptr())) {
            raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                "the run_async callback is not callable; pass a function that "
                                "takes completion_info, or None"));
        }
        const std::shared_ptr<RoutedModel>& model = model_.get();
        std::vector<py::object> arrays;
        const auto views = views_of(input_buffers, output_buffers, arrays);
        const RoutedModel::Bindings bindings = take(model->create_bindings(views));
        auto context = std::make_shared<JobContext>(std::move(arrays), callback);
        RoutedCallback on_done = [context](const RoutedCompletionInfo& info) {
            context->complete([&info] { return py::cast(info); });
        };
        return PyRoutedJob(
            without_gil([&] { return model->run_async(bindings, std::move(on_done)); }));
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
        .def_readonly("refused", &RoutedCompletionInfo::refused)
        .def_property_readonly(
            "status",
            [](const RoutedCompletionInfo& info) { return status_code_name(info.status.code()); },
            "corun: the status name (SUCCESS, or why no placement ran the frame)")
        .def_property_readonly(
            "exception",
            [](const RoutedCompletionInfo& info) -> py::object {
                return info.status.is_ok() ? py::none() : exception_for(info.status);
            },
            "None when the frame ran, else the exception run() would raise");

    py::class_<PyRoutedJob>(module, "RoutedInferJob", "A routed frame in flight.")
        .def("wait", &PyRoutedJob::wait, py::arg("timeout_ms"),
             "Waits for the frame; raises why no placement ran it, or on timeout.")
        .def("is_done", &PyRoutedJob::is_done)
        .def("completion", &PyRoutedJob::completion, "Where the frame ran, once it is done.");

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
        .def("run_async", &PyRoutedModel::run_async, py::arg("input_buffers"),
             py::arg("output_buffers"), py::arg("callback") = py::none(),
             "Queues one frame; callback(completion_info=RoutedCompletionInfo) runs when it is "
             "done. Returns a RoutedInferJob.")
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
