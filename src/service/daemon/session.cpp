#include "service/daemon/session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "runtime/api_access.hpp"

namespace corun::service {
namespace {

std::atomic<uint64_t> last_daemon_model_id{0};

// The completion of the job that submit() is handing to the scheduler on this thread. Set only
// for the length of that call: a callback that finds its job here runs on the submitting
// thread (the frame ran there, or the scheduler refused it) and leaves its Completion here for
// submit() to return, instead of queueing it for the writer.
struct CompletionOnThisThread {
    uint64_t job_id = 0;
    std::optional<v1::ServerMessage> message;
};
thread_local CompletionOnThisThread* completion_on_this_thread = nullptr;

v1::ServerMessage error_completion(uint64_t job_id, const Status& status) {
    v1::ServerMessage message;
    message.mutable_completion()->set_job_id(job_id);
    *message.mutable_completion()->mutable_status() = to_proto(status);
    return message;
}

// "raise max_models_per_client (corund's config file, or --max-models-per-client)".
std::string how_to_raise(std::string key) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return "raise " + key + " (corund's config file, or " + flag + ")";
}

bool is_bindable_type(int32_t type) {
    return type > static_cast<int32_t>(FormatType::AUTO) &&
           type <= static_cast<int32_t>(FormatType::INT64);
}

// Bytes of one frame of `dims` x `type`, or 0 when a dim is not positive or the size
// exceeds `limit` (checked without overflow, so huge dims cannot make the daemon allocate).
uint64_t bounded_frame_bytes(const google::protobuf::RepeatedField<int64_t>& dims, FormatType type,
                             uint64_t limit) {
    uint64_t bytes = format_type_size(type);
    for (int64_t dim : dims) {
        if (dim <= 0) return 0;
        if (bytes > limit / static_cast<uint64_t>(dim)) return 0;
        bytes *= static_cast<uint64_t>(dim);
    }
    return bytes <= limit ? bytes : 0;
}

std::string dims_text(const google::protobuf::RepeatedField<int64_t>& dims) {
    return shape_text(std::vector<int64_t>(dims.begin(), dims.end()));
}

// A native tensor spec from the client: a bindable type and positive dims whose frame fits in
// what the client may register.
Status check_spec(const v1::TensorSpec& spec, const std::string& what, uint64_t limit) {
    if (!is_bindable_type(spec.element_type())) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has element_type " + std::to_string(spec.element_type()) +
                          ", which is no corun::FormatType corun binds (1..6: UINT8 .. INT64)");
    }
    if (bounded_frame_bytes(spec.dims(), static_cast<FormatType>(spec.element_type()), limit) ==
        0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has dims " + dims_text(spec.dims()) +
                          "; every dimension must be positive and one frame must fit in the "
                          "client's shared-memory limit (" +
                          std::to_string(limit) + " bytes)");
    }
    return Status::ok();
}

bool has_dynamic_dim(const std::vector<int64_t>& dims) {
    return std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
}

// The stream names a request must list, in order, or INVALID_ARGUMENT naming them.
Status check_stream_names(const google::protobuf::RepeatedPtrField<v1::TensorSpec>& specs,
                          const std::vector<InferModel::InferStream>& streams,
                          const std::string& kind, const std::string& model_name) {
    std::string expected;
    for (const auto& stream : streams)
        expected += (expected.empty() ? "'" : ", '") + stream.name() + "'";
    bool matches = static_cast<size_t>(specs.size()) == streams.size();
    for (size_t i = 0; matches && i < streams.size(); ++i) {
        matches = specs[static_cast<int>(i)].name() == streams[i].name();
    }
    if (matches) return Status::ok();
    return Status(StatusCode::INVALID_ARGUMENT,
                  "model '" + model_name + "' has " + std::to_string(streams.size()) + " " + kind +
                      "(s) (" + expected + "); the request lists " + std::to_string(specs.size()) +
                      ". Give one native " + kind + " spec per stream, in this order");
}

