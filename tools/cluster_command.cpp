// `corun cluster`: starts a NATS server with JetStream for cluster batches and creates the
// streams, the workers' consumer and the nodes bucket (or, with --cluster URL, only makes sure
// they exist on a server started elsewhere); `corun cluster status`: nodes, queue and rates.
// docs/CLUSTER.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli_support.hpp"
#include "cluster/cluster_layout.hpp"
#include "cluster/cluster_status.hpp"
#include "cluster_options.hpp"
#include "commands.hpp"

namespace corun::tools {
namespace {

struct ClusterCommandOptions {
    std::string listen = "127.0.0.1:4222";
    std::string store_dir;
    std::string nats_server = "nats-server";
    int64_t ack_wait_s = 30;
    ClusterConnectOptions connect;
    bool json = false;
};

std::string default_store_dir() {
    if (const char* data = std::getenv("XDG_DATA_HOME"); data != nullptr && *data != '\0') {
        return std::string(data) + "/corun/jetstream";
    }
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : ".") + "/.local/share/corun/jetstream";
}

// A JSON string (the NATS config syntax takes JSON's quoted strings).
std::string quoted_value(const std::string& text) {
    return nlohmann::json(text).dump();
}

// The server's configuration: where it listens, JetStream on with its store, the token. The
// token goes in this file (mode 0600), not on nats-server's command line where `ps` shows it.
Expected<std::string> write_server_config(const ClusterCommandOptions& options,
                                          const std::string& token) {
    const size_t colon = options.listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == options.listen.size()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--listen '" + options.listen + "' is not HOST:PORT (127.0.0.1:4222)");
    }
    std::error_code error;
    std::filesystem::create_directories(options.store_dir, error);
    if (error) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot create --store-dir '" + options.store_dir + "': " + error.message());
    }
    const std::string path = options.store_dir + "/corun-nats.conf";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return Status(StatusCode::OPEN_FILE_FAILURE, "cannot write '" + path + "'");
    }
    ::fchmod(fd, 0600);
    std::string text = "host: " + quoted_value(options.listen.substr(0, colon)) + "\n" +
                       "port: " + options.listen.substr(colon + 1) + "\n" +
                       "jetstream {\n  store_dir: " + quoted_value(options.store_dir) + "\n}\n";
    if (!token.empty()) text += "authorization {\n  token: " + quoted_value(token) + "\n}\n";
    const bool written = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    ::close(fd);
    if (!written) return Status(StatusCode::FILE_OPERATION_FAILURE, "cannot write '" + path + "'");
    return path;
}

