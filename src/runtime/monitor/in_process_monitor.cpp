#include "runtime/monitor/in_process_monitor.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/environment.hpp"
#include "runtime/monitor/group_recording.hpp"
#include "runtime/monitor/prometheus_page.hpp"

namespace corun::runtime::monitor {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Turns successive samples into the snapshot `corun monitor` shows: rates over the last second.
class SnapshotKeeper {
public:
    void update(const std::vector<GroupSample>& groups) {
        const auto now = Clock::now();
        Json snapshot;
        snapshot["source"] = "process " + std::to_string(getpid());
        snapshot["unix_time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
        snapshot["sessions"] = 0;
        snapshot["models"] = Json::array();
        snapshot["devices"] = Json::array();
        const double seconds =
            have_previous_ ? std::chrono::duration<double>(now - previous_time_).count() : 0;
        std::map<std::string, Counters> current;
        for (const auto& group : groups) {
            int64_t group_device_ns = 0;
            for (const auto& model : group.models) {
                const std::string key = group.group_id + "/" + std::to_string(model.model_id);
                const auto generative = group.generative.find(model.model_id);
                const bool is_llm = generative != group.generative.end();
                const uint64_t tokens = is_llm ? generative->second.tokens_generated : 0;
                current[key] = {model.frames_done, model.device_time_ns, tokens};
                const Counters before = previous_.count(key) ? previous_[key] : Counters{};
                const uint64_t frames = model.frames_done - before.frames;
                const int64_t device_ns = model.device_time_ns - before.device_ns;
                group_device_ns += device_ns;
                Json& record = snapshot["models"].emplace_back(Json{
                    {"name", model.name},
                    {"pid", getpid()},
                    {"group_id", group.group_id},
                    {"model_id", model.model_id},
                    {"priority", model.priority},
                    {"fps", seconds > 0 ? static_cast<double>(frames) / seconds : 0.0},
                    {"utilisation_percent",
                     seconds > 0 ? 100.0 * static_cast<double>(device_ns) / (seconds * 1e9) : 0.0},
                    {"latency_p50_ms", model.latency_p50_ms},
                    {"latency_p95_ms", model.latency_p95_ms},
                    {"queue_capacity", model.queue_capacity},
                    {"frames_waiting_in", model.frames_queued},
                    {"results_waiting_out", 0},  // in-process results go straight to callbacks
                    {"frames_done", model.frames_done},
                    {"fast_lane_frames", 0},
                    {"latency_slo_ms", model.latency_slo_ms},
                    {"deadline_admitted", model.deadline_admitted},
                    {"deadline_refused", model.deadline_refused},
                    {"deadline_dropped", model.deadline_dropped},
                    {"deadline_finished_late", model.deadline_finished_late},
                    {"deadline_met", model.deadline_met},
                    {"predicted_latency_ms", model.predicted_latency_ms},
                });
                if (is_llm) {
                    // As corund's monitor shows its LLMs: tokens/s over the last second.
                    const uint64_t new_tokens = tokens - std::min(tokens, before.tokens);
                    record["llm"] = true;
                    record["tokens_per_second"] =
                        seconds > 0 ? static_cast<double>(new_tokens) / seconds : 0.0;
                    record["tokens_generated"] = tokens;
                    record["context_used"] = generative->second.context_used;
                    record["context_capacity"] = generative->second.context_capacity;
                }
            }
            for (const auto& device : group.devices) {
                // Device time of the group's models over the time its slots had.
                const double capacity_ns = seconds * 1e9 * std::max(1u, group.slots);
                snapshot["devices"].push_back({
                    {"id", device.id},
                    {"kind", device.kind},
                    {"group_id", group.group_id},
                    {"utilisation_percent",
                     capacity_ns > 0
                         ? std::min(100.0,
                                    100.0 * static_cast<double>(group_device_ns) / capacity_ns)
                         : 0.0},
                });
            }
        }
        previous_ = std::move(current);
        previous_time_ = now;
        have_previous_ = true;
        std::lock_guard lock(mutex_);
        latest_ = snapshot.dump();
    }

    std::string latest() const {
        std::lock_guard lock(mutex_);
        return latest_;
    }

private:
    struct Counters {
        uint64_t frames = 0;
        int64_t device_ns = 0;
        uint64_t tokens = 0;  // generative models' tokens_generated
    };
    mutable std::mutex mutex_;
    std::string latest_ = "{}";
    // Touched only by the monitor's thread.
    std::map<std::string, Counters> previous_;
    Clock::time_point previous_time_;
    bool have_previous_ = false;
};

std::string socket_path;
std::atomic<int> bound_metrics_port{0};

// Sends all of `text` (the socket blocks); false if the reader went away.
bool send_all(int fd, const std::string& text) {
    size_t sent = 0;
    while (sent < text.size()) {
        const ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

std::atomic<bool> tracing{false};  // one trace at a time

// `trace SECONDS MAX_EVENTS`: records this process's groups and answers with the Chrome trace,
// or with {"error": "..."}; on a thread of its own, so snapshots go on meanwhile.
void serve_trace(int client, const std::string& request) {
    unsigned long long seconds = 0, max_events = 0;
    auto answer_error = [&](const Status& status) {
        send_all(client, Json{{"error", status.to_string()}}.dump());
        close(client);
    };
    if (std::sscanf(request.c_str(), "trace %llu %llu", &seconds, &max_events) != 2 ||
        seconds == 0 || seconds > MAX_TRACE_SECONDS) {
        answer_error(Status(StatusCode::INVALID_ARGUMENT,
                            "a trace request is `trace SECONDS MAX_EVENTS` with 1..600 seconds"));
        return;
    }
    bool idle = false;
    if (!tracing.compare_exchange_strong(idle, true)) {
        answer_error(Status(StatusCode::INVALID_OPERATION,
                            "this process is recording a trace for another client; try again "
                            "when it ends (one trace at a time)"));
        return;
    }
    std::thread([client, seconds, max_events] {
        const int flags = fcntl(client, F_GETFL);
        fcntl(client, F_SETFL, flags & ~O_NONBLOCK);
        scheduler::RecordingOptions options;
        if (max_events != 0) options.max_events = max_events;
        // The client going away (it was interrupted) ends the recording.
        auto gone = [client] {
            pollfd peer{client, POLLRDHUP, 0};
            return poll(&peer, 1, 0) > 0 && (peer.revents & (POLLRDHUP | POLLHUP | POLLERR));
        };
        auto json = record_live_groups(std::chrono::seconds(seconds), options, gone);
        tracing = false;
        send_all(client, json ? *json : Json{{"error", json.status().to_string()}}.dump());
        close(client);
    }).detach();
}

void remove_socket() {
    if (!socket_path.empty()) unlink(socket_path.c_str());
}

// The listening socket, or -1 with the reason on stderr.
int listen_at(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) {
        std::fprintf(stderr,
                     "corun: the monitor socket path %s is longer than a Unix socket path may be; "
                     "set a shorter monitor_dir (or CORUN_MONITOR_DIR)\n",
                     path.c_str());
        return -1;
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path.c_str());  // a stale file from an earlier process with this PID
    // Only the user and the group may ask what this process runs.
    const mode_t previous_mask = umask(0117);
    const bool bound =
        fd >= 0 && bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
    umask(previous_mask);
    if (!bound || listen(fd, 8) != 0) {
        std::fprintf(stderr,
                     "corun: monitoring is on but the monitor socket %s could not be created "
                     "(%s); set monitor_dir (or CORUN_MONITOR_DIR) to a writable directory\n",
                     path.c_str(), std::strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

// How long a connection may take to say what it wants.
constexpr int REQUEST_WAIT_MS = 100;
// The most of an HTTP request that is read: `GET /metrics` and a few headers.
constexpr size_t MAX_HTTP_REQUEST_BYTES = 8192;

// The TCP listener of the Prometheus page at "[ADDRESS:]PORT", or -1 with the reason on stderr.
int listen_for_metrics(const std::string& where) {
    std::string address = "127.0.0.1";
    std::string port_text = where;
    if (const size_t colon = where.rfind(':'); colon != std::string::npos) {
        address = where.substr(0, colon);
        port_text = where.substr(colon + 1);
    }
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    sockaddr_in socket_address{};
    socket_address.sin_family = AF_INET;
    if (port_text.empty() || *end != '\0' || port < 0 || port > 65535 ||
        inet_pton(AF_INET, address.c_str(), &socket_address.sin_addr) != 1) {
        std::fprintf(stderr,
                     "corun: CORUN_MONITOR_METRICS='%s' is not [ADDRESS:]PORT (an IPv4 address "
                     "and a port 0..65535, e.g. 9464 or 0.0.0.0:9464); no metrics page\n",
                     where.c_str());
        return -1;
    }
    socket_address.sin_port = htons(static_cast<uint16_t>(port));
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int yes = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (fd < 0 ||
        bind(fd, reinterpret_cast<const sockaddr*>(&socket_address), sizeof(socket_address)) != 0 ||
        listen(fd, 16) != 0) {
        std::fprintf(stderr,
                     "corun: CORUN_MONITOR_METRICS: cannot listen on %s:%ld (%s); no metrics "
                     "page\n",
                     address.c_str(), port, std::strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    socklen_t length = sizeof(socket_address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&socket_address), &length);
    bound_metrics_port = ntohs(socket_address.sin_port);
    std::fprintf(stderr, "corun: Prometheus metrics of process %d on http://%s:%d/metrics\n",
                 getpid(), address.c_str(), bound_metrics_port.load());
    return fd;
}

// One HTTP exchange: `GET /metrics` gets the page, anything else 404 or 405; the connection
// closes after the answer. A client that does not finish its request within REQUEST_WAIT_MS
// is dropped, so a stalled one cannot hold the monitor.
void serve_metrics_request(int client, ProcessMetricsPage& page, const GroupSampler& sampler) {
    std::string request;
    const auto until = Clock::now() + std::chrono::milliseconds(REQUEST_WAIT_MS);
    while (request.find("\r\n\r\n") == std::string::npos &&
           request.size() < MAX_HTTP_REQUEST_BYTES) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
        pollfd readable{client, POLLIN, 0};
        if (left <= 0 || poll(&readable, 1, static_cast<int>(left)) <= 0) break;
        char chunk[1024];
        const ssize_t n = recv(client, chunk, sizeof(chunk), 0);
        if (n <= 0) break;
        request.append(chunk, static_cast<size_t>(n));
    }
    std::string status = "200 OK";
    std::string body;
    const std::string line = request.substr(0, request.find("\r\n"));
    if (line.rfind("GET /metrics ", 0) == 0 || line.rfind("GET /metrics?", 0) == 0) {
        body = page.render(sampler());
    } else if (line.rfind("GET ", 0) == 0) {
        status = "404 Not Found";
        body = "this is corun's in-process monitor: GET /metrics\n";
    } else {
        status = "405 Method Not Allowed";
        body = "GET /metrics only\n";
    }
    const int flags = fcntl(client, F_GETFL);
    fcntl(client, F_SETFL, flags & ~O_NONBLOCK);
    // A reader that stops reading must not stall the monitor for ever.
    timeval limit{1, 0};
    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    send_all(client, "HTTP/1.1 " + status +
                         "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    close(client);
}

// Answers each connection with the latest snapshot, or a trace when asked; samples once a
// second in between.
[[noreturn]] void serve(int listener, int metrics_listener, GroupSampler sampler) {
    SnapshotKeeper keeper;
    ProcessMetricsPage page;
    auto next_sample = Clock::now();
    while (true) {
        if (Clock::now() >= next_sample) {
            keeper.update(sampler());
            next_sample = Clock::now() + std::chrono::seconds(1);
        }
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_sample - Clock::now());
        pollfd ready[2] = {{listener, POLLIN, 0}, {metrics_listener, POLLIN, 0}};
        const nfds_t watched = metrics_listener >= 0 ? 2 : 1;
        if (poll(ready, watched, static_cast<int>(std::max<int64_t>(0, wait.count()))) <= 0) {
            continue;
        }
        if (watched == 2 && (ready[1].revents & POLLIN)) {
            const int client =
                accept4(metrics_listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (client >= 0) {
                serve_metrics_request(client, page, sampler);
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));  // as below
            }
        }
        if (!(ready[0].revents & POLLIN)) continue;
        const int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) {
            // Out of descriptors (EMFILE), say: the connection stays pending and poll() would
            // report it again at once. Back off rather than spin a core of the application.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        // A request comes first, if any: `snapshot` (corun monitor) or `trace ...` (corun
        // trace --pid). A client that sends none (an older corun) gets the snapshot.
        std::string request;
        pollfd asked{client, POLLIN, 0};
        if (poll(&asked, 1, REQUEST_WAIT_MS) > 0) {
            char line[128];
            const ssize_t n = recv(client, line, sizeof(line) - 1, 0);
            if (n > 0) request.assign(line, static_cast<size_t>(n));
        }
        if (request.rfind("trace", 0) == 0) {
            serve_trace(client, request);
            continue;
        }
        // A reader that does not read gets what fits in the socket buffer, never a stalled
        // monitor: the socket does not block.
        send_all(client, keeper.latest());
        close(client);
    }
}

void start(const VDeviceParams& params, GroupSampler sampler) {
    const std::string path = environment::in_process_monitor_socket(params, getpid());
    const int listener = listen_at(path);
    if (listener < 0) return;
    socket_path = path;
    std::atexit(remove_socket);
    const std::string metrics_at = environment::value(environment::MONITOR_METRICS);
    const int metrics_listener = metrics_at.empty() ? -1 : listen_for_metrics(metrics_at);
    // Sampling starts on this thread, not the caller's: the caller may hold the group registry.
    std::thread([listener, metrics_listener, sampler = std::move(sampler)] {
        serve(listener, metrics_listener, sampler);
    }).detach();
}

}  // namespace

int metrics_port() {
    return bound_metrics_port.load();
}

bool monitoring_requested(const VDeviceParams& params) {
    return environment::monitor_enabled(params);
}

void start_in_process_monitor(const VDeviceParams& params, GroupSampler sampler) {
    static std::once_flag started;
    std::call_once(started, [&] { start(params, std::move(sampler)); });
}

}  // namespace corun::runtime::monitor
