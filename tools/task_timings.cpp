#include "task_timings.hpp"

#include <algorithm>
#include <cstdio>

namespace corun::tools {
namespace {

std::string one_decimal(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value);
    return text;
}

}  // namespace

void TaskTimings::add(double run_ms, const StageTimes& stages) {
    run_ms_.push_back(run_ms);
    for (const auto& stage : stages) {
        // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
        const auto& name = stage.first;
        auto known = std::find_if(stage_ms_.begin(), stage_ms_.end(),
                                  [&](const auto& entry) { return entry.first == name; });
        if (known == stage_ms_.end()) known = stage_ms_.insert(stage_ms_.end(), {name, {}});
        known->second.push_back(stage.second);
    }
}

LatencySummary TaskTimings::summary() const {
    return LatencySummary::of(run_ms_);
}

const std::vector<double>& TaskTimings::stage(const std::string& name) const {
    static const std::vector<double> none;
    for (const auto& [stage_name, ms] : stage_ms_) {
        if (stage_name == name) return ms;
    }
    return none;
}

nlohmann::json TaskTimings::to_json() const {
    nlohmann::json out = summary().to_json();
    out["runs"] = runs();
    if (!stage_ms_.empty()) {
        nlohmann::json stages = nlohmann::json::object();
        for (const auto& [name, ms] : stage_ms_) stages[name] = rounded(percentile(ms, 50), 3);
        out["stages_p50_ms"] = stages;
    }
    return out;
}

std::string TaskTimings::to_text(const std::string& untimed_work) const {
    std::string stages;
    for (const auto& [name, ms] : stage_ms_) {
        stages += (stages.empty() ? "" : ", ") + name + " " + one_decimal(percentile(ms, 50));
    }
    if (!stages.empty()) stages += " ms";
    const LatencySummary latency = summary();
    if (runs() > 1) {
        return "latency over " + std::to_string(runs()) + " runs (" + untimed_work +
               " excluded): p50 " + one_decimal(latency.p50) + " ms, p95 " +
               one_decimal(latency.p95) + " ms, mean " + one_decimal(latency.mean) + " ms" +
               (stages.empty() ? "" : "; stage p50: " + stages) + "\n";
    }
    return "latency: " + one_decimal(latency.p50) + " ms (first run" +
           (stages.empty() ? "" : "; " + stages) + ")\n";
}

}  // namespace corun::tools