Status start_cluster(ClusterCommandOptions& options) {
    CORUN_TRY(auto nats, nats_connect_options(options.connect));
    CORUN_CHECK(options.ack_wait_s >= 1 && options.ack_wait_s <= 3600, StatusCode::INVALID_ARGUMENT,
                "--ack-wait must be 1 to 3600 seconds");
    cluster::ClusterSettings settings;
    settings.ack_wait_ms = options.ack_wait_s * 1000;
    if (!options.connect.url.empty()) {
        // A server started elsewhere: only make sure the streams are there.
        CORUN_TRY(auto client, cluster::NatsClient::connect(nats));
        CORUN_TRY(const auto layout, cluster::ensure_cluster_layout(*client, settings));
        if (options.json) {
            std::cout << nlohmann::json{{"server", nats.url}, {"layout", layout}}.dump(2) << "\n";
        } else {
            std::cout << "corun cluster: the streams are ready on " << nats.url << "\n";
        }
        return Status::ok();
    }
    CORUN_CHECK(nats.creds_file.empty(), StatusCode::INVALID_ARGUMENT,
                "--creds needs a server configured for NATS accounts (operator JWTs), which "
                "corun cluster does not start; start nats-server with its resolver yourself "
                "(docs/CLUSTER.md) and run `corun cluster --cluster URL --creds FILE`");
    if (options.store_dir.empty()) options.store_dir = default_store_dir();
    CORUN_TRY(const std::string config, write_server_config(options, nats.token));

    const pid_t child = fork();
    if (child < 0) return Status(StatusCode::INTERNAL_FAILURE, "fork failed");
    if (child == 0) {
        execlp(options.nats_server.c_str(), options.nats_server.c_str(), "-c", config.c_str(),
               static_cast<char*>(nullptr));
        std::cerr << "corun cluster: cannot run '" << options.nats_server
                  << "' (install Debian's nats-server, or give --nats-server PATH)\n";
        _exit(127);
    }
    stop_on_signals();
    auto stop_server = [child] {
        kill(child, SIGTERM);
        int status = 0;
        waitpid(child, &status, 0);
    };

    nats.url = "nats://" + options.listen;
    std::unique_ptr<cluster::NatsClient> client;
    Status last = Status::ok();
    for (int attempt = 0; attempt < 100 && !stop_requested; ++attempt) {
        int status = 0;
        if (waitpid(child, &status, WNOHANG) == child) {
            return Status(StatusCode::INTERNAL_FAILURE,
                          "nats-server exited (" +
                              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                              ") before it served; is " + options.listen +
                              " in use? its output is above");
        }
        auto connected = cluster::NatsClient::connect(nats);
        if (connected.has_value()) {
            client = std::move(*connected);
            break;
        }
        last = connected.status();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!client) {
        stop_server();
        return last.is_ok() ? Status(StatusCode::ABORTED, "stopped") : last;
    }
    auto layout = cluster::ensure_cluster_layout(*client, settings);
    client.reset();
    if (!layout.has_value()) {
        stop_server();
        return layout.status();
    }
    if (options.json) {
        std::cout << nlohmann::json{{"server", nats.url},
                                    {"pid", child},
                                    {"store_dir", options.store_dir},
                                    {"layout", *layout}}
                         .dump()
                  << std::endl;
    } else {
        std::cout << "corun cluster: nats-server (pid " << child << ") serves " << nats.url
                  << " with JetStream in " << options.store_dir
                  << "\n  workers:  corun worker --cluster " << nats.url
                  << (nats.token.empty() ? "" : " --token-file FILE")
                  << "\n  batches:  corun batch TASK... PATH... --db FILE --cluster " << nats.url
                  << std::endl;
    }
    while (!stop_requested) {
        int status = 0;
        if (waitpid(child, &status, WNOHANG) == child) {
            return Status(StatusCode::INTERNAL_FAILURE, "nats-server exited unexpectedly");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    stop_server();
    return Status::ok();
}

Status show_status(const ClusterCommandOptions& options) {
    CORUN_TRY(auto nats, nats_connect_options(options.connect));
    CORUN_TRY(auto client, cluster::NatsClient::connect(nats));
    CORUN_TRY(const auto status, cluster::read_cluster_status(*client));
    if (options.json) {
        std::cout << status.dump(2) << "\n";
    } else {
        std::cout << cluster::cluster_status_text(status);
    }
    return Status::ok();
}

}  // namespace

void add_cluster_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "cluster",
        "Start a NATS JetStream server for cluster batches (or prepare one with --cluster URL); "
        "`corun cluster status` shows nodes, queue and rates");
    auto options = std::make_shared<ClusterCommandOptions>();
    command->add_option("--listen", options->listen,
                        "HOST:PORT the server listens on (default 127.0.0.1:4222; a LAN address "
                        "for other machines)");
    command->add_option("--store-dir", options->store_dir,
                        "JetStream's folder (default ~/.local/share/corun/jetstream)");
    command->add_option("--nats-server", options->nats_server,
                        "The nats-server program (default: nats-server on PATH)");
    command->add_option("--ack-wait", options->ack_wait_s,
                        "Seconds a worker holds an item before it is given to another (default "
                        "30; workers renew it while an item runs)");
    command->add_flag("--json", options->json, "Print what was started as one JSON line");
    add_cluster_connect_options(*command, options->connect, false);

    auto* status = command->add_subcommand("status", "Nodes, queue depth and rates of a cluster");
    auto status_options = std::make_shared<ClusterCommandOptions>();
    add_cluster_connect_options(*status, status_options->connect, true);
    status->add_flag("--json", status_options->json, "Print as JSON");
    status->callback([status_options] {
        const Status result = show_status(*status_options);
        if (!result.is_ok()) throw CLI::RuntimeError(report_error(result));
    });
    command->require_subcommand(0, 1);
    command->callback([options, status] {
        if (status->parsed()) return;
        const Status result = start_cluster(*options);
        if (!result.is_ok()) throw CLI::RuntimeError(report_error(result));
    });
}

}  // namespace corun::tools
