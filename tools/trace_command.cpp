// `corun trace --seconds N --output FILE`: a Chrome trace of what corund's scheduler does for N
// seconds (every device group: bursts per device slot with the reason of each decision, each
// frame's queue wait and execution per model, flows from submit to completion, queue depths).
// Perfetto (ui.perfetto.dev) and chrome://tracing open it; docs/TRACING.md. An application's
// own run is recorded with `corun run2 ... --trace FILE`, and a process run with CORUN_MONITOR=1
// with `corun trace --pid PID` (through its in-process monitor).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <cstdio>
#include <string>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "commands.hpp"
#include "common/environment.hpp"
#include "corun_service.grpc.pb.h"
#include "process_monitor_client.hpp"
#include "protocol/proto_conversion.hpp"
#include "runtime/monitor/chrome_trace_writer.hpp"
#include "runtime/monitor/group_recording.hpp"
#include "runtime/remote/service_socket.hpp"

namespace corun::tools {
namespace {

namespace proto = corun::service::v1;

struct TraceOptions {
    std::string socket;
    int pid = 0;  // a process with CORUN_MONITOR=1 instead of corund
    std::string output;
    double seconds = 0;
    uint64_t max_events = 0;  // 0 = the recorder's default
};

Status validate(const TraceOptions& options) {
    if (!(options.seconds >= 1 && options.seconds <= runtime::monitor::MAX_TRACE_SECONDS) ||
        options.seconds != static_cast<double>(static_cast<uint32_t>(options.seconds))) {
        char given[32];
        std::snprintf(given, sizeof(given), "%g", options.seconds);
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--seconds must be a whole number of seconds in 1.." +
                          std::to_string(runtime::monitor::MAX_TRACE_SECONDS) + ", got " + given);
    }
    if (options.max_events > scheduler::MAX_RECORDING_EVENTS) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--max-events must be at most " +
                          std::to_string(scheduler::MAX_RECORDING_EVENTS) + ", got " +
                          std::to_string(options.max_events));
    }
    return Status::ok();
}

// The trace's JSON from corund's Trace call.
Expected<std::string> record_from_corund(const TraceOptions& options, const std::string& socket) {
    auto fd = service::connect_to_corund(socket, "");
    if (!fd) return fd.status();
    auto channel = grpc::CreateInsecureChannelFromFd("unix:" + socket, *fd);
    auto stub = proto::Corun::NewStub(channel);
    grpc::ClientContext context;
    // The recording, then writing and sending the trace.
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(static_cast<int64_t>(options.seconds) + 120));
    proto::TraceRequest request;
    request.set_seconds(static_cast<uint32_t>(options.seconds));
    request.set_max_events(options.max_events);
    auto reader = stub->Trace(&context, request);
    std::string json;
    proto::TraceChunk chunk;
    bool have_status = false;
    Status verdict;
    while (reader->Read(&chunk)) {
        json += chunk.json();
        if (chunk.has_status()) {
            have_status = true;
            verdict = service::from_proto(chunk.status());
        }
    }
    const grpc::Status finished = reader->Finish();
    if (!finished.ok()) {
        if (finished.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
            return Status(StatusCode::NOT_SUPPORTED,
                          "the corund on " + socket +
                              " is older than this corun and cannot record traces; update it");
        }
        return Status(StatusCode::RPC_FAILED,
                      "corund on " + socket + " ended the trace: " + finished.error_message());
    }
    if (!have_status) {
        return Status(StatusCode::RPC_FAILED, "corund on " + socket + " sent no complete trace");
    }
    CORUN_RETURN_IF_ERROR(verdict);
    return json;
}

// The trace's JSON from a process's own monitor (runtime/monitor/in_process_monitor.hpp).
Expected<std::string> record_from_process(const TraceOptions& options, const std::string& socket) {
    // The recording, then the trace: a stuck process must not hang the command.
    const std::string request = "trace " + std::to_string(static_cast<uint32_t>(options.seconds)) +
                                " " + std::to_string(options.max_events) + "\n";
    CORUN_TRY(
        const std::string text,
        ask_process_monitor(socket, request,
                            std::chrono::seconds(static_cast<int64_t>(options.seconds) + 120)));
    if (text.rfind("{\"error\"", 0) == 0) {
        auto answer = nlohmann::json::parse(text, nullptr, false);
        return Status(StatusCode::RPC_FAILED,
                      "the process on " + socket + " records no trace: " +
                          (answer.is_object() ? answer.value("error", text) : text));
    }
    if (text.rfind("{\"displayTimeUnit\"", 0) != 0) {
        return no_monitored_process(socket,
                                    "its answer is not a trace (a corun older than this one?)");
    }
    return text;
}

Status run_trace(const TraceOptions& options) {
    CORUN_RETURN_IF_ERROR(validate(options));
    // Whether the trace can be written is known before recording for N seconds.
    const bool existed = access(options.output.c_str(), F_OK) == 0;
    CORUN_RETURN_IF_ERROR(runtime::monitor::check_trace_output(options.output));
    const std::string socket = options.pid > 0
                                   ? environment::in_process_monitor_socket(options.pid)
                                   : environment::resolve_service_socket(options.socket);
    auto json = options.pid > 0 ? record_from_process(options, socket)
                                : record_from_corund(options, socket);
    if (!json) {
        if (!existed) unlink(options.output.c_str());
        return json.status();
    }
    CORUN_RETURN_IF_ERROR(runtime::monitor::write_trace_file(options.output, *json));
    if (json->find("\"recordings\":[]") != std::string::npos) {
        std::fprintf(stderr, "corun trace: no device group was recorded: none was open there%s\n",
                     options.pid > 0 ? ", or the process's groups run in corund (record corund "
                                       "with --socket)"
                                     : "");
    }
    std::fprintf(stderr,
                 "corun trace: %g s of %s written to %s (%zu bytes); open it in "
                 "https://ui.perfetto.dev or chrome://tracing\n",
                 options.seconds, socket.c_str(), options.output.c_str(), json->size());
    return Status::ok();
}

}  // namespace

void add_trace_command(CLI::App& app) {
    static TraceOptions options;
    auto* command = app.add_subcommand(
        "trace",
        "Record the scheduler of corund (or of a process run with CORUN_MONITOR=1) for N seconds "
        "into a Chrome trace (Perfetto, chrome://tracing)");
    command->add_option("--seconds", options.seconds, "How long to record (1..600 seconds)")
        ->required();
    command->add_option("-o,--output", options.output, "The trace file to write (JSON)")
        ->required();
    command->add_option("--socket", options.socket,
                        "corund's socket (default: $CORUN_SERVICE_SOCKET, else " +
                            std::string(DEFAULT_SERVICE_SOCKET) + ")");
    command
        ->add_option("--pid", options.pid,
                     "Record the process PID, run with CORUN_MONITOR=1, instead of corund")
        ->check(CLI::PositiveNumber);
    command->add_option("--max-events", options.max_events,
                        "Events kept per device group (bursts, frames, queue samples; default "
                        "1000000); past it they are counted as dropped in the trace's otherData");
    command->callback([] {
        const Status status = run_trace(options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