Status apply_scheduling(ConfiguredInferModel& configured, const v1::SchedulingParams& scheduling,
                        SchedulingAlgorithm algorithm) {
    // Under SchedulingAlgorithm::NONE the runtime refuses every knob; defaults need no call.
    const uint32_t threshold = std::max<uint32_t>(1, scheduling.threshold());
    if (algorithm == SchedulingAlgorithm::NONE && scheduling.priority() == 16 && threshold == 1 &&
        scheduling.timeout_ms() == 0) {
        return Status::ok();
    }
    CORUN_RETURN_IF_ERROR(configured.set_scheduler_priority(scheduling.priority()));
    CORUN_RETURN_IF_ERROR(configured.set_scheduler_threshold(threshold));
    return configured.set_scheduler_timeout(std::chrono::milliseconds(scheduling.timeout_ms()));
}

}  // namespace

v1::Status to_proto(const Status& status) {
    v1::Status proto;
    proto.set_code(static_cast<int32_t>(status.code()));
    proto.set_message(status.message());
    return proto;
}

// ---- CompletionOutbox ----

void CompletionOutbox::push(v1::ServerMessage message, std::shared_ptr<ModelActivity> activity) {
    if (activity) ++activity->results_waiting_out;
    {
        std::lock_guard lock(mutex_);
        entries_.push_back({std::move(message), std::move(activity)});
    }
    changed_.notify_all();
}

bool CompletionOutbox::pop(v1::ServerMessage& message, std::shared_ptr<ModelActivity>& activity) {
    std::unique_lock lock(mutex_);
    changed_.wait(
        lock, [&] { return (closed_ && entries_.empty()) || (!entries_.empty() && !writing_); });
    if (entries_.empty()) return false;
    writing_ = true;
    message = std::move(entries_.front().message);
    activity = std::move(entries_.front().activity);
    entries_.pop_front();
    lock.unlock();
    if (activity) --activity->results_waiting_out;
    changed_.notify_all();
    return true;
}

bool CompletionOutbox::try_claim_write() {
    std::lock_guard lock(mutex_);
    if (writing_ || !entries_.empty()) return false;
    writing_ = true;
    return true;
}

void CompletionOutbox::write_done() {
    bool queued = false;
    {
        std::lock_guard lock(mutex_);
        writing_ = false;
        queued = !entries_.empty();
    }
    // Only a queued completion waits for the stream; waking the writer for nothing would cost
    // a context switch per completion.
    if (queued) changed_.notify_all();
}

bool CompletionOutbox::wait_for_room(size_t limit, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return closed_ || entries_.size() < limit; });
}

void CompletionOutbox::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    changed_.notify_all();
}

size_t CompletionOutbox::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

// ---- Session ----

// The session's models and regions as request validation sees them (under mutex_).
class ClientSession::Scope : public RequestScope {
public:
    explicit Scope(const ClientSession& session) : session_(session) {}
    const ModelLayout* find_model(uint64_t model_id) const override {
        auto found = session_.served_models_.find(model_id);
        return found == session_.served_models_.end() ? nullptr : &found->second->layout;
    }
    const MappedRegion* find_region(uint64_t buffer_id) const override {
        auto found = session_.buffers_.find(buffer_id);
        if (found == session_.buffers_.end()) return nullptr;
        regions_.push_back({buffer_id, found->second->data(), found->second->size()});
        return &regions_.back();
    }

private:
    const ClientSession& session_;
    mutable std::deque<MappedRegion> regions_;  // stable addresses for the returned pointers
};

ClientSession::ClientSession(uint64_t id, SessionOwner owner, std::unique_ptr<VDevice> vdevice,
                             DaemonLimits limits,
                             std::shared_ptr<ClientAccount> account, LoadMemoryMeter& load_memory,
                             std::shared_ptr<AccountCharge> worker_threads)
    : id_(id),
      owner_(std::move(owner)),
      vdevice_(std::move(vdevice)),
      limits_(limits),
      account_(std::move(account)),
      load_memory_(load_memory),
      worker_threads_(std::move(worker_threads)) {}

