#include "service/daemon/daemon_main.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "protocol/protocol_version.hpp"
#include "service/daemon/corun_service.hpp"
#include "service/daemon/unix_listener.hpp"

namespace corun::service {
namespace {

std::string flag_name(std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return "--" + key;
}

Expected<DaemonConfig> resolve_config(const DaemonCommandLine& command_line) {
    DaemonConfig config;
    if (!command_line.config_file.empty()) {
        CORUN_RETURN_IF_ERROR(load_daemon_config_file(config, command_line.config_file));
    }
    for (const auto& [key, value] : command_line.settings) {
        if (value.empty()) continue;
        CORUN_RETURN_IF_ERROR(
            apply_daemon_setting(config, key, value).with_context(flag_name(key)));
    }
    return config;
}

Status set_up_logging(const DaemonConfig& config) {
    std::vector<spdlog::sink_ptr> sinks;
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (!config.log_file.empty()) {
        try {  // spdlog reports a file it cannot open by throwing; no exception leaves here
            sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.log_file));
        } catch (const spdlog::spdlog_ex& error) {
            return Status(StatusCode::OPEN_FILE_FAILURE,
                          "cannot open log file '" + config.log_file + "': " + error.what());
        }
    }
    auto logger = std::make_shared<spdlog::logger>("corund", sinks.begin(), sinks.end());
    logger->set_level(spdlog::level::from_str(config.log_level));
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    return Status::ok();
}

// corund's own descriptors (models, shared memory, the lanes) beyond one per connection.
constexpr size_t DESCRIPTORS_BESIDE_CONNECTIONS = 512;
constexpr std::chrono::seconds SHUTDOWN_BOUND{4};

// Raises the descriptor limit to what max_connections needs, or lowers max_connections to what
// the system allows, so that accept() never runs out of descriptors.
void fit_descriptor_limit(ConnectionLimits& connections) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t wanted = connections.max_connections + DESCRIPTORS_BESIDE_CONNECTIONS;
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = std::min(wanted, limit.rlim_max);
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < wanted) {
        const size_t fits = limit.rlim_cur > DESCRIPTORS_BESIDE_CONNECTIONS
                                ? limit.rlim_cur - DESCRIPTORS_BESIDE_CONNECTIONS
                                : 16;
        spdlog::warn(
            "the descriptor limit ({}) leaves room for {} connections, not max_connections {}; "
            "raise it (ulimit -n, LimitNOFILE=) to serve more",
            limit.rlim_cur, fits, connections.max_connections);
        connections.max_connections = fits;
    }
    connections.max_connections_per_user =
        std::min(connections.max_connections_per_user, connections.max_connections);
}

}  // namespace

void add_daemon_options(CLI::App& app, DaemonCommandLine& command_line) {
    app.add_option("--config", command_line.config_file,
                   "Config file of `key = value` lines (keys as the flags, with _ for -); flags "
                   "win over it");
    for (const auto& setting : daemon_settings()) {
        app.add_option(flag_name(setting.key), command_line.settings[setting.key], setting.help);
    }
}

int run_daemon(const DaemonCommandLine& command_line, DaemonFront* front) {
    auto config = resolve_config(command_line);
    if (!config) {
        std::cerr << "corund: " << config.status().to_string() << "\n";
        return 2;
    }
    if (Status logging = set_up_logging(*config); !logging.is_ok()) {
        std::cerr << "corund: " << logging.to_string() << "\n";
        return 2;
    }
    // Signals are taken by sigwait below, never by a handler on a random thread; the mask is
    // set before any thread starts so every thread inherits it.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that vanished must not kill the daemon

    fit_descriptor_limit(config->connections);
    const std::string socket_path = resolved_socket_path(*config);
    auto listener = UnixListener::bind(socket_path, config->socket_group);
    if (!listener) {
        spdlog::error("{}", listener.status().to_string());
        return 1;
    }
    PeerRegistry peers;
    CorunService service(config->limits, peers);
    grpc::ServerBuilder builder;
    builder.RegisterService(&service);
    // A model travels inside LoadModel: room for the largest allowed plus the message around it.
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(config->limits.max_model_bytes + (uint64_t{1} << 20)));
    // A dead peer is noticed within about a second even where the socket does not say so.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
    // No listening port: connections come only from the Unix socket, after SO_PEERCRED.
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
        spdlog::error("cannot start the gRPC server");
        return 1;
    }
    listener.value()->start(
        server.get(), &peers, config->connections,
        [&service](int fd, const PeerCredentials&) { service.connection_opened(fd); });
    spdlog::info(
        "corund {} (protocol {}) serving on {} (pid {}); limits per client: {} models, "
        "{} queued frames, {} bytes of shared memory, {}-byte models; per user: {} threads, "
        "{} bytes of model memory, {} connections ({} in all); frames stopped after {} ms",
        daemon_version(), PROTOCOL_VERSION, listener.value()->path(), getpid(),
        config->limits.max_models_per_client, config->limits.max_queued_frames_per_client,
        config->limits.max_shm_bytes_per_client, config->limits.max_model_bytes,
        config->limits.max_threads_per_client, config->limits.max_model_memory_per_client,
        config->connections.max_connections_per_user, config->connections.max_connections,
        config->limits.max_frame_time_limit.count());

    int exit_code = 0;
    if (front != nullptr) {
        VDeviceParams front_params;
        front_params.group_id = DEFAULT_GROUP_ID;
        auto vdevice = VDevice::create_shared(front_params);
        Status started = vdevice ? front->start(vdevice.release()) : vdevice.status();
        if (!started.is_ok()) {
            spdlog::error("{}", started.to_string());
            exit_code = 1;
        }
    }
    if (exit_code == 0) {
        int signal_number = 0;
        while (sigwait(&stop_signals, &signal_number) != 0) {
        }
        spdlog::info("{} received: shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    // Whatever runs (a frame stuck inside one operator cannot be stopped), corund is gone
    // within SHUTDOWN_BOUND: the socket is removed and the process exits.
    std::thread([socket = listener.value()->path()] {
        std::this_thread::sleep_for(SHUTDOWN_BOUND);
        spdlog::error("shutdown took longer than {} s; exiting now", SHUTDOWN_BOUND.count());
        unlink(socket.c_str());
        _exit(1);
    }).detach();
    if (front != nullptr) front->stop();
    listener.value()->stop();
    // Streams are cancelled after the deadline; their handlers release their sessions.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    service.release_all_sessions();
    listener = Status(StatusCode::SHUTDOWN, "stopped");  // removes the socket file
    spdlog::info("corund stopped");
    return exit_code;
}

}  // namespace corun::service
