#include "serving/served_model.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <thread>

#include "runtime/api_access.hpp"
#include "runtime/loaded_infer_model.hpp"
#include "serving/elapsed_microseconds.hpp"
#include "serving/tensor_datatype.hpp"

namespace corun::serving {
namespace {

using Clock = std::chrono::steady_clock;

// How long one wait for queue room lasts before the request looks at its deadline again.
constexpr std::chrono::milliseconds QUEUE_POLL{50};

std::string datatype_text(FormatType type) {
    const char* name = datatype_name(type);
    return name ? name : format_type_name(type);
}

// Cuts a BYTES output's room down to the elements the model wrote at its start.
void trim_to_elements(InferTensor& tensor) {
    uint64_t count = 1;
    for (int64_t dim : tensor.shape) count *= static_cast<uint64_t>(std::max<int64_t>(dim, 0));
    size_t offset = 0;
    for (uint64_t i = 0; i < count && offset + 4 <= tensor.data.size(); ++i) {
        uint32_t length = 0;
        std::memcpy(&length, tensor.data.data() + offset, 4);
        offset += 4 + std::min<size_t>(length, tensor.data.size() - offset - 4);
    }
    tensor.data.resize(offset);
}

}  // namespace

uint32_t scheduler_priority_for(std::optional<uint64_t> wire_priority, uint32_t model_priority) {
    if (!wire_priority || *wire_priority == 0) return model_priority;
    return *wire_priority >= 32 ? 0 : static_cast<uint32_t>(32 - *wire_priority);
}

// A request checked against the model: how many frames, and where each input's bytes are.
struct ServedModel::PreparedRequest {
    uint64_t frames = 1;
    std::vector<const InferTensor*> inputs;  // in the model's input order
    std::vector<size_t> output_indices;      // the model's outputs to return, in reply order
    std::vector<bool> binary_outputs;
    InferResponse response;
};

Expected<std::shared_ptr<ServedModel>> ServedModel::load(VDevice& vdevice, const std::string& name,
                                                         const ModelVersionFile& file,
                                                         const ModelConfig& config,
                                                         const std::vector<Placement>& placements) {
    std::shared_ptr<ServedModel> served(new ServedModel());
    served->name_ = name;
    served->version_ = file.version;
    served->config_ = config;
    // Loaded as corund loads a client's model, so that the scheduler, `corun monitor` and the
    // logs know it by the repository's name rather than the file's ("model"); external data
    // files are read from the version folder, as VDevice::create_infer_model(path) would.
    const std::string label = "model '" + name + "' version " + file.version;
    CORUN_TRY(auto bytes, read_model_file(file.path), label);
    ModelInfo info;
    info.name = name;
    info.path = file.path;
    ModelLoadExtras extras;
    const size_t slash = file.path.find_last_of('/');
    extras.external_data_folder =
        slash == std::string::npos ? "./" : file.path.substr(0, slash + 1);
    CORUN_TRY(served->model_,
              runtime::load_infer_model(vdevice, bytes, std::move(info), std::move(extras)), label);
    if (config.frame_time_limit_ms != 0) {
        CORUN_RETURN_IF_ERROR(served->model_->set_frame_time_limit(
                                  std::chrono::milliseconds(config.frame_time_limit_ms)),
                              "model '" + name + "' config frame_time_limit_ms");
    }
    if (config.batch_size != 0) {
        CORUN_RETURN_IF_ERROR(served->model_->set_batch_size(config.batch_size),
                              "model '" + name + "' config batch_size");
    }
    for (const auto& stream : served->model_->inputs()) {
        served->inputs_.push_back({stream.name(), stream.format().type, stream.shape()});
        served->input_frame_bytes_.push_back(stream.get_frame_size());
    }
    for (const auto& stream : served->model_->outputs()) {
        served->outputs_.push_back({stream.name(), stream.format().type, stream.shape()});
    }
    if (!placements.empty()) {
        CORUN_RETURN_IF_ERROR(served->load_routed(file.path, placements), label);
        return served;
    }
    // The instances at the model's own priority are made now, so a model that cannot be
    // configured fails to load (with the reason) rather than at its first request.
    CORUN_TRY(auto instance, served->instance_for(config.priority),
              "model '" + name + "' version " + file.version);
    auto bindings = instance->configured.create_bindings();
    if (!bindings) return bindings.status();
    for (const auto& output : served->outputs_) {
        CORUN_TRY(auto stream, bindings.value().output(output.name));
        served->output_frame_bytes_.push_back(stream.get_frame_size());
    }
    for (size_t i = 0; i < served->outputs_.size(); ++i) {
        // What configure() fixed (dimensions a frame revealed included).
        auto stream = bindings.value().output(served->outputs_[i].name);
        if (stream) served->outputs_[i].shape = stream.value().shape();
        // A BYTES output's size is known only once computed: the model writes its strings into
        // this much room, and the response keeps what they took.
        const auto& shape = served->outputs_[i].shape;
        if (served->outputs_[i].type == FormatType::STRING &&
            std::none_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) {
            served->output_frame_bytes_[i] = BYTES_OUTPUT_ROOM;
        }
    }
    return served;
}

ServedModel::~ServedModel() {
    shutdown();
}

void ServedModel::shutdown() {
    std::map<uint32_t, std::vector<std::shared_ptr<Instance>>> instances;
    {
        std::lock_guard lock(mutex_);
        shut_down_ = true;
        instances = instances_;
    }
    if (routed_) routed_->shutdown().ignore();
    for (auto& [priority, level] : instances) {
        for (auto& instance : level) instance->configured.shutdown().ignore();
    }
}

Status ServedModel::load_routed(const std::string& path, const std::vector<Placement>& placements) {
    for (const auto& stream : inputs_) {
        if (stream.type == FormatType::STRING) {
            return Status(
                StatusCode::NOT_SUPPORTED,
                "input '" + stream.name + "' is BYTES; routed models take numeric tensors only");
        }
    }
    RoutedModelParams params;
    params.placements = placements;
    params.batch_size = config_.batch_size;
    params.scheduler_priority = config_.priority;
    params.latency_slo = std::chrono::milliseconds(config_.latency_slo_ms);
    CORUN_TRY(routed_, RoutedModel::create(path, params), "routed over its placements");
    // The routed model's user formats are the models' defaults, as here: the same frame sizes.
    for (size_t i = 0; i < inputs_.size(); ++i) {
        CORUN_TRY(const size_t bytes, routed_->get_frame_size(inputs_[i].name));
        if (bytes != input_frame_bytes_[i]) {
            return Status(StatusCode::INVALID_MODEL,
                          "input '" + inputs_[i].name + "' takes " + std::to_string(bytes) +
                              " bytes per frame on the placements, " +
                              std::to_string(input_frame_bytes_[i]) + " on the shared device");
        }
    }
    for (const auto& output : outputs_) {
        if (output.type == FormatType::STRING) {
            return Status(
                StatusCode::NOT_SUPPORTED,
                "output '" + output.name + "' is BYTES; routed models return numeric tensors only");
        }
        CORUN_TRY(const size_t bytes, routed_->get_frame_size(output.name));
        output_frame_bytes_.push_back(bytes);
    }
    return Status::ok();
}

std::optional<RoutedModelStats> ServedModel::routed_stats() const {
    if (!routed_) return std::nullopt;
    return routed_->get_stats();
}

std::vector<ServedInstance> ServedModel::instances() const {
    if (routed_) {
        std::vector<ServedInstance> listed;
        for (const auto& placement : routed_->get_stats().placements) {
            if (placement.label == "cpu" && placement.scheduler_model_id != 0) {
                listed.push_back({config_.priority, placement.scheduler_model_id});
            }
        }
        return listed;
    }
    std::lock_guard lock(mutex_);
    std::vector<ServedInstance> listed;
    for (const auto& [priority, level] : instances_) {
        for (const auto& instance : level) {
            listed.push_back({priority, instance->configured.scheduler_model_id()});
        }
    }
    return listed;
}

Expected<std::shared_ptr<ServedModel::Instance>> ServedModel::instance_for(uint32_t priority) {
    std::lock_guard lock(mutex_);
    if (shut_down_) {
        return Status(StatusCode::SHUTDOWN, "model '" + name_ + "' version " + version_ +
                                                " was unloaded; load it again to serve it");
    }
    auto& level = instances_[priority];
    while (level.size() < config_.instance_count) {
        auto configured = model_->configure();
        if (!configured) {
            if (level.empty()) instances_.erase(priority);
            return configured.status();
        }
        CORUN_RETURN_IF_ERROR(configured.value().set_scheduler_priority(priority));
        if (config_.latency_slo_ms > 0) {
            CORUN_RETURN_IF_ERROR(configured.value().set_latency_slo(
                std::chrono::milliseconds(config_.latency_slo_ms)));
        }
        level.push_back(std::make_shared<Instance>(Instance{configured.release(), priority}));
    }
    return level[next_instance_++ % level.size()];
}

Expected<ServedModel::PreparedRequest> ServedModel::prepare(const InferRequest& request) const {
    const std::string model_label = "model '" + name_ + "'";
    PreparedRequest prepared;
    prepared.inputs.assign(inputs_.size(), nullptr);
    for (const auto& tensor : request.inputs) {
        auto found = std::find_if(inputs_.begin(), inputs_.end(), [&](const TensorMetadata& input) {
            return input.name == tensor.name;
        });
        if (found == inputs_.end()) {
            std::string names;
            for (const auto& input : inputs_)
                names += (names.empty() ? "'" : ", '") + input.name + "'";
            return Status(
                StatusCode::INVALID_ARGUMENT,
                model_label + " has no input '" + tensor.name + "'; its inputs: " + names);
        }
        prepared.inputs[static_cast<size_t>(found - inputs_.begin())] = &tensor;
    }
    bool frames_known = false;
    for (size_t i = 0; i < inputs_.size(); ++i) {
        const TensorMetadata& input = inputs_[i];
        const InferTensor* tensor = prepared.inputs[i];
        const std::string expected =
            datatype_text(input.type) + " of shape " + shape_text(input.shape);
        if (tensor == nullptr) {
            return Status(StatusCode::INVALID_ARGUMENT, model_label + " input '" + input.name +
                                                            "' (" + expected +
                                                            ") is missing from the request");
        }
        const std::string given =
            datatype_text(tensor->type) + " of shape " + shape_text(tensor->shape);
        if (tensor->type != input.type) {
            return Status(StatusCode::INVALID_ARGUMENT, model_label + " input '" + input.name +
                                                            "' takes " + expected +
                                                            "; the request gives " + given);
        }
        if (std::any_of(input.shape.begin(), input.shape.end(), [](int64_t d) { return d < 0; })) {
            return Status(StatusCode::NOT_SUPPORTED,
                          model_label + " input '" + input.name + "' has dynamic dimensions " +
                              shape_text(input.shape) +
                              "; the serving front runs models with fixed input shapes only "
                              "(export the model with fixed shapes)");
        }
        // The shape as it is, or N frames where the model's first dimension is 1.
        uint64_t frames = 0;
        if (tensor->shape == input.shape) {
            frames = 1;
        } else if (!input.shape.empty() && input.shape[0] == 1 &&
                   tensor->shape.size() == input.shape.size() && tensor->shape[0] >= 1 &&
                   std::equal(input.shape.begin() + 1, input.shape.end(),
                              tensor->shape.begin() + 1)) {
            frames = static_cast<uint64_t>(tensor->shape[0]);
        } else {
            return Status(StatusCode::INVALID_ARGUMENT,
                          model_label + " input '" + input.name + "' takes " + expected +
                              " (or N frames as [N,...] where the first dimension is 1); the "
                              "request gives " +
                              given);
        }
        if (frames_known && frames != prepared.frames) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          model_label + ": input '" + input.name + "' holds " +
                              std::to_string(frames) + " frames, an earlier input " +
                              std::to_string(prepared.frames) + "; every input must hold as many");
        }
        prepared.frames = frames;
        frames_known = true;
        if (input.type == FormatType::STRING) {
            if (frames != 1) {
                return Status(StatusCode::NOT_SUPPORTED,
                              model_label + " input '" + input.name +
                                  "' is BYTES: send one frame per request");
            }
        } else if (tensor->data.size() != input_frame_bytes_[i] * frames) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          model_label + " input '" + input.name + "' takes " +
                              std::to_string(input_frame_bytes_[i] * frames) + " bytes for " +
                              std::to_string(frames) + " frame(s); the request gives " +
                              std::to_string(tensor->data.size()));
        }
    }
    // Outputs: those asked for, in the order asked, else all of them.
    if (request.outputs.empty()) {
        for (size_t i = 0; i < outputs_.size(); ++i) {
            prepared.output_indices.push_back(i);
            prepared.binary_outputs.push_back(request.binary_data_output);
        }
    }
    for (const auto& requested : request.outputs) {
        auto found = std::find_if(
            outputs_.begin(), outputs_.end(),
            [&](const TensorMetadata& output) { return output.name == requested.name; });
        if (found == outputs_.end()) {
            std::string names;
            for (const auto& output : outputs_)
                names += (names.empty() ? "'" : ", '") + output.name + "'";
            return Status(
                StatusCode::INVALID_ARGUMENT,
                model_label + " has no output '" + requested.name + "'; its outputs: " + names);
        }
        prepared.output_indices.push_back(static_cast<size_t>(found - outputs_.begin()));
        prepared.binary_outputs.push_back(requested.binary_data);
    }
    for (size_t i = 0; i < outputs_.size(); ++i) {
        if (output_frame_bytes_[i] == 0) {
            return Status(
                StatusCode::NOT_SUPPORTED,
                model_label + " output '" + outputs_[i].name + "' (" +
                    datatype_text(outputs_[i].type) + " " + shape_text(outputs_[i].shape) +
                    ") has no fixed size; the serving front returns fixed-size outputs only");
        }
        if (outputs_[i].type == FormatType::STRING && prepared.frames != 1) {
            return Status(StatusCode::NOT_SUPPORTED, model_label + " output '" + outputs_[i].name +
                                                         "' is BYTES: send one frame per request");
        }
    }
    InferResponse& response = prepared.response;
    response.model_name = name_;
    response.model_version = version_;
    response.id = request.id;
    response.binary_outputs = prepared.binary_outputs;
    for (size_t index : prepared.output_indices) {
        InferTensor tensor;
        tensor.name = outputs_[index].name;
        tensor.type = outputs_[index].type;
        tensor.shape = outputs_[index].shape;
        if (!tensor.shape.empty() && prepared.frames > 1) {
            tensor.shape[0] *= static_cast<int64_t>(prepared.frames);
        }
        response.outputs.push_back(std::move(tensor));
    }
    return prepared;
}