Status ClientSession::models_over_limit(size_t count, const char* state,
                                        const char* release_call) const {
    return Status(StatusCode::RESOURCE_LIMIT,
                  "this client has " + std::to_string(count) + " " + state +
                      " models, corund's limit per client; release one (" + release_call + ") or " +
                      how_to_raise("max_models_per_client"));
}

ClientSession::~ClientSession() {
    release();
}

Expected<uint64_t> ClientSession::register_buffer(const std::string& shm_name, uint64_t size) {
    if (!is_valid_shm_name(shm_name)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "shared-memory name '" + shm_name.substr(0, 80) +
                          "' is not of the form /corun.<pid>.<n>; corund opens only regions "
                          "named so");
    }
    if (size == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "RegisterBuffer of '" + shm_name + "' with size 0; give the region's size");
    }
    {
        std::lock_guard lock(mutex_);
        if (size > limits_.max_shm_bytes_per_client -
                       std::min(shm_bytes_, limits_.max_shm_bytes_per_client)) {
            return Status(StatusCode::RESOURCE_LIMIT,
                          "registering " + std::to_string(size) +
                              " more bytes of shared memory "
                              "would exceed this client's limit of " +
                              std::to_string(limits_.max_shm_bytes_per_client) + " bytes (" +
                              std::to_string(shm_bytes_) + " registered); release buffers, or " +
                              how_to_raise("max_shm_bytes_per_client"));
        }
    }
    // A client may register only its own user's regions (root's clients: any, as root can
    // open them anyway).
    std::optional<uint32_t> owner_uid;
    if (owner_.credentials.known && owner_.credentials.uid != 0) owner_uid = owner_.credentials.uid;
    CORUN_TRY(auto mapping, SharedMemoryMapping::open(shm_name, size, owner_uid));
    std::lock_guard lock(mutex_);
    if (released_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    if (size >
        limits_.max_shm_bytes_per_client - std::min(shm_bytes_, limits_.max_shm_bytes_per_client)) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "shared memory of this client is over its limit of " +
                          std::to_string(limits_.max_shm_bytes_per_client) + " bytes");
    }
    shm_bytes_ += size;
    const uint64_t buffer_id = ++last_buffer_id_;
    buffers_[buffer_id] = std::move(mapping);
    return buffer_id;
}

Status ClientSession::release_buffer(uint64_t buffer_id) {
    std::lock_guard lock(mutex_);
    auto found = buffers_.find(buffer_id);
    if (found == buffers_.end()) {
        return Status(StatusCode::NOT_FOUND, "buffer_id " + std::to_string(buffer_id) +
                                                 " is not registered in this session");
    }
    if (const uint64_t frames = found->second->frames_in_flight.load(); frames > 0) {
        return Status(StatusCode::INVALID_OPERATION,
                      "buffer_id " + std::to_string(buffer_id) + " is used by " +
                          std::to_string(frames) +
                          " frame(s) queued or running; wait for their completions (or shut the "
                          "model down) before releasing it");
    }
    shm_bytes_ -= found->second->size();
    buffers_.erase(found);  // unmapped once no finished job holds it any more
    return Status::ok();
}

