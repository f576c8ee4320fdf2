#include "cli_support.hpp"

#include "corun/environment.hpp"

#include <CLI/CLI.hpp>

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <sstream>

namespace corun::tools {

int report_error(const Status& status) {
    std::cerr << "corun: " << status.to_string() << "\n";
    return 1;
}

std::string quant_text(const QuantInfo& quant) {
    std::ostringstream text;
    text << "scale " << quant.scale << ", zero point " << quant.zero_point;
    return text.str();
}

double percentile(std::vector<double> values, double percent) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const double rank = std::ceil(percent / 100.0 * static_cast<double>(values.size()));
    const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, double(values.size()))) - 1;
    return values[index];
}

LatencySummary LatencySummary::of(const std::vector<double>& milliseconds) {
    LatencySummary summary;
    if (milliseconds.empty()) return summary;
    summary.p50 = percentile(milliseconds, 50);
    summary.p95 = percentile(milliseconds, 95);
    summary.p99 = percentile(milliseconds, 99);
    summary.mean = std::accumulate(milliseconds.begin(), milliseconds.end(), 0.0) /
                   static_cast<double>(milliseconds.size());
    const auto [low, high] = std::minmax_element(milliseconds.begin(), milliseconds.end());
    summary.min = *low;
    summary.max = *high;
    return summary;
}

LatencySummary LatencySummary::of(const LatencyHistogram& histogram) {
    LatencySummary summary;
    if (histogram.empty()) return summary;
    summary.p50 = histogram.percentile_ms(50);
    summary.p95 = histogram.percentile_ms(95);
    summary.p99 = histogram.percentile_ms(99);
    summary.mean = histogram.mean_ns() / 1e6;
    summary.min = static_cast<double>(histogram.min_ns()) / 1e6;
    summary.max = static_cast<double>(histogram.max_ns()) / 1e6;
    return summary;
}

nlohmann::json LatencySummary::to_json() const {
    return {{"p50_ms", p50},   {"p95_ms", p95}, {"p99_ms", p99},
            {"mean_ms", mean}, {"min_ms", min}, {"max_ms", max}};
}

std::string model_cache_dir(const std::string& option) {
    if (!option.empty()) return option;
    if (std::string env = environment::value(environment::CACHE_DIR); !env.empty()) return env;
#ifdef CORUN_DEFAULT_CACHE_DIR
    return CORUN_DEFAULT_CACHE_DIR;
#else
    return ".cache";
#endif
}

double rounded(double value, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(value * scale) / scale;
}

Status missing_model_file(const std::string& what, const std::string& path,
                          const std::string& entries) {
    return Status(StatusCode::NOT_FOUND,
                  what + " '" + path + "' is missing; run scripts/fetch_models.sh " + entries +
                      ", or point --models (or CORUN_CACHE_DIR) at the folder it filled");
}

Status require_model_file(const std::string& what, const std::string& path,
                          const std::string& entries) {
    std::error_code error;
    if (std::filesystem::exists(path, error)) return Status::ok();
    return missing_model_file(what, path, entries);
}

std::string number_text(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
}

std::chrono::nanoseconds nanoseconds_from_ms(double milliseconds) {
    return std::chrono::nanoseconds(std::llround(std::max(0.0, milliseconds) * 1e6));
}

std::atomic<bool> stop_requested{false};

namespace {
void request_stop(int) {
    stop_requested = true;
}
}  // namespace

void stop_on_signals() {
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
}

std::string counted(size_t count, const std::string& one, const std::string& many) {
    return std::to_string(count) + " " + (count == 1 ? one : many);
}

Expected<std::pair<std::string, std::vector<int64_t>>> parse_shape_option(const std::string& text) {
    const size_t equals = text.find('=');
    if (equals == std::string::npos || equals == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--shape '" + text + "' is not NAME=D0,D1,...; e.g. --shape x=1,3,224,224");
    }
    std::vector<int64_t> dims;
    std::stringstream list(text.substr(equals + 1));
    std::string item;
    while (std::getline(list, item, ',')) {
        try {
            size_t used = 0;
            const long long value = std::stoll(item, &used);
            if (used != item.size() || value <= 0) throw std::invalid_argument(item);
            dims.push_back(value);
        } catch (const std::exception&) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "--shape '" + text + "': '" + item + "' is not a positive integer");
        }
    }
    return std::make_pair(text.substr(0, equals), dims);
}

Expected<FormatType> parse_format_type(const std::string& text) {
    std::string upper = text;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    std::string known;
    for (FormatType type :
         {FormatType::AUTO, FormatType::UINT8, FormatType::UINT16, FormatType::FLOAT32,
          FormatType::INT8, FormatType::INT32, FormatType::INT64, FormatType::FLOAT16,
          FormatType::BFLOAT16, FormatType::FLOAT64, FormatType::BOOL, FormatType::INT16,
          FormatType::UINT32, FormatType::UINT64, FormatType::STRING}) {
        std::string name = format_type_name(type);
        if (upper == name) return type;
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        known += (known.empty() ? "" : ", ") + name;
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  "format type '" + text + "' is unknown; use one of " + known);
}

Expected<FormatOrder> parse_format_order(const std::string& text) {
    std::string upper = text;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    for (FormatOrder order : {FormatOrder::AUTO, FormatOrder::NHWC, FormatOrder::NCHW}) {
        if (upper == format_order_name(order)) return order;
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  "format order '" + text + "' is unknown; use auto, nhwc or nchw");
}

void add_service_options(CLI::App& command, ServiceOptions& options) {
    command.add_flag("--multi-process-service", options.multi_process_service,
                     "Run on the devices of the corund service, shared with other processes");
    command.add_option("--service-socket", options.socket,
                       "corund's socket (implies --multi-process-service; default "
                       "$CORUN_SERVICE_SOCKET, else " +
                           std::string(DEFAULT_SERVICE_SOCKET) + ")");
}

void apply_service_options(const ServiceOptions& options, VDeviceParams& params) {
    params.multi_process_service = options.multi_process_service || !options.socket.empty();
    params.service_socket = options.socket;
}

void add_cpu_options(CLI::App& command, CpuDeviceParams& params) {
    command.add_option(
        "--threads", params.intra_op_threads,
        "cpu: ONNX Runtime intra-op threads per inference (0 = ONNX Runtime's "
        "default, one per physical core it detects; each model has a pool of its own)");
    command
        .add_option("--slots", params.execution_slots,
                    "cpu: inferences run at once (0 = the device shares its cores by itself: "
                    "one slot per core, one latency slot, every core for a frame alone or urgent)")
        ->check(CLI::Range(0, 64));
    command
        .add_option("--latency-slots", params.latency_slots,
                    "cpu: extra slots only models above normal priority (> 16) may use, so "
                    "that they never wait for a running inference")
        ->check(CLI::Range(0, 16));
    command.add_flag("!--no-spin-wait", params.spin_wait,
                     "cpu: models with their own pool (--threads >= 2) do not spin between "
                     "inferences");
}

}  // namespace corun::tools
