#include "serving/metrics_page.hpp"

#include <map>
#include <sstream>

#include "runtime/monitor/prometheus_page.hpp"

namespace corun::serving {
namespace {

using Family = runtime::monitor::MetricFamily;
using runtime::monitor::prometheus_number;
using runtime::monitor::write_family_header;

// Model names are checked when loaded (letters, digits, '_', '-', '.'), so no label needs
// escaping.
std::string labels(const std::string& name, const std::string& version) {
    return "model=\"" + name + "\",version=\"" + version + "\"";
}

void render_generative(std::ostringstream& out, const std::vector<std::shared_ptr<ServedLlm>>& llms,
                       const auto& histogram) {
    std::vector<GenerationStatisticsSnapshot> counts;
    for (const auto& llm : llms) counts.push_back(llm->generation_statistics());
    auto per_llm = [&](const Family& family, auto value) {
        write_family_header(out, family);
        for (size_t i = 0; i < llms.size(); ++i) {
            out << family.name << '{' << labels(llms[i]->name(), llms[i]->version()) << "} "
                << value(counts[i]) << '\n';
        }
    };
    per_llm({"corun_generated_tokens_total", "counter",
             "Tokens the generative model produced, over every generation"},
            [](const GenerationStatisticsSnapshot& s) { return s.generated_tokens; });
    per_llm({"corun_prompt_tokens_total", "counter",
             "Prompt tokens the generative model read, over every generation"},
            [](const GenerationStatisticsSnapshot& s) { return s.prompt_tokens; });
    per_llm({"corun_generation_tokens_per_second", "gauge",
             "Tokens per second of the last generation of two or more tokens (after the first)"},
            [](const GenerationStatisticsSnapshot& s) {
                return prometheus_number(s.last_tokens_per_second);
            });
    write_family_header(out, {"corun_generations_total", "counter",
                              "Generations by how they ended: length, stop, aborted, error"});
    for (size_t i = 0; i < llms.size(); ++i) {
        for (const char* ending : {"length", "stop", "aborted", "error"}) {
            const auto found = counts[i].finished.find(ending);
            out << "corun_generations_total{" << labels(llms[i]->name(), llms[i]->version())
                << ",finish_reason=\"" << ending << "\"} "
                << (found == counts[i].finished.end() ? 0 : found->second) << '\n';
        }
    }
    write_family_header(out,
                        {"corun_time_to_first_token_us", "histogram",
                         "Time from a generation's start to its first token, in microseconds"});
    for (size_t i = 0; i < llms.size(); ++i) {
        histogram("corun_time_to_first_token_us", labels(llms[i]->name(), llms[i]->version()),
                  TIME_TO_FIRST_TOKEN_BUCKETS_US, counts[i].first_token_buckets,
                  counts[i].first_token_sum_us);
    }
}

void render_routed(std::ostringstream& out,
                   const std::vector<std::shared_ptr<ServedModel>>& models) {
    struct RoutedRow {
        std::string labels;
        RoutedModelStats stats;
    };
    std::vector<RoutedRow> routed;
    for (const auto& model : models) {
        if (auto stats = model->routed_stats()) {
            routed.push_back({labels(model->name(), model->version()), std::move(*stats)});
        }
    }
    auto per_placement = [&](const Family& family, auto value) {
        write_family_header(out, family);
        for (const auto& row : routed) {
            for (const auto& placement : row.stats.placements) {
                out << family.name << '{' << row.labels << ",placement=\"" << placement.label
                    << "\"} " << value(placement) << '\n';
            }
        }
    };
    per_placement({"corun_routed_frames_total", "counter",
                   "Frames of a routed model that ran on this placement"},
                  [](const PlacementStats& p) { return p.frames_run; });
    per_placement({"corun_routed_fallbacks_total", "counter",
                   "Frames this placement refused or failed that went on to the next placement"},
                  [](const PlacementStats& p) { return p.fallbacks_away; });
    per_placement({"corun_routed_failures_total", "counter",
                   "Frames that failed on this placement (device failure, time limit)"},
                  [](const PlacementStats& p) { return p.failures; });
    per_placement({"corun_routed_placement_in_service", "gauge",
                   "1 while frames are routed to this placement; 0 taken out, removed or not "
                   "loaded"},
                  [](const PlacementStats& p) {
                      return p.condition == PlacementCondition::IN_SERVICE ? 1 : 0;
                  });
}

}  // namespace

std::string MetricsPage::render() {
    const auto models = service_.served_models();
    const auto llms = service_.served_llms();
    const auto scheduler_stats = service_.vdevice().get_scheduler_stats();
    std::map<uint64_t, const ScheduledModelStats*> by_id;
    int64_t group_device_ns = 0;
    for (const auto& stats : scheduler_stats) {
        by_id[stats.model_id] = &stats;
        group_device_ns += stats.device_time_ns;
    }
    // Request counters of every served version, ONNX models and LLMs alike.
    std::vector<std::string> request_labels;
    std::vector<RequestStatisticsSnapshot> snapshots;
    for (const auto& model : models) {
        request_labels.push_back(labels(model->name(), model->version()));
        snapshots.push_back(model->statistics().snapshot());
    }
    for (const auto& llm : llms) {
        request_labels.push_back(labels(llm->name(), llm->version()));
        snapshots.push_back(llm->statistics().snapshot());
    }

    std::ostringstream out;
    auto per_model = [&](const Family& family, auto value) {
        write_family_header(out, family);
        for (size_t i = 0; i < snapshots.size(); ++i) {
            out << family.name << '{' << request_labels[i] << "} " << value(snapshots[i]) << '\n';
        }
    };
    per_model({"nv_inference_request_success", "counter",
               "Number of successful inference requests, all batch sizes"},
              [](const RequestStatisticsSnapshot& s) { return s.success; });
    write_family_header(out, {"nv_inference_request_failure", "counter",
                              "Number of failed inference requests, all batch sizes, by reason"});
    for (size_t i = 0; i < snapshots.size(); ++i) {
        for (FailureReason reason : {FailureReason::REJECTED, FailureReason::CANCELED,
                                     FailureReason::BACKEND, FailureReason::OTHER}) {
            const auto found = snapshots[i].failures.find(reason);
            out << "nv_inference_request_failure{" << request_labels[i] << ",reason=\""
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

    write_family_header(out,
                        {"nv_inference_request_duration_us", "histogram",
                         "Duration of inference requests inside the service, in microseconds"});
    auto histogram = [&out](const char* name, const std::string& label, const auto& bounds,
                            const auto& buckets, uint64_t sum) {
        uint64_t cumulative = 0;
        for (size_t bucket = 0; bucket < bounds.size(); ++bucket) {
            cumulative += buckets[bucket];
            out << name << "_bucket{" << label << ",le=\"" << bounds[bucket] << "\"} " << cumulative
                << '\n';
        }
        cumulative += buckets.back();
        out << name << "_bucket{" << label << ",le=\"+Inf\"} " << cumulative << '\n';
        out << name << "_sum{" << label << "} " << sum << '\n';
        out << name << "_count{" << label << "} " << cumulative << '\n';
    };
    for (size_t i = 0; i < snapshots.size(); ++i) {
        histogram("nv_inference_request_duration_us", request_labels[i],
                  REQUEST_DURATION_BUCKETS_US, snapshots[i].duration_buckets,
                  snapshots[i].duration_sum_us);
    }

    // The scheduler's view, per configured instance (one per priority level in use).
    // (An LLM's units, its prompt chunks and decode steps, are its frames there.)
    struct InstanceRow {
        std::string labels;
        uint64_t scheduler_model_id;
        const ScheduledModelStats* stats;
    };
    std::vector<InstanceRow> rows;
    for (const auto& model : models) {
        for (const auto& instance : model->instances()) {
            auto found = by_id.find(instance.scheduler_model_id);
            if (found != by_id.end()) {
                rows.push_back({labels(model->name(), model->version()),
                                instance.scheduler_model_id, found->second});
            }
        }
    }
    for (const auto& llm : llms) {
        auto found = by_id.find(llm->scheduler_model_id());
        if (found != by_id.end()) {
            rows.push_back(
                {labels(llm->name(), llm->version()), llm->scheduler_model_id(), found->second});
        }
    }
    std::vector<runtime::monitor::SchedulerMetricRow> scheduler_rows;
    for (const auto& row : rows) scheduler_rows.push_back({row.labels, row.stats});
    runtime::monitor::write_scheduler_families(out, scheduler_rows);

    write_family_header(
        out, {"corun_model_device_share", "gauge",
              "The model's share of the device time of every model on the device (corund's "
              "clients included), since each was configured"});
    for (const auto& label : request_labels) {
        int64_t device_ns = 0;
        for (const auto& row : rows) {
            if (row.labels == label) device_ns += row.stats->device_time_ns;
        }
        out << "corun_model_device_share{" << label << "} "
            << prometheus_number(
                   group_device_ns > 0 ? static_cast<double>(device_ns) / group_device_ns : 0)
            << '\n';
    }

    render_generative(out, llms, histogram);
    render_routed(out, models);

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
    write_family_header(
        out, {"corun_device_busy_seconds_total", "counter",
              "Device time of every model the device's scheduler holds now, in seconds"});
    out << "corun_device_busy_seconds_total " << prometheus_number(group_device_ns / 1e9) << '\n';
    write_family_header(
        out, {"corun_device_utilisation", "gauge",
              "Device time per wall-clock time since the previous scrape (frames running at "
              "once on several slots count each; 1 = one slot busy all the time)"});
    out << "corun_device_utilisation " << prometheus_number(utilisation) << '\n';
    write_family_header(
        out, {"corun_scheduled_models", "gauge",
              "Configured models the device's scheduler holds (served and corund clients')"});
    out << "corun_scheduled_models " << scheduler_stats.size() << '\n';
    return out.str();
}

}  // namespace corun::serving