Expected<std::shared_ptr<LoadedModelEntry>> ClientSession::load_model(
    const v1::LoadModelRequest& request) {
    const std::string& name = request.name();
    const std::string& onnx_bytes = request.onnx();
    uint64_t sent_bytes = onnx_bytes.size();
    for (const auto& file : request.external_data()) sent_bytes += file.content().size();
    if (sent_bytes > limits_.max_model_bytes) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "model '" + name + "' has " + std::to_string(sent_bytes) +
                          " bytes (external data included), over corund's limit of " +
                          std::to_string(limits_.max_model_bytes) + " bytes per model; " +
                          how_to_raise("max_model_bytes"));
    }
    {
        std::lock_guard lock(mutex_);
        if (loaded_models_.size() >= limits_.max_models_per_client) {
            return models_over_limit(loaded_models_.size(), "loaded", "ReleaseLoadedModel");
        }
    }
    if (onnx_bytes.empty()) {
        return Status(StatusCode::INVALID_MODEL, "model '" + name + "' is empty (0 bytes)");
    }
    ModelInfo info;
    info.name = name.empty() ? "model" : name;
    const auto* data = reinterpret_cast<const uint8_t*>(onnx_bytes.data());

    auto entry = std::make_shared<LoadedModelEntry>();
    // Models with their own intra-op pools make threads: counted for the user before loading.
    const uint32_t intra_op_threads = vdevice_->params().cpu.intra_op_threads;
    if (intra_op_threads > 0) {
        CORUN_TRY(
            auto threads,
            charge_account(account_, ClientAccount::Resource::THREADS,
                           uint64_t{intra_op_threads} * vdevice_->physical_devices().size(),
                           limits_.max_threads_per_client,
                           "loading model '" + info.name + "' with its own intra-op threads"));
        entry->charges.push_back(std::move(threads));
    }
    // Every file the model names comes with it; corund opens none (load_infer_model refuses a
    // model naming one that was not sent, and the device is given no folder to look in).
    ModelLoadExtras extras;
    for (const auto& file : request.external_data()) {
        extras.external_data.push_back(
            {file.location(), std::vector<uint8_t>(file.content().begin(), file.content().end())});
    }
    // No tensor folded at load may be larger than what the user may still take in all.
    const uint64_t memory_left = limits_.max_model_memory_per_client -
                                 std::min(limits_.max_model_memory_per_client,
                                          account_->held(ClientAccount::Resource::MODEL_MEMORY));
    extras.constant_folding_max_bytes = std::max<uint64_t>(1, memory_left);

    // Loading takes long (an ONNX Runtime session); other calls of the session go on meanwhile.
    // Loads are measured one at a time: the daemon's growth while this one runs is its cost.
    Expected<std::shared_ptr<InferModel>> loaded =
        Status(StatusCode::INTERNAL_FAILURE, "not loaded");
    const LoadMemory memory = load_memory_.measure([&] {
        loaded = runtime::load_infer_model(*vdevice_,
                                           std::span<const uint8_t>(data, onnx_bytes.size()),
                                  std::move(info), std::move(extras));
    });
    CORUN_TRY(auto model, std::move(loaded));
    // The peak must fit; what stays is held until the model is gone.
    CORUN_RETURN_IF_ERROR(account_->charge(
        ClientAccount::Resource::MODEL_MEMORY, memory.peak_bytes,
        limits_.max_model_memory_per_client,
        "loading model '" + model->info().name + "' (the daemon's peak growth while loading it)"));
    account_->refund(ClientAccount::Resource::MODEL_MEMORY, memory.peak_bytes);
    CORUN_TRY(
        auto retained,
        charge_account(account_, ClientAccount::Resource::MODEL_MEMORY, memory.retained_bytes,
                       limits_.max_model_memory_per_client, "model '" + model->info().name + "'"));
    entry->charges.push_back(std::move(retained));
    entry->name = model->info().name;
    entry->model = std::move(model);
    std::lock_guard lock(mutex_);
    if (released_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    // Again: loads of one session run side by side, each checked before it began.
    if (loaded_models_.size() >= limits_.max_models_per_client) {
        return models_over_limit(loaded_models_.size(), "loaded", "ReleaseLoadedModel");
    }
    entry->loaded_model_id = ++last_loaded_model_id_;
    loaded_models_[entry->loaded_model_id] = entry;
    return entry;
}

Expected<std::shared_ptr<LoadedModelEntry>> ClientSession::find_loaded(
    uint64_t loaded_model_id) const {
    std::lock_guard lock(mutex_);
    auto found = loaded_models_.find(loaded_model_id);
    if (found == loaded_models_.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "loaded_model_id " + std::to_string(loaded_model_id) +
                          " is not a model loaded by this session; use the id LoadModel returned");
    }
    return found->second;
}

Expected<std::shared_ptr<ServedModel>> ClientSession::find_served(uint64_t model_id) const {
    std::lock_guard lock(mutex_);
    auto found = served_models_.find(model_id);
    if (found == served_models_.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "model_id " + std::to_string(model_id) +
                          " is not a configured model of this session; use the id "
                          "ConfigureModel returned on this session");
    }
    return found->second;
}

