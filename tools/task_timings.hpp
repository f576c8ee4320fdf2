// The timed runs of a task command (`corun detect --repeat N`, ...): each run's whole time and,
// for tasks with parts worth timing apart (OCR's detect/classify/recognize), each part's time;
// summarised the same way in text and JSON by every task command.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace corun::tools {

// One run's stage times in milliseconds, in the order the stages ran: {{"detect", 8.1}, ...}.
using StageTimes = std::vector<std::pair<std::string, double>>;

// Milliseconds from `start` until now, on the clock every task command times its runs with.
inline double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

class TaskTimings {
public:
    void add(double run_ms, const StageTimes& stages);

    int runs() const { return static_cast<int>(run_ms_.size()); }
    // Of the whole runs.
    LatencySummary summary() const;
    // One time per run that recorded the stage; empty for a stage no run recorded.
    const std::vector<double>& stage(const std::string& name) const;

    // The summary's fields, "runs", and "stages_p50_ms" (3 decimals) when a run had stages.
    nlohmann::json to_json() const;
    // One line: "latency over N runs (<untimed_work> excluded): p50 .., p95 .., mean .. ms;
    // stage p50: detect .., recognize .. ms", or after one run "latency: .. ms (first run;
    // detect .., recognize .. ms)". A first run is no percentile: it includes what a warm-up
    // would have paid, so it says so instead.
    std::string to_text(const std::string& untimed_work) const;

private:
    std::vector<double> run_ms_;
    // In the order the stages were first recorded, which is the order they run.
    std::vector<std::pair<std::string, std::vector<double>>> stage_ms_;
};

}  // namespace corun::tools
