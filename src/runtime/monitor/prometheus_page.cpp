#include "runtime/monitor/prometheus_page.hpp"

#include <algorithm>
#include <sstream>

namespace corun::runtime::monitor {

void write_family_header(std::ostream& out, const MetricFamily& family) {
    out << "# HELP " << family.name << ' ' << family.help << "\n# TYPE " << family.name << ' '
        << family.type << '\n';
}

std::string prometheus_number(double value) {
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

void write_scheduler_families(std::ostream& out, const std::vector<SchedulerMetricRow>& rows) {
    auto per_row = [&](const MetricFamily& family, auto value) {
        write_family_header(out, family);
        for (const auto& row : rows) {
            out << family.name << '{' << row.labels << ",priority=\"" << row.stats->priority
                << "\",instance=\"" << row.stats->model_id << "\"} " << value(*row.stats) << '\n';
        }
    };
    per_row({"corun_scheduler_frames_total", "counter",
             "Frames the scheduler completed for this instance of the model"},
            [](const ScheduledModelStats& s) { return s.frames_done; });
    per_row({"corun_scheduler_device_seconds_total", "counter",
             "Device time the scheduler gave this instance of the model, in seconds"},
            [](const ScheduledModelStats& s) { return prometheus_number(s.device_time_ns / 1e9); });
    per_row({"corun_scheduler_switches_total", "counter",
             "Times a device slot switched to this instance from another model"},
            [](const ScheduledModelStats& s) { return s.switches; });
    per_row({"corun_scheduler_max_overtaken_by", "gauge",
             "The most bursts of other models that went ahead of one waiting frame"},
            [](const ScheduledModelStats& s) { return s.max_overtaken_by; });
    per_row({"corun_scheduler_queued_frames", "gauge", "Frames queued now"},
            [](const ScheduledModelStats& s) { return s.frames_queued; });
    per_row({"corun_scheduler_deadline_refused_total", "counter",
             "Frames refused at admission: predicted to finish after their deadline"},
            [](const ScheduledModelStats& s) { return s.deadline_refused; });
}

std::string ProcessMetricsPage::render(const std::vector<GroupSample>& groups) {
    // Group ids and model names are the application's: escaped as the format asks.
    auto quoted = [](const std::string& text) {
        std::string escaped;
        for (char c : text) {
            if (c == '\\' || c == '"') escaped += '\\';
            escaped += c == '\n' ? 'n' : c;
        }
        return escaped;
    };
    std::vector<SchedulerMetricRow> rows;
    for (const auto& group : groups) {
        for (const auto& model : group.models) {
            rows.push_back(
                {"group=\"" + quoted(group.group_id) + "\",model=\"" + quoted(model.name) + "\"",
                 &model});
        }
    }
    std::ostringstream out;
    write_scheduler_families(out, rows);

    const auto now = std::chrono::steady_clock::now();
    std::ostringstream busy, utilisation, scheduled;
    std::map<std::string, Previous> current;
    for (const auto& group : groups) {
        int64_t device_ns = 0;
        for (const auto& model : group.models) device_ns += model.device_time_ns;
        const std::string label = "{group=\"" + quoted(group.group_id) + "\"}";
        double share = 0;
        if (auto found = previous_.find(group.group_id);
            found != previous_.end() && now > found->second.time) {
            const double wall_ns =
                std::chrono::duration<double, std::nano>(now - found->second.time).count();
            share = std::max<double>(0, static_cast<double>(device_ns - found->second.device_ns)) /
                    wall_ns;
        }
        current[group.group_id] = {now, device_ns};
        busy << "corun_device_busy_seconds_total" << label << ' '
             << prometheus_number(device_ns / 1e9) << '\n';
        utilisation << "corun_device_utilisation" << label << ' ' << prometheus_number(share)
                    << '\n';
        scheduled << "corun_scheduled_models" << label << ' ' << group.models.size() << '\n';
    }
    previous_ = std::move(current);
    write_family_header(out,
                        {"corun_device_busy_seconds_total", "counter",
                         "Device time of every model the group's scheduler holds, in seconds"});
    out << busy.str();
    write_family_header(out, {"corun_device_utilisation", "gauge",
                              "Device time per wall-clock time since the previous scrape (1 = "
                              "one slot busy all the time)"});
    out << utilisation.str();
    write_family_header(
        out, {"corun_scheduled_models", "gauge", "Configured models the group's scheduler holds"});
    out << scheduled.str();
    return out.str();
}

}  // namespace corun::runtime::monitor