Expected<std::vector<devices::TensorSpec>> ClientSession::output_dims(
    uint64_t loaded_model_id, const google::protobuf::RepeatedPtrField<v1::TensorSpec>& inputs) {
    CORUN_TRY(auto entry, find_loaded(loaded_model_id));
    CORUN_RETURN_IF_ERROR(check_stream_names(inputs, entry->model->inputs(), "input", entry->name));
    std::vector<devices::TensorSpec> specs;
    for (const auto& input : inputs) {
        CORUN_RETURN_IF_ERROR(
            check_spec(input, "input '" + input.name() + "'", limits_.max_shm_bytes_per_client));
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

Expected<uint64_t> ClientSession::configure_model(const v1::ConfigureModelRequest& request) {
    CORUN_TRY(auto entry, find_loaded(request.loaded_model_id()));
    {
        std::lock_guard lock(mutex_);
        if (served_models_.size() >= limits_.max_models_per_client) {
            return models_over_limit(served_models_.size(), "configured", "ReleaseModel");
        }
    }
    InferModel& model = *entry->model;
    CORUN_RETURN_IF_ERROR(
        check_stream_names(request.native_inputs(), model.inputs(), "input", entry->name));
    CORUN_RETURN_IF_ERROR(
        check_stream_names(request.native_outputs(), model.outputs(), "output", entry->name));

    std::lock_guard configure_lock(entry->configure_mutex);
    ModelLayout layout;
    layout.name = request.name().empty() ? entry->name : request.name();
    // Each stream takes its native type and order, so the daemon never converts: the client did.
    auto prepare = [&](const v1::TensorSpec& spec, const InferModel::InferStream& stream,
                       std::vector<NativeStream>& streams) -> Status {
        const std::string what =
            std::string(stream.is_input() ? "input '" : "output '") + stream.name() + "'";
        CORUN_RETURN_IF_ERROR(check_spec(spec, what, limits_.max_shm_bytes_per_client));
        const Format native = stream.native_format();
        if (spec.element_type() != static_cast<int32_t>(native.type)) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what + " is " + format_type_name(native.type) +
                              " natively; the request gives element_type " +
                              std::to_string(spec.element_type()) +
                              ". Send native specs: the client converts formats");
        }
        stream.set_format_type(native.type);
        stream.set_format_order(native.order);
        const std::vector<int64_t> dims(spec.dims().begin(), spec.dims().end());
        const auto& declared = runtime::declared_tensor(stream).dims;
        if (has_dynamic_dim(declared)) {
            CORUN_RETURN_IF_ERROR(stream.set_shape(dims).with_context(what));
        } else if (stream.is_input() && dims != stream.native_shape()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what + " has the fixed shape " + shape_text(stream.native_shape()) +
                              "; the request gives " + shape_text(dims));
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
    if (request.batch_size() > InferModel::MAX_BATCH_SIZE) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "batch_size " + std::to_string(request.batch_size()) +
                          " is out of range; use 1.." + std::to_string(InferModel::MAX_BATCH_SIZE));
    }
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
            if (binding->get_frame_size() != stream.frame_bytes) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              std::string(inputs ? "input '" : "output '") + stream.name +
                                  "' takes " + std::to_string(binding->get_frame_size()) +
                                  " bytes per frame as configured, but the request's native "
                                  "spec gives " +
                                  std::to_string(stream.frame_bytes) +
                                  "; ask OutputDims for the output shapes first");
            }
        }
    }
    CORUN_TRY(size_t queue_size, configured.get_async_queue_size());
    if (request.queue_size() > queue_size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "queue_size " + std::to_string(request.queue_size()) +
                          " is larger than the daemon's queue for batch size " +
                          std::to_string(layout.batch_size) + " (" + std::to_string(queue_size) +
                          " frames, 2 x batch size); ask for at most that");
    }
    auto served = std::make_shared<ServedModel>(configured);
    if (request.has_scheduling()) {
        CORUN_RETURN_IF_ERROR(apply_scheduling(served->configured, request.scheduling(),
                                               vdevice_->params().scheduling_algorithm));
        served->priority = request.scheduling().priority();
    }
    served->model_id = ++last_daemon_model_id;
    served->loaded_model_id = entry->loaded_model_id;
    served->charges = entry->charges;
    served->queue_capacity = static_cast<uint32_t>(queue_size);
    layout.model_id = served->model_id;
    served->layout = std::move(layout);
    std::lock_guard lock(mutex_);
    if (released_) {
        served->configured.shutdown().ignore();
        return Status(StatusCode::SHUTDOWN, "the session is being released");
    }
    // Again: configurations of one session run side by side, each checked before it began.
    if (served_models_.size() >= limits_.max_models_per_client) {
        served->configured.shutdown().ignore();
        return models_over_limit(served_models_.size(), "configured", "ReleaseModel");
    }
    served_models_[served->model_id] = served;
    spdlog::debug("session {}: configured model '{}' as model_id {} (batch {}, queue {})", id_,
                  served->layout.name, served->model_id, served->layout.batch_size, queue_size);
    return served->model_id;
}

