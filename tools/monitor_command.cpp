// `corun monitor`: what the devices, models and queues of corund (or of one process that enables
// CORUN_MONITOR=1) are doing, refreshed every second (hailortcli monitor).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "cli_support.hpp"
#include "commands.hpp"
#include "common/environment.hpp"
#include "corun_service.grpc.pb.h"
#include "process_monitor_client.hpp"
#include "runtime/remote/service_socket.hpp"

namespace corun::tools {
namespace {

namespace proto = corun::service::v1;

struct MonitorOptions {
    std::string socket;
    int pid = 0;
    bool json = false;
    bool once = false;
    uint32_t interval_ms = 1000;
    uint32_t count = 0;  // 0 = until interrupted
};

std::string resolve_socket(const MonitorOptions& options) {
    if (!options.socket.empty()) return options.socket;
    if (options.pid > 0) return environment::in_process_monitor_socket(options.pid);
    return environment::resolve_service_socket(options.socket);
}

// An application's own monitor (runtime/monitor): one JSON snapshot per connection, in the
// field names of MonitorSnapshot.
Expected<proto::MonitorSnapshot> fetch_from_process(const std::string& socket) {
    // Saying what it wants spares the monitor's wait for a request; 2 s: a stuck process must
    // not hang the monitor.
    CORUN_TRY(const std::string text,
              ask_process_monitor(socket, "snapshot\n", std::chrono::seconds(2)));
    proto::MonitorSnapshot snapshot;
    if (!google::protobuf::util::JsonStringToMessage(text, &snapshot).ok()) {
        return no_monitored_process(socket, "its answer is not a monitor snapshot");
    }
    return snapshot;
}

Expected<proto::MonitorSnapshot> fetch(proto::Corun::Stub& stub, const std::string& socket) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    proto::MonitorSnapshot snapshot;
    grpc::Status status = stub.Monitor(&context, proto::MonitorRequest{}, &snapshot);
    if (!status.ok()) {
        return Status(StatusCode::RPC_FAILED,
                      "nothing answers on " + socket + " (" + status.error_message() +
                          "); start corund (`corund --socket " + socket +
                          "` or `corun serve`), or run the application with CORUN_MONITOR=1 and "
                          "use `corun monitor --pid PID`");
    }
    return snapshot;
}

std::string as_json(const proto::MonitorSnapshot& snapshot) {
    google::protobuf::util::JsonPrintOptions print;
    print.add_whitespace = true;
    print.always_print_primitive_fields = true;
    print.preserve_proto_field_names = true;
    std::string text;
    if (!google::protobuf::util::MessageToJsonString(snapshot, &text, print).ok()) return "{}";
    return text;
}

void print_table(const proto::MonitorSnapshot& snapshot, bool clear_screen) {
    if (clear_screen) std::printf("\033[H\033[2J");
    std::printf("corun monitor: %s, %u session(s)\n\n", snapshot.source().c_str(),
                snapshot.sessions());
    std::printf("%-12s %-8s %-16s %12s\n", "Device", "Kind", "Group", "Utilisation");
    for (const auto& device : snapshot.devices()) {
        std::printf("%-12s %-8s %-16s %11.1f%%\n", device.id().c_str(), device.kind().c_str(),
                    device.group_id().c_str(), device.utilisation_percent());
    }
    std::printf("\n%-28s %8s %8s %8s %8s %9s %9s\n", "Model", "PID", "Priority", "FPS", "Util%",
                "p50 ms", "p95 ms");
    for (const auto& model : snapshot.models()) {
        // An LLM's frames are its units (prefill chunks, decode steps).
        const std::string name = model.llm() ? model.name() + " [LLM]" : model.name();
        std::printf("%-28.28s %8u %8u %8.1f %8.1f %9.2f %9.2f\n", name.c_str(), model.pid(),
                    model.priority(), model.fps(), model.utilisation_percent(),
                    model.latency_p50_ms(), model.latency_p95_ms());
    }
    // Deadlines, for the models that have an SLO or had frames with a deadline of their own.
    bool deadlines = false;
    for (const auto& model : snapshot.models()) {
        deadlines = deadlines || model.latency_slo_ms() > 0 || model.deadline_met() > 0 ||
                    model.deadline_refused() > 0 || model.deadline_dropped() > 0 ||
                    model.deadline_finished_late() > 0;
    }
    if (deadlines) {
        std::printf("\n%-28s %8s %8s %12s %9s %9s %9s %9s\n", "Deadlines", "PID", "SLO ms",
                    "predicted ms", "met", "refused", "dropped", "late");
        for (const auto& model : snapshot.models()) {
            std::printf("%-28.28s %8u %8.1f %12.2f %9llu %9llu %9llu %9llu\n", model.name().c_str(),
                        model.pid(), model.latency_slo_ms(), model.predicted_latency_ms(),
                        static_cast<unsigned long long>(model.deadline_met()),
                        static_cast<unsigned long long>(model.deadline_refused()),
                        static_cast<unsigned long long>(model.deadline_dropped()),
                        static_cast<unsigned long long>(model.deadline_finished_late()));
        }
    }
    // Generative models: tokens/s over the last second, tokens since loading, context in use.
    bool generative = false;
    for (const auto& model : snapshot.models()) generative = generative || model.llm();
    if (generative) {
        std::printf("\n%-28s %8s %10s %12s %18s\n", "Generative", "PID", "Tokens/s", "Tokens",
                    "Context used");
        for (const auto& model : snapshot.models()) {
            if (!model.llm()) continue;
            const std::string context = std::to_string(model.context_used()) + " / " +
                                        std::to_string(model.context_capacity());
            std::printf("%-28.28s %8u %10.1f %12llu %18s\n", model.name().c_str(), model.pid(),
                        model.tokens_per_second(),
                        static_cast<unsigned long long>(model.tokens_generated()), context.c_str());
        }
    }
    std::printf("\n%-28s %8s %10s %12s %12s\n", "Queue", "PID", "Capacity", "Waiting in",
                "Results out");
    for (const auto& model : snapshot.models()) {
        std::printf("%-28.28s %8u %10u %12u %12u\n", model.name().c_str(), model.pid(),
                    model.queue_capacity(), model.frames_waiting_in(), model.results_waiting_out());
    }
    std::fflush(stdout);
}

int run_monitor(const MonitorOptions& options) {
    const std::string socket = resolve_socket(options);
    std::unique_ptr<proto::Corun::Stub> stub;
    if (options.pid == 0) {
        // corund: checked like every client's connection (who listens, admission) first.
        auto fd = service::connect_to_corund(socket, "");
        if (!fd) throw CLI::RuntimeError(report_error(fd.status()));
        stub = proto::Corun::NewStub(grpc::CreateInsecureChannelFromFd("unix:" + socket, *fd));
    }
    const bool live = !options.once && !options.json && isatty(STDOUT_FILENO);
    for (uint32_t shown = 0; options.count == 0 || shown < options.count; ++shown) {
        auto snapshot = stub ? fetch(*stub, socket) : fetch_from_process(socket);
        if (!snapshot) throw CLI::RuntimeError(report_error(snapshot.status()));
        if (options.json) {
            std::cout << as_json(*snapshot) << std::flush;
        } else {
            print_table(*snapshot, live);
        }
        if (options.once) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
    }
    return 0;
}

}  // namespace

void add_monitor_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "monitor",
        "Show devices, models and queues of corund or of a process run with CORUN_MONITOR=1, "
        "refreshed every second");
    static MonitorOptions options;
    command->add_option("--socket", options.socket,
                        "The service socket (default: $CORUN_SERVICE_SOCKET, else " +
                            std::string(DEFAULT_SERVICE_SOCKET) + ")");
    command
        ->add_option("--pid", options.pid,
                     "Monitor the process PID, run with CORUN_MONITOR=1, instead of corund")
        ->check(CLI::PositiveNumber);
    command->add_flag("--json", options.json, "Print each snapshot as JSON");
    command->add_flag("--once", options.once, "Print one snapshot and exit");
    command->add_option("--interval-ms", options.interval_ms, "Refresh period")
        ->check(CLI::Range(100u, 60000u));
    command->add_option("--count", options.count, "Stop after N snapshots (0 = never)");
    command->callback([] { run_monitor(options); });
}

}  // namespace corun::tools
