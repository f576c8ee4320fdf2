// Small helpers the subcommands share: printing errors, shapes, statistics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corun/corun.hpp"
#include "latency_histogram.hpp"

namespace CLI {
class App;
}

namespace corun::tools {

// Prints "corun: <code>: <message>" to stderr and returns the process exit code (1).
int report_error(const Status& status);

std::string quant_text(const QuantInfo& quant);

// Percentile (0..100) of `values` by nearest rank; 0 when empty. Sorts a copy.
double percentile(std::vector<double> values, double percent);

// Summary statistics of a latency sample in milliseconds.
struct LatencySummary {
    double p50 = 0, p95 = 0, p99 = 0, mean = 0, min = 0, max = 0;
    // Exact, from every value (commands that time a bounded number of calls).
    static LatencySummary of(const std::vector<double>& milliseconds);
    // From a histogram in fixed memory (streaming commands): percentiles within
    // LatencyHistogram::RELATIVE_ERROR, mean, min and max exact.
    static LatencySummary of(const LatencyHistogram& histogram);
    nlohmann::json to_json() const;
};

// The folder scripts/fetch_models.sh fills (models/, data/): `option` when given (a --models
// option), else $CORUN_CACHE_DIR, else the checkout's .cache (CORUN_DEFAULT_CACHE_DIR, set at
// build time).
std::string model_cache_dir(const std::string& option = "");

// `value` rounded to `digits` decimals; dividing (not multiplying by 0.1) gives the double that
// prints shortest in JSON ("100.3", not "100.30000000000001").
double rounded(double value, int digits);

// NOT_FOUND for a model or data file the fetch script provides: names the file and the
// manifest entries to fetch ("nanodet darknet").
Status missing_model_file(const std::string& what, const std::string& path,
                          const std::string& entries);
// OK when `path` exists, else missing_model_file(what, path, entries).
Status require_model_file(const std::string& what, const std::string& path,
                          const std::string& entries);

// "1 face", "2 faces", "0 faces".
std::string counted(size_t count, const std::string& one, const std::string& many);

// `value` as the shortest text a stream prints for it ("0.5", "30"), for error messages.
std::string number_text(double value);

// `milliseconds` (a command-line or measured figure) as nanoseconds, rounded; below 0 is 0.
std::chrono::nanoseconds nanoseconds_from_ms(double milliseconds);

// Set by SIGINT or SIGTERM once stop_on_signals() was called: long-running commands (corun
// cluster, corun worker) finish what they hold and exit.
extern std::atomic<bool> stop_requested;
void stop_on_signals();

// Parses "NAME=1,3,224,224" into name and dims.
Expected<std::pair<std::string, std::vector<int64_t>>> parse_shape_option(const std::string& text);
Expected<FormatType> parse_format_type(const std::string& text);
Expected<FormatOrder> parse_format_order(const std::string& text);

// --multi-process-service and --service-socket: run through corund instead of in-process.
struct ServiceOptions {
    bool multi_process_service = false;
    std::string socket;  // "" = $CORUN_SERVICE_SOCKET, else DEFAULT_SERVICE_SOCKET
};
void add_service_options(CLI::App& command, ServiceOptions& options);
// Sets params.multi_process_service and params.service_socket (--service-socket alone implies
// the service).
void apply_service_options(const ServiceOptions& options, VDeviceParams& params);

// --threads, --slots, --latency-slots and --no-spin-wait, straight into the cpu device's params
// (include/corun/vdevice.hpp says what each does).
void add_cpu_options(CLI::App& command, CpuDeviceParams& params);

}  // namespace corun::tools