Status ClientSession::set_scheduling(uint64_t model_id, const v1::SchedulingParams& scheduling) {
    CORUN_TRY(auto served, find_served(model_id));
    CORUN_RETURN_IF_ERROR(
        apply_scheduling(served->configured, scheduling, vdevice_->params().scheduling_algorithm));
    served->priority = scheduling.priority();
    return Status::ok();
}

Status ClientSession::shutdown_model(uint64_t model_id) {
    CORUN_TRY(auto served, find_served(model_id));
    return served->configured.shutdown();
}

Status ClientSession::release_model(uint64_t model_id) {
    std::shared_ptr<ServedModel> served;
    {
        std::lock_guard lock(mutex_);
        auto found = served_models_.find(model_id);
        if (found == served_models_.end()) {
            return Status(StatusCode::NOT_FOUND, "model_id " + std::to_string(model_id) +
                                                     " is not a configured model of this session");
        }
        served = std::move(found->second);
        served_models_.erase(found);
    }
    // Outside the lock: shutdown waits for running frames, whose callbacks need no session lock.
    return served->configured.shutdown();
}

Status ClientSession::release_loaded_model(uint64_t loaded_model_id) {
    std::lock_guard lock(mutex_);
    // Configured models keep what they need of it; this only drops the session's handle.
    if (loaded_models_.erase(loaded_model_id) == 0) {
        return Status(StatusCode::NOT_FOUND, "loaded_model_id " + std::to_string(loaded_model_id) +
                                                 " is not a model loaded by this session");
    }
    return Status::ok();
}

std::vector<std::shared_ptr<ServedModel>> ClientSession::served_models() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<ServedModel>> models;
    for (const auto& [id, model] : served_models_) models.push_back(model);
    return models;
}

std::vector<v1::ModelStats> ClientSession::scheduler_stats() {
    // Only this session's models: other clients' model names are theirs (Monitor shows all).
    const auto models = served_models();
    std::vector<v1::ModelStats> stats;
    for (const auto& scheduled : vdevice_->get_scheduler_stats()) {
        for (const auto& served : models) {
            if (served->configured.scheduler_model_id() != scheduled.model_id) continue;
            v1::ModelStats& model = stats.emplace_back();
            model.set_model_id(served->model_id);
            model.set_name(served->layout.name);
            model.mutable_scheduling()->set_priority(scheduled.priority);
            model.mutable_scheduling()->set_burst(served->layout.batch_size);
            model.set_frames_done(scheduled.frames_done);
            model.set_device_time_ns(scheduled.device_time_ns);
            model.set_switches_in(scheduled.switches);
            model.set_frames_queued(scheduled.frames_queued);
            model.set_frames_running(scheduled.frames_running);
            model.set_queue_capacity(scheduled.queue_capacity);
            model.set_latency_p50_ms(scheduled.latency_p50_ms);
            model.set_latency_p95_ms(scheduled.latency_p95_ms);
            model.set_max_overtaken_by(scheduled.max_overtaken_by);
        }
    }
    return stats;
}

