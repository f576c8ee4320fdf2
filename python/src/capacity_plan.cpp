// corun's capacity planner (include/corun/capacity_plan.hpp; docs/ROUTER.md): what a mix of
// models will get on a device, predicted from a profile before deploying, as `corun plan`
// prints it. Durations are in milliseconds on the Python side.
#include <pybind11/stl.h>

#include <chrono>
#include <string>

#include "binding_support.hpp"
#include "corun/capacity_plan.hpp"

namespace corun::python {
namespace {

using Nanoseconds = std::chrono::nanoseconds;

Nanoseconds from_ms(double milliseconds) {
    return std::chrono::duration_cast<Nanoseconds>(
        std::chrono::duration<double, std::milli>(milliseconds));
}
double to_ms(Nanoseconds duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
}

// A duration member of T exposed as a float property in milliseconds.
template <typename T, typename Duration>
void milliseconds_property(py::class_<T>& bound, const char* name, Duration T::*member) {
    bound.def_property(
        name, [member](const T& self) { return to_ms(self.*member); },
        [member](T& self, double milliseconds) {
            self.*member = std::chrono::duration_cast<Duration>(from_ms(milliseconds));
        });
}

}  // namespace

void bind_capacity_plan(py::module_& module) {
    py::enum_<ArrivalKind>(module, "ArrivalKind", "How a planned model's frames arrive.")
        .value("FIXED_RATE", ArrivalKind::FIXED_RATE)
        .value("POISSON", ArrivalKind::POISSON)
        .value("CLOSED_LOOP", ArrivalKind::CLOSED_LOOP);

    py::class_<PlannedModel> model(module, "PlannedModel", "One model of a planned workload.");
    model
        .def(py::init([](const std::string& name, double rate) {
                 return rate > 0 ? PlannedModel::at_rate(name, rate)
                                 : PlannedModel::closed_loop(name, 0);
             }),
             py::arg("name"), py::arg("rate") = 0.0,
             "At `rate` frames per second (FIXED_RATE), or a closed loop when rate is 0.")
        .def_readwrite("name", &PlannedModel::name)
        .def_readwrite("arrivals", &PlannedModel::arrivals)
        .def_readwrite("rate", &PlannedModel::rate)
        .def_readwrite("clients", &PlannedModel::clients)
        .def_readwrite("priority", &PlannedModel::priority)
        .def_readwrite("batch_size", &PlannedModel::batch_size)
        .def_readwrite("threshold", &PlannedModel::threshold)
        .def_readwrite("slo_percentile", &PlannedModel::slo_percentile)
        .def_readwrite("admission", &PlannedModel::admission)
        .def_readwrite("waits_when_full", &PlannedModel::waits_when_full)
        .def_readwrite("prompt_tokens", &PlannedModel::prompt_tokens)
        .def_readwrite("max_tokens", &PlannedModel::max_tokens);
    milliseconds_property(model, "think_ms", &PlannedModel::think);
    milliseconds_property(model, "timeout_ms", &PlannedModel::timeout);
    milliseconds_property(model, "slo_ms", &PlannedModel::slo);

    py::class_<CapacityWorkload>(module, "CapacityWorkload", "A device and the models on it.")
        .def(py::init([](const std::string& device, std::vector<PlannedModel> models,
                         double horizon_s, bool headroom) {
                 CapacityWorkload workload;
                 workload.device = device;
                 workload.models = std::move(models);
                 workload.horizon = std::chrono::seconds(static_cast<int64_t>(horizon_s));
                 workload.headroom = headroom;
                 return workload;
             }),
             py::arg("device") = "cpu", py::arg("models") = std::vector<PlannedModel>{},
             py::arg("horizon_s") = 60.0, py::arg("headroom") = true)
        .def_readwrite("device", &CapacityWorkload::device)
        .def_readwrite("slots", &CapacityWorkload::slots)
        .def_readwrite("latency_slots", &CapacityWorkload::latency_slots)
        .def_readwrite("headroom", &CapacityWorkload::headroom)
        .def_readwrite("models", &CapacityWorkload::models);

    py::class_<ModelPrediction>(module, "ModelPrediction", "What one model will get.")
        .def_readonly("name", &ModelPrediction::name)
        .def_readonly("offered_rate", &ModelPrediction::offered_rate)
        .def_readonly("throughput", &ModelPrediction::throughput)
        .def_readonly("latency_p50_ms", &ModelPrediction::latency_p50_ms)
        .def_readonly("latency_p95_ms", &ModelPrediction::latency_p95_ms)
        .def_readonly("latency_p99_ms", &ModelPrediction::latency_p99_ms)
        .def_readonly("utilisation", &ModelPrediction::utilisation)
        .def_readonly("dropped_share", &ModelPrediction::dropped_share)
        .def_readonly("refused_share", &ModelPrediction::refused_share)
        .def_readonly("late_share", &ModelPrediction::late_share)
        .def_readonly("slo_holds", &ModelPrediction::slo_holds)
        .def_readonly("headroom", &ModelPrediction::headroom)
        .def_readonly("generative", &ModelPrediction::generative)
        .def_readonly("ttft_p50_ms", &ModelPrediction::ttft_p50_ms)
        .def_readonly("ttft_p95_ms", &ModelPrediction::ttft_p95_ms)
        .def_readonly("tokens_per_second", &ModelPrediction::tokens_per_second);

    py::class_<CapacityPrediction>(module, "CapacityPrediction", "What the workload will get.")
        .def_readonly("device", &CapacityPrediction::device)
        .def_readonly("slots", &CapacityPrediction::slots)
        .def_readonly("utilisation", &CapacityPrediction::utilisation)
        .def_readonly("all_slos_hold", &CapacityPrediction::all_slos_hold)
        .def_readonly("headroom", &CapacityPrediction::headroom)
        .def_readonly("models", &CapacityPrediction::models);

    py::class_<CapacityPlanner>(module, "CapacityPlanner",
                                "Predictions from a profile (`corun benchmark --profile`).")
        .def_static(
            "from_file",
            [](const std::string& path) { return take(CapacityPlanner::from_file(path)); },
            py::arg("profile_path"))
        .def_static(
            "from_json",
            [](const std::string& json) { return take(CapacityPlanner::from_json(json)); },
            py::arg("profile_json"))
        .def("model_names", &CapacityPlanner::model_names, py::arg("device") = "cpu")
        .def(
            "predict",
            [](const CapacityPlanner& planner, const CapacityWorkload& workload) {
                return without_gil([&] { return planner.predict(workload); });
            },
            py::arg("workload"), "Simulates the workload in virtual time (no model runs).");
}

}  // namespace corun::python
