// ConfigureModel, OutputDims and SetSchedulingParams: a loaded model configured for the
// client's native streams, batch size, queue and frame time limit, so that the daemon never
// converts a tensor (the client did) and every frame it serves has a known, checked size.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "service/daemon/model_registry.hpp"

namespace corun::service {
namespace {

std::vector<std::string> names_of(const std::vector<InferModel::InferStream>& streams) {
    std::vector<std::string> names;
    names.reserve(streams.size());
    for (const auto& stream : streams) names.push_back(stream.name());
    return names;
}

bool has_dynamic_dim(const std::vector<int64_t>& dims) {
    return std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
}

Status apply_scheduling(ConfiguredInferModel& configured, const v1::SchedulingParams& scheduling,
                        SchedulingAlgorithm algorithm) {
    // Under SchedulingAlgorithm::NONE the runtime refuses every knob; defaults need no call.
    const uint32_t threshold = std::max<uint32_t>(1, scheduling.threshold());
    if (algorithm == SchedulingAlgorithm::NONE && scheduling.priority() == 16 && threshold == 1 &&
        scheduling.timeout_ms() == 0 && scheduling.latency_slo_ms() == 0) {
        return Status::ok();
    }
    CORUN_RETURN_IF_ERROR(configured.set_scheduler_priority(scheduling.priority()));
    CORUN_RETURN_IF_ERROR(configured.set_scheduler_threshold(threshold));
    CORUN_RETURN_IF_ERROR(
        configured.set_scheduler_timeout(std::chrono::milliseconds(scheduling.timeout_ms())));
    return configured.set_latency_slo(std::chrono::milliseconds(scheduling.latency_slo_ms()));
}

}  // namespace

uint64_t next_daemon_model_id() {
    // Model ids are daemon-wide, so that Monitor and the logs name one model by one id.
    static std::atomic<uint64_t> last{0};
    return ++last;
}

Expected<std::vector<devices::TensorSpec>> ModelRegistry::output_dims(
    uint64_t loaded_model_id, const google::protobuf::RepeatedPtrField<v1::TensorSpec>& inputs) {
    CORUN_TRY(auto entry, find_loaded(loaded_model_id));
    CORUN_RETURN_IF_ERROR(
        check_stream_names(inputs, names_of(entry->model->inputs()), "input", entry->name));
    std::vector<devices::TensorSpec> specs;
    for (const auto& input : inputs) {
        CORUN_RETURN_IF_ERROR(check_tensor_spec(input, "input '" + input.name() + "'",
                                                limits_.max_shm_bytes_per_client));
        specs.push_back({input.name(), static_cast<FormatType>(input.element_type()),
                         std::vector<int64_t>(input.dims().begin(), input.dims().end())});
    }
    std::lock_guard configure_lock(entry->configure_mutex);
    CORUN_TRY(auto dims, runtime::infer_output_dims(*entry->model, specs));
    std::vector<devices::TensorSpec> outputs;
    for (size_t i = 0; i < entry->model->outputs().size() && i < dims.size(); ++i) {
        const auto& stream = entry->model->outputs()[i];
        outputs.push_back({stream.name(), stream.native_format().type, dims[i]});
    }
    return outputs;
}

Expected<uint64_t> ModelRegistry::configure(const v1::ConfigureModelRequest& request) {
    CORUN_TRY(auto entry, find_loaded(request.loaded_model_id()));
    CORUN_RETURN_IF_ERROR(check_room_for_served());
    InferModel& model = *entry->model;
    CORUN_RETURN_IF_ERROR(check_stream_names(request.native_inputs(), names_of(model.inputs()),
                                             "input", entry->name));
    CORUN_RETURN_IF_ERROR(check_stream_names(request.native_outputs(), names_of(model.outputs()),
                                             "output", entry->name));

    std::lock_guard configure_lock(entry->configure_mutex);
    ModelLayout layout;
    layout.name = request.name().empty() ? entry->name : request.name();
    // Each stream takes its native type and order, so the daemon never converts: the client did.
    auto prepare = [&](const v1::TensorSpec& spec, const InferModel::InferStream& stream,
                       std::vector<NativeStream>& streams) -> Status {
        const std::string what =
            std::string(stream.is_input() ? "input '" : "output '") + stream.name() + "'";
        CORUN_RETURN_IF_ERROR(check_tensor_spec(spec, what, limits_.max_shm_bytes_per_client));
        const Format native = stream.native_format();
        CORUN_RETURN_IF_ERROR(check_native_type(spec, what, native.type));
        stream.set_format_type(native.type);
        stream.set_format_order(native.order);
        const auto& declared = runtime::declared_tensor(stream).dims;
        if (has_dynamic_dim(declared)) {
            const std::vector<int64_t> dims(spec.dims().begin(), spec.dims().end());
            CORUN_RETURN_IF_ERROR(stream.set_shape(dims).with_context(what));
        } else if (stream.is_input()) {
            CORUN_RETURN_IF_ERROR(check_fixed_shape(spec, what, stream.native_shape()));
        }
        streams.push_back({stream.name(), bounded_frame_bytes(spec.dims(), native.type,
                                                              limits_.max_shm_bytes_per_client)});
        return Status::ok();
    };
    for (int i = 0; i < request.native_inputs_size(); ++i) {
        CORUN_RETURN_IF_ERROR(prepare(request.native_inputs(i),
                                      model.inputs()[static_cast<size_t>(i)], layout.inputs));
    }
    for (int i = 0; i < request.native_outputs_size(); ++i) {
        CORUN_RETURN_IF_ERROR(prepare(request.native_outputs(i),
                                      model.outputs()[static_cast<size_t>(i)], layout.outputs));
    }
    CORUN_RETURN_IF_ERROR(check_batch_size(request.batch_size()));
    CORUN_RETURN_IF_ERROR(model.set_batch_size(static_cast<uint16_t>(request.batch_size())));
    // Every frame is bounded: what the client asks, at most corund's maximum.
    const std::chrono::milliseconds asked(request.frame_time_limit_ms());
    const std::chrono::milliseconds frame_time_limit =
        asked.count() == 0 ? limits_.max_frame_time_limit
                           : std::min(asked, limits_.max_frame_time_limit);
    CORUN_RETURN_IF_ERROR(model.set_frame_time_limit(frame_time_limit));
    CORUN_TRY(auto configured, model.configure());
    layout.batch_size = model.batch_size();

    // The configured frame sizes must be what the client will write and read.
    CORUN_TRY(auto bindings, configured.create_bindings());
    for (auto* streams : {&layout.inputs, &layout.outputs}) {
        const bool inputs = streams == &layout.inputs;
        for (const auto& stream : *streams) {
            auto binding = inputs ? bindings.input(stream.name) : bindings.output(stream.name);
            if (!binding) return binding.status();
            CORUN_RETURN_IF_ERROR(
                check_configured_frame_size(stream, inputs, binding->get_frame_size()));
        }
    }
    CORUN_TRY(size_t queue_size, configured.get_async_queue_size());
    CORUN_RETURN_IF_ERROR(check_queue_size(request.queue_size(), queue_size, layout.batch_size));
    auto served = std::make_shared<ServedModel>(configured);
    if (request.has_scheduling()) {
        CORUN_RETURN_IF_ERROR(apply_scheduling(served->configured, request.scheduling(),
                                               vdevice_.params().scheduling_algorithm));
        served->priority = request.scheduling().priority();
    }
    served->model_id = next_daemon_model_id();
    served->loaded_model_id = entry->loaded_model_id;
    served->charges = entry->charges;
    served->queue_capacity = static_cast<uint32_t>(queue_size);
    layout.model_id = served->model_id;
    served->layout = std::move(layout);
    if (Status added = add_served(served); !added.is_ok()) {
        served->configured.shutdown().ignore();
        return added;
    }
    spdlog::debug("session {}: configured model '{}' as model_id {} (batch {}, queue {})",
                  session_id_, served->layout.name, served->model_id, served->layout.batch_size,
                  queue_size);
    return served->model_id;
}

Status ModelRegistry::set_scheduling(uint64_t model_id, const v1::SchedulingParams& scheduling) {
    CORUN_TRY(auto served, find_served(model_id));
    CORUN_RETURN_IF_ERROR(
        apply_scheduling(served->configured, scheduling, vdevice_.params().scheduling_algorithm));
    served->priority = scheduling.priority();
    return Status::ok();
}

}  // namespace corun::service