std::optional<v1::ServerMessage> ClientSession::submit(const v1::InferRequest& request,
                                                       std::shared_ptr<FastLaneServer> lane) {
    std::shared_ptr<ServedModel> served;
    std::vector<std::shared_ptr<SharedMemoryMapping>> pinned;
    std::vector<ResolvedFrame> frames;
    {
        std::lock_guard lock(mutex_);
        Scope scope(*this);
        auto resolved = resolve_infer_request(request, scope);
        if (!resolved) return error_completion(request.job_id(), resolved.status());
        served = served_models_.at(request.model_id());
        frames = std::move(resolved->frames);
        // Counted in use under the lock that resolved them, so that a ReleaseBuffer cannot
        // succeed between here and the frame holding them; every refusal below unpins.
        for (uint64_t buffer_id : resolved->buffer_ids) {
            pinned.push_back(buffers_.at(buffer_id));
            pinned.back()->frames_in_flight += frames.size();
        }
    }
    const auto frame_count = static_cast<uint64_t>(frames.size());
    auto unpin = [&] {
        for (const auto& mapping : pinned) mapping->frames_in_flight -= frame_count;
    };
    for (const auto& mapping : pinned) {
        if (mapping->faulted()) {
            unpin();
            return error_completion(request.job_id(), mapping->fault_status());
        }
    }
    const uint64_t before = frames_in_flight_->fetch_add(frame_count);
    if (before + frame_count > limits_.max_queued_frames_per_client) {
        frames_in_flight_->fetch_sub(frame_count);
        unpin();
        return error_completion(
            request.job_id(),
            Status(StatusCode::RESOURCE_LIMIT,
                   "this client has " + std::to_string(before) +
                       " frames queued or running, and corund allows " +
                       std::to_string(limits_.max_queued_frames_per_client) +
                       " per client; wait for completions before sending more, or " +
                       how_to_raise("max_queued_frames_per_client")));
    }
    std::vector<ConfiguredInferModel::Bindings> bindings;
    bindings.reserve(frames.size());
    const auto& layout = served->layout;
    for (const auto& frame : frames) {
        auto created = served->configured.create_bindings();
        Status bound = created.status();
        for (size_t s = 0; bound.is_ok() && s < layout.inputs.size(); ++s) {
            auto stream = created->input(layout.inputs[s].name);
            bound = stream ? stream->set_buffer(frame.inputs[s]) : stream.status();
        }
        for (size_t s = 0; bound.is_ok() && s < layout.outputs.size(); ++s) {
            auto stream = created->output(layout.outputs[s].name);
            bound = stream ? stream->set_buffer(frame.outputs[s]) : stream.status();
        }
        if (!bound.is_ok()) {
            frames_in_flight_->fetch_sub(frame_count);
            unpin();
            return error_completion(request.job_id(), bound);
        }
        bindings.push_back(created.release());
    }
    if (lane) served->fast_lane_frames += frame_count;
    // The callback holds only what cannot block when it is dropped on a worker thread: the
    // outbox, the activity counters and the regions (unmapped when the last holder goes).
    auto callback = [outbox = outbox_, activity = served->activity, counter = frames_in_flight_,
                     pinned, frame_count, lane,
                     job_id = request.job_id()](const AsyncInferCompletionInfo& info) {
        for (const auto& mapping : pinned) mapping->frames_in_flight -= frame_count;
        counter->fetch_sub(frame_count);
        if (info.status.is_ok()) {
            activity->record(ModelActivity::Clock::now(), static_cast<uint32_t>(frame_count),
                             info.timing.queue_ns + info.timing.device_ns, info.timing.device_ns);
        }
        // A region the client shrank while the frame ran read as zeros: the result is void.
        Status status = info.status;
        for (const auto& mapping : pinned) {
            if (status.is_ok() && mapping->faulted()) status = mapping->fault_status();
        }
        v1::ServerMessage message;
        v1::Completion& completion = *message.mutable_completion();
        completion.set_job_id(job_id);
        *completion.mutable_status() = to_proto(status);
        completion.set_queue_ns(info.timing.queue_ns);
        completion.set_device_ns(info.timing.device_ns);
        if (completion_on_this_thread != nullptr && completion_on_this_thread->job_id == job_id) {
            completion_on_this_thread->message = std::move(message);
        } else if (lane) {
            lane->complete(message.completion());
        } else {
            outbox->push(std::move(message), activity);
        }
    };
    // A fast-lane frame (a synchronous run(), the latency-bound case) of a client with nothing
    // else in flight runs on the lane's thread when a slot is free and the policy picks it now;
    // else it is queued as by run_async. Stream requests are always queued: while the stream's
    // reader ran one frame it would read none of the next, and the client's other frames would
    // wait in the socket instead of the scheduler's queues. "Nothing else in flight" counts
    // only frames corund holds, not those on their way, so serving stream requests inline made
    // a client pumping several models run them in arrival order, one at a time (4 models in
    // one process: 210 FPS in lockstep, 422 FPS with fair device time once queued).
    CompletionOnThisThread here{request.job_id(), std::nullopt};
    completion_on_this_thread = &here;
    auto job = lane && before == 0 ? runtime::run_async_on_caller(
                                         served->configured, bindings, std::move(callback))
                                   : served->configured.run_async(bindings, std::move(callback));
    completion_on_this_thread = nullptr;
    if (job) {
        job->detach();
        return std::move(here.message);  // empty unless the frame ran on this thread
    }
    // Refused. By the scheduler: the job was completed through the callback, on this thread.
    // Before queueing (QUEUE_IS_FULL, SHUTDOWN, ...): no callback ran, so undo what it would have.
    if (here.message) return std::move(here.message);
    unpin();
    frames_in_flight_->fetch_sub(frame_count);
    return error_completion(request.job_id(), job.status());
}

