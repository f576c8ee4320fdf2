#include "runtime/local_backend.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>

#include "devices/device_registry.hpp"
#include "runtime/local_execution.hpp"
#include "runtime/monitor/in_process_monitor.hpp"
#include "scheduler/model_scheduler.hpp"

namespace corun::runtime {
namespace {

// Every local backend alive, for the in-process monitor. Never destroyed: the monitor's
// sampler thread may read it while the process exits and static destructors run.
std::mutex& backends_mutex = *new std::mutex;
std::set<LocalBackend*>& live_backends() {
    static auto* backends = new std::set<LocalBackend*>;
    return *backends;
}

// Nearest-rank percentile of nanosecond samples, in milliseconds; 0 without samples.
double percentile_ms(std::vector<int64_t>& samples, int percent) {
    if (samples.empty()) return 0;
    const size_t rank = (samples.size() * static_cast<size_t>(percent) + 99) / 100;
    const size_t index = rank == 0 ? 0 : rank - 1;
    std::nth_element(samples.begin(), samples.begin() + static_cast<ptrdiff_t>(index),
                     samples.end());
    return static_cast<double>(samples[index]) / 1e6;
}

// The scheduler's deadline figures of one model, in the API's units.
void fill_deadline_stats(const scheduler::ModelSchedulingStats& model, ScheduledModelStats& stats) {
    stats.latency_slo_ms = static_cast<double>(model.params.latency_slo.count()) / 1e6;
    stats.deadline_admitted = model.deadlines.admitted;
    stats.deadline_refused = model.deadlines.refused_predicted_late;
    stats.deadline_dropped = model.deadlines.dropped_late_in_queue;
    stats.deadline_finished_late = model.deadlines.finished_late;
    stats.deadline_met = model.deadlines.finished_in_time;
    stats.predicted_latency_ms =
        model.predicted_latency_ns < 0 ? -1 : static_cast<double>(model.predicted_latency_ns) / 1e6;
}

// What the in-process monitor shows: every local group of this process.
std::vector<monitor::GroupSample> sample_live_backends() {
    std::lock_guard lock(backends_mutex);
    std::vector<monitor::GroupSample> samples;
    for (const LocalBackend* backend : live_backends()) {
        monitor::GroupSample sample;
        sample.group_id = backend->params().group_id;
        sample.devices = backend->describe_devices();
        sample.slots = backend->execution_slots();
        sample.models = backend->scheduler_stats();
        sample.generative = backend->sample_generative_records();
        samples.push_back(std::move(sample));
    }
    return samples;
}

}  // namespace

Expected<std::unique_ptr<Backend>> LocalBackend::create(const VDeviceParams& params) {
    std::vector<std::shared_ptr<devices::Device>> opened;
    for (const auto& id : devices::DeviceRegistry::instance().resolved_ids(params)) {
        CORUN_TRY(auto device, devices::DeviceRegistry::instance().create(id, params));
        opened.push_back(std::move(device));
    }
    std::unique_ptr<LocalBackend> backend(new LocalBackend(params, std::move(opened)));
    {
        std::lock_guard lock(backends_mutex);
        live_backends().insert(backend.get());
    }
    if (monitor::monitoring_requested(params)) {
        monitor::start_in_process_monitor(params, sample_live_backends);
    }
    return std::unique_ptr<Backend>(std::move(backend));
}

LocalBackend::LocalBackend(VDeviceParams params,
                           std::vector<std::shared_ptr<devices::Device>> devices)
    : params_(std::move(params)), devices_(std::move(devices)) {
    std::vector<scheduler::DeviceSlots> slots;
    for (const auto& device : devices_) {
        // Without a scheduler HailoRT runs one model at a time; so does corun.
        if (params_.scheduling_algorithm == SchedulingAlgorithm::NONE) {
            slots.push_back({1, 0});
        } else {
            slots.push_back({device->execution_slots(), device->latency_slots(),
                             device->one_burst_per_model()});
        }
    }
    scheduler::PolicyOptions options;
    options.fair_device_time = params_.scheduler.fair_device_time;
    options.aging_step = params_.scheduler.aging_step;
    options.anticipation = params_.scheduler.anticipation;
    options.arrival_order = params_.scheduling_algorithm == SchedulingAlgorithm::NONE;
    scheduler_ = std::make_unique<scheduler::ModelScheduler>(slots, options);
}

LocalBackend::~LocalBackend() {
    {
        std::lock_guard lock(backends_mutex);
        live_backends().erase(this);
    }
    scheduler_->stop();
}

std::vector<DeviceDescription> LocalBackend::describe_devices() const {
    std::vector<DeviceDescription> descriptions;
    for (const auto& device : devices_) descriptions.push_back(device->describe());
    return descriptions;
}

uint32_t LocalBackend::execution_slots() const {
    uint32_t slots = 0;
    for (const auto& device : devices_) slots += device->execution_slots();
    return slots;
}

std::vector<ScheduledModelStats> LocalBackend::scheduler_stats() const {
    std::vector<ScheduledModelStats> all;
    for (auto& model : scheduler_->stats()) {
        ScheduledModelStats stats{model.model_id,     model.name,           model.params.priority,
                                  model.frames_done,  model.device_time_ns, model.switches_in,
                                  model.frames_queued};
        stats.frames_running = model.frames_running;
        stats.queue_capacity = 2 * model.params.burst;
        stats.latency_p50_ms = percentile_ms(model.recent_latency_ns, 50);
        stats.latency_p95_ms = percentile_ms(model.recent_latency_ns, 95);
        stats.max_overtaken_by = model.max_overtaken_by;
        fill_deadline_stats(model, stats);
        all.push_back(std::move(stats));
    }
    return all;
}

Expected<std::shared_ptr<BackendModel>> LocalBackend::load_model(
    const devices::ModelSource& source) {
    std::vector<std::shared_ptr<devices::LoadedModel>> loaded;
    for (const auto& device : devices_) {
        CORUN_TRY(auto model, device->load_model(source));
        loaded.push_back(std::move(model));
    }
    return std::shared_ptr<BackendModel>(std::make_shared<LocalModel>(*this, std::move(loaded)));
}

void LocalBackend::add_generative_record(uint64_t model_id,
                                         std::shared_ptr<const monitor::GenerativeRecord> record) {
    std::lock_guard lock(generative_mutex_);
    generative_records_[model_id] = std::move(record);
}

void LocalBackend::remove_generative_record(uint64_t model_id) {
    std::lock_guard lock(generative_mutex_);
    generative_records_.erase(model_id);
}

std::map<uint64_t, monitor::GenerativeSample> LocalBackend::sample_generative_records() const {
    std::lock_guard lock(generative_mutex_);
    std::map<uint64_t, monitor::GenerativeSample> samples;
    for (const auto& [model_id, record] : generative_records_) {
        samples[model_id] = {record->tokens_generated.load(std::memory_order_relaxed),
                             record->context_used.load(std::memory_order_relaxed),
                             record->context_capacity.load(std::memory_order_relaxed)};
    }
    return samples;
}

void LocalBackend::stop_at_exit() {
    scheduler_->stop_within(std::chrono::seconds(5));
}

Expected<std::unique_ptr<ModelExecution>> LocalModel::configure(ConfiguredPipeline& pipeline) {
    return LocalExecution::create(backend_, *this, pipeline);
}

}  // namespace corun::runtime
