#include "serving/metrics_page.hpp"

#include <map>
#include <sstream>

namespace corun::serving {
namespace {

struct Family {
    const char* name;
    const char* type;
    const char* help;
};

void header(std::ostringstream& out, const Family& family) {
    out << "# HELP " << family.name << ' ' << family.help << "\n# TYPE " << family.name << ' '
        << family.type << '\n';
}

// Model names are checked when loaded (letters, digits, '_', '-', '.'), so no label needs
// escaping.
std::string labels(const ServedModel& model) {
    return "model=\"" + model.name() + "\",version=\"" + model.version() + "\"";
}

std::string number(double value) {
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

}  // namespace

std::string MetricsPage::render() {
    const auto models = service_.served_models();
    const auto scheduler_stats = service_.vdevice().get_scheduler_stats();
    std::map<uint64_t, const ScheduledModelStats*> by_id;
    int64_t group_device_ns = 0;
    for (const auto& stats : scheduler_stats) {
        by_id[stats.model_id] = &stats;
        group_device_ns += stats.device_time_ns;
    }
    std::vector<RequestStatisticsSnapshot> snapshots;
    for (const auto& model : models) snapshots.push_back(model->statistics().snapshot());

    std::ostringstream out;
    auto per_model = [&](const Family& family, auto value) {
        header(out, family);
        for (size_t i = 0; i < models.size(); ++i) {
            out << family.name << '{' << labels(*models[i]) << "} " << value(snapshots[i]) << '\n';
        }
    };
    per_model({"nv_inference_request_success", "counter",
               "Number of successful inference requests, all batch sizes"},
              [](const RequestStatisticsSnapshot& s) { return s.success; });
    header(out, {"nv_inference_request_failure", "counter",
                 "Number of failed inference requests, all batch sizes, by reason"});
    for (size_t i = 0; i < models.size(); ++i) {
        for (FailureReason reason : {FailureReason::REJECTED, FailureReason::CANCELED,
                                     FailureReason::BACKEND, FailureReason::OTHER}) {
            const auto found = snapshots[i].failures.find(reason);
            out << "nv_inference_request_failure{" << labels(*models[i]) << ",reason=\""
                << failure_reason_name(reason) << "\"} "
                << (found == snapshots[i].failures.end() ? 0 : found->second) << '\n';
        }
    }
    per_model({"nv_inference_count", "counter",
               "Number of inferences performed (frames; a request of N frames counts N)"},
              [](const RequestStatisticsSnapshot& s) { return s.inference_count; });
    per_model({"nv_inference_exec_count", "counter",
               "Number of model executions performed (jobs handed to the scheduler)"},
              [](const RequestStatisticsSnapshot& s) { return s.exec_count; });
    per_model({"nv_inference_queue_duration_us", "counter",
               "Cumulative time requests waited in the scheduler's queue, in microseconds"},
              [](const RequestStatisticsSnapshot& s) { return s.queue_us; });
    per_model({"nv_inference_compute_infer_duration_us", "counter",
               "Cumulative device time of the requests' frames, in microseconds"},
              [](const RequestStatisticsSnapshot& s) { return s.compute_us; });
    per_model({"nv_inference_pending_request_count", "gauge",
               "Requests inside the service now (waiting for a queue slot, queued or running)"},
              [](const RequestStatisticsSnapshot& s) { return s.pending; });

    header(out, {"nv_inference_request_duration_us", "histogram",
                 "Duration of inference requests inside the service, in microseconds"});
    for (size_t i = 0; i < models.size(); ++i) {
        uint64_t cumulative = 0;
        const auto& snapshot = snapshots[i];
        for (size_t bucket = 0; bucket < REQUEST_DURATION_BUCKETS_US.size(); ++bucket) {
            cumulative += snapshot.duration_buckets[bucket];
            out << "nv_inference_request_duration_us_bucket{" << labels(*models[i]) << ",le=\""
                << REQUEST_DURATION_BUCKETS_US[bucket] << "\"} " << cumulative << '\n';
        }
        cumulative += snapshot.duration_buckets.back();
        out << "nv_inference_request_duration_us_bucket{" << labels(*models[i]) << ",le=\"+Inf\"} "
            << cumulative << '\n';
        out << "nv_inference_request_duration_us_sum{" << labels(*models[i]) << "} "
            << snapshot.duration_sum_us << '\n';
        out << "nv_inference_request_duration_us_count{" << labels(*models[i]) << "} " << cumulative
            << '\n';
    }

    // The scheduler's view, per configured instance (one per priority level in use).
    struct InstanceRow {
        const ServedModel* model;
        ServedInstance instance;
        const ScheduledModelStats* stats;
    };
    std::vector<InstanceRow> rows;
    for (const auto& model : models) {
        for (const auto& instance : model->instances()) {
            auto found = by_id.find(instance.scheduler_model_id);
            if (found != by_id.end()) rows.push_back({model.get(), instance, found->second});
        }
    }
    auto per_instance = [&](const Family& family, auto value) {
        header(out, family);
        for (const auto& row : rows) {
            out << family.name << '{' << labels(*row.model) << ",priority=\"" << row.stats->priority
                << "\",instance=\"" << row.instance.scheduler_model_id << "\"} "
                << value(*row.stats) << '\n';
        }
    };
    per_instance({"corun_scheduler_frames_total", "counter",
                  "Frames the scheduler completed for this instance of the model"},
                 [](const ScheduledModelStats& s) { return s.frames_done; });
    per_instance({"corun_scheduler_device_seconds_total", "counter",
                  "Device time the scheduler gave this instance of the model, in seconds"},
                 [](const ScheduledModelStats& s) { return number(s.device_time_ns / 1e9); });
    per_instance({"corun_scheduler_switches_total", "counter",
                  "Times a device slot switched to this instance from another model"},
                 [](const ScheduledModelStats& s) { return s.switches; });
    per_instance({"corun_scheduler_max_overtaken_by", "gauge",
                  "The most bursts of other models that went ahead of one waiting frame"},
                 [](const ScheduledModelStats& s) { return s.max_overtaken_by; });
    per_instance({"corun_scheduler_queued_frames", "gauge", "Frames queued now"},
                 [](const ScheduledModelStats& s) { return s.frames_queued; });
    per_instance({"corun_scheduler_deadline_refused_total", "counter",
                  "Frames refused at admission: predicted to finish after their deadline"},
                 [](const ScheduledModelStats& s) { return s.deadline_refused; });

    header(out, {"corun_model_device_share", "gauge",
                 "The model's share of the device time of every model on the device (corund's "
                 "clients included), since each was configured"});
    for (const auto& model : models) {
        int64_t device_ns = 0;
        for (const auto& row : rows) {
            if (row.model == model.get()) device_ns += row.stats->device_time_ns;
        }
        out << "corun_model_device_share{" << labels(*model) << "} "
            << number(group_device_ns > 0 ? static_cast<double>(device_ns) / group_device_ns : 0)
            << '\n';
    }

    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    double utilisation = 0;
    if (have_previous_ && now > previous_time_) {
        const double wall_ns =
            std::chrono::duration<double, std::nano>(now - previous_time_).count();
        utilisation =
            std::max<double>(0, static_cast<double>(group_device_ns - previous_device_ns_)) /
            wall_ns;
    }
    have_previous_ = true;
    previous_time_ = now;
    previous_device_ns_ = group_device_ns;
    header(out, {"corun_device_busy_seconds_total", "counter",
                 "Device time of every model the device's scheduler holds now, in seconds"});
    out << "corun_device_busy_seconds_total " << number(group_device_ns / 1e9) << '\n';
    header(out, {"corun_device_utilisation", "gauge",
                 "Device time per wall-clock time since the previous scrape (frames running at "
                 "once on several slots count each; 1 = one slot busy all the time)"});
    out << "corun_device_utilisation " << number(utilisation) << '\n';
    header(out, {"corun_scheduled_models", "gauge",
                 "Configured models the device's scheduler holds (served and corund clients')"});
    out << "corun_scheduled_models " << scheduler_stats.size() << '\n';
    return out.str();
}

}  // namespace corun::serving