std::vector<uint8_t*> ServedModel::output_buffers(
    PreparedRequest& prepared, std::vector<std::vector<uint8_t>>& unasked) const {
    // Outputs the client did not ask for still need a buffer: the model writes every output.
    unasked.assign(outputs_.size(), {});
    std::vector<uint8_t*> output_data(outputs_.size(), nullptr);
    for (size_t i = 0; i < prepared.output_indices.size(); ++i) {
        auto& tensor = prepared.response.outputs[i];
        tensor.data.resize(output_frame_bytes_[prepared.output_indices[i]] * prepared.frames);
        output_data[prepared.output_indices[i]] = tensor.data.data();
    }
    for (size_t i = 0; i < outputs_.size(); ++i) {
        if (output_data[i] == nullptr) {
            unasked[i].resize(output_frame_bytes_[i] * prepared.frames);
            output_data[i] = unasked[i].data();
        }
    }
    return output_data;
}

Status ServedModel::run_routed_frames(PreparedRequest& prepared,
                                      std::optional<Clock::time_point> deadline,
                                      InferTiming& timing, uint64_t& jobs) {
    std::vector<std::vector<uint8_t>> unasked;
    const std::vector<uint8_t*> output_data = output_buffers(prepared, unasked);
    const Clock::time_point wait_limit = Clock::now() + MAX_QUEUE_WAIT;
    std::vector<std::string> placements_used;
    for (uint64_t f = 0; f < prepared.frames; ++f) {
        std::map<std::string, MemoryView> buffers;
        for (size_t i = 0; i < inputs_.size(); ++i) {
            // corun reads inputs only; MemoryView is not const because outputs share it.
            auto* data =
                const_cast<uint8_t*>(prepared.inputs[i]->data.data()) + f * input_frame_bytes_[i];
            buffers[inputs_[i].name] = MemoryView(data, input_frame_bytes_[i]);
        }
        for (size_t i = 0; i < outputs_.size(); ++i) {
            buffers[outputs_[i].name] =
                MemoryView(output_data[i] + f * output_frame_bytes_[i], output_frame_bytes_[i]);
        }
        CORUN_TRY(auto bindings, routed_->create_bindings(buffers));
        while (true) {
            CORUN_TRY(auto job, deadline ? routed_->run_async(bindings, *deadline)
                                         : routed_->run_async(bindings));
            job.wait(std::chrono::milliseconds::max()).ignore();  // the status is info's
            CORUN_TRY(auto info, job.completion());
            if (info.status.is_ok()) {
                timing.queue_ns += info.timing.queue_ns;
                timing.device_ns += info.timing.device_ns;
                ++jobs;
                if (std::find(placements_used.begin(), placements_used.end(), info.placement) ==
                    placements_used.end()) {
                    placements_used.push_back(info.placement);
                }
                break;
            }
            // Every placement's queue was full: wait for room as a plain model does.
            const auto now = Clock::now();
            if (info.status.code() != StatusCode::QUEUE_IS_FULL || (deadline && now >= *deadline) ||
                (!deadline && now >= wait_limit)) {
                return info.status;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    for (const auto& label : placements_used) {
        prepared.response.placement += (prepared.response.placement.empty() ? "" : ",") + label;
    }
    return Status::ok();
}

Status ServedModel::run_frames(Instance& instance, PreparedRequest& prepared,
                               std::optional<Clock::time_point> deadline, InferTiming& timing,
                               uint64_t& jobs) {
    std::vector<std::vector<uint8_t>> unasked;
    const std::vector<uint8_t*> output_data = output_buffers(prepared, unasked);
    CORUN_TRY(const size_t queue_size, instance.configured.get_async_queue_size());
    const Clock::time_point wait_limit = Clock::now() + MAX_QUEUE_WAIT;
    uint64_t frame = 0;
    while (frame < prepared.frames) {
        const uint64_t count = std::min<uint64_t>(queue_size, prepared.frames - frame);
        std::vector<ConfiguredInferModel::Bindings> bindings;
        for (uint64_t f = frame; f < frame + count; ++f) {
            CORUN_TRY(auto frame_bindings, instance.configured.create_bindings());
            for (size_t i = 0; i < inputs_.size(); ++i) {
                const InferTensor& tensor = *prepared.inputs[i];
                const size_t size = inputs_[i].type == FormatType::STRING ? tensor.data.size()
                                                                          : input_frame_bytes_[i];
                // corun reads inputs only; MemoryView is not const because outputs share it.
                auto* data = const_cast<uint8_t*>(tensor.data.data()) + f * size;
                CORUN_TRY(auto stream, frame_bindings.input(inputs_[i].name));
                CORUN_RETURN_IF_ERROR(stream.set_buffer(MemoryView(data, size)));
            }
            for (size_t i = 0; i < outputs_.size(); ++i) {
                CORUN_TRY(auto stream, frame_bindings.output(outputs_[i].name));
                CORUN_RETURN_IF_ERROR(stream.set_buffer(MemoryView(
                    output_data[i] + f * output_frame_bytes_[i], output_frame_bytes_[i])));
            }
            bindings.push_back(std::move(frame_bindings));
        }
        InferTiming job_timing;
        auto callback = [&job_timing](const AsyncInferCompletionInfo& info) {
            job_timing = info.timing;  // the callback runs before wait() returns
        };
        Expected<AsyncInferJob> job = Status(StatusCode::QUEUE_IS_FULL, "");
        while (true) {
            // Without a deadline the frames run on this thread when a slot is free and the
            // policy picks them at once (as corund runs its clients' frames), saving a hand-off
            // to a scheduler worker; otherwise they are queued as by run_async.
            job = deadline ? instance.configured.run_async(bindings, *deadline, callback)
                           : runtime::run_async_on_caller(instance.configured, bindings, callback);
            if (job || job.status().code() != StatusCode::QUEUE_IS_FULL) break;
            const auto now = Clock::now();
            if (deadline && now >= *deadline) {
                return Status(StatusCode::DEADLINE_EXCEEDED,
                              "the request's timeout ran out while model '" + name_ +
                                  "' had no room in its queue");
            }
            if (!deadline && now >= wait_limit) {
                return Status(StatusCode::QUEUE_IS_FULL,
                              "model '" + name_ + "' had no room in its queue for " +
                                  std::to_string(MAX_QUEUE_WAIT.count()) + " s; try again later");
            }
            auto wait = QUEUE_POLL;
            if (deadline) {
                wait =
                    std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(*deadline - now));
            }
            instance.configured.wait_for_async_ready(wait, static_cast<uint32_t>(count)).ignore();
        }
        if (!job) return job.status();
        CORUN_RETURN_IF_ERROR(job.value().wait(INFINITE_TIMEOUT));
        for (auto& tensor : prepared.response.outputs) {
            if (tensor.type == FormatType::STRING) trim_to_elements(tensor);
        }
        timing.queue_ns += job_timing.queue_ns;
        timing.device_ns += job_timing.device_ns;
        ++jobs;
        frame += count;
    }
    return Status::ok();
}

Expected<InferResponse> ServedModel::infer(const InferRequest& request) {
    const auto start = Clock::now();
    const PendingRequest entered(statistics_);
    const uint64_t pending = entered.inside();
    auto fail = [&](const Status& status) -> Expected<InferResponse> {
        statistics_.record_failure(failure_reason_of(status.code()),
                                   microseconds_between(start, Clock::now()));
        return status;
    };
    if (pending > config_.max_queued_requests) {
        return fail(Status(StatusCode::QUEUE_IS_FULL,
                           "model '" + name_ + "' already has " +
                               std::to_string(config_.max_queued_requests) +
                               " requests waiting or running (its max_queued_requests); try "
                               "again later"));
    }
    auto prepared = prepare(request);
    if (!prepared) return fail(prepared.status());
    std::optional<Clock::time_point> deadline;
    if (request.timeout_us) {
        deadline = start + std::chrono::microseconds(
                               std::min<uint64_t>(*request.timeout_us, uint64_t{1} << 40));
    }
    InferTiming timing;
    uint64_t jobs = 0;
    Status ran = Status::ok();
    if (routed_) {
        // The config's priority on every placement: a routed model has one configured model
        // per placement, so a request's wire priority does not pick instances here.
        ran = run_routed_frames(prepared.value(), deadline, timing, jobs);
    } else {
        auto instance = instance_for(scheduler_priority_for(request.priority, config_.priority));
        if (!instance) return fail(instance.status());
        ran = run_frames(*instance.value(), prepared.value(), deadline, timing, jobs);
    }
    if (!ran.is_ok()) {
        return fail(ran.with_context("model '" + name_ + "' version " + version_));
    }
    statistics_.record_success(
        prepared.value().frames, jobs, static_cast<uint64_t>(timing.queue_ns / 1000),
        static_cast<uint64_t>(timing.device_ns / 1000), microseconds_between(start, Clock::now()));
    return std::move(prepared.value().response);
}

}  // namespace corun::serving