bool ClientSession::attach_stream() {
    bool expected = false;
    return stream_attached_.compare_exchange_strong(expected, true);
}

Status ClientSession::open_fast_lane(uint64_t buffer_id) {
    std::lock_guard lock(mutex_);
    if (released_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    if (fast_lane_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this session already has a fast lane; a session opens one");
    }
    auto found = buffers_.find(buffer_id);
    if (found == buffers_.end()) {
        return Status(StatusCode::NOT_FOUND, "buffer_id " + std::to_string(buffer_id) +
                                                 " is not a registered buffer of this session; "
                                                 "RegisterBuffer the lane's region first");
    }
    if (found->second->size() < FAST_LANE_BYTES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "buffer_id " + std::to_string(buffer_id) + " holds " +
                          std::to_string(found->second->size()) + " bytes; a fast lane needs " +
                          std::to_string(FAST_LANE_BYTES));
    }
    fast_lane_ = FastLaneServer::start(*this, found->second);
    spdlog::debug("session {}: fast lane open on '{}'", id_, found->second->name());
    return Status::ok();
}

void ClientSession::release() {
    std::map<uint64_t, std::shared_ptr<ServedModel>> served;
    std::shared_ptr<FastLaneServer> lane;
    {
        std::lock_guard lock(mutex_);
        if (released_) return;
        released_ = true;
        served.swap(served_models_);
        lane.swap(fast_lane_);
    }
    // Running frames are stopped, not waited for: a client that went away (or SIGTERM) must not
    // leave a frame with an endless Loop holding a device slot and this session forever. First
    // of all, since the lane thread may be running one of them itself.
    for (auto& [id, model] : served) {
        runtime::terminate_running_frames(model->configured);
    }
    // Then the lane, so that no lane request arrives while the models shut down; the lane
    // thread may be inside submit(), which takes mutex_, so this waits outside it.
    if (lane) lane->stop();
    for (auto& [id, model] : served) model->configured.shutdown().ignore();
    served.clear();
    std::lock_guard lock(mutex_);
    loaded_models_.clear();
    buffers_.clear();
    shm_bytes_ = 0;
}

}  // namespace corun::service
