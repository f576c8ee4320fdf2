#include "protocol/connection_admission.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corun::service {

std::string refusal_line(const std::string& reason) {
    std::string line = REFUSED_PREFIX + reason;
    for (char& c : line) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    if (line.size() > MAX_ADMISSION_LINE - 1) line.resize(MAX_ADMISSION_LINE - 1);
    return line + "\n";
}

bool write_admission(int fd, const std::string& line) {
    const ssize_t sent = send(fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return sent == static_cast<ssize_t>(line.size());
}

Status read_admission(int fd, std::chrono::milliseconds timeout, const std::string& socket_path) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    while (line.size() < MAX_ADMISSION_LINE) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd readable{fd, POLLIN, 0};
        const int ready = poll(&readable, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            return Status(StatusCode::RPC_FAILED,
                          "the server at " + socket_path + " said nothing within " +
                              std::to_string(timeout.count()) +
                              " ms of connecting; it is not corund, or a corund older than this "
                              "client (use matching corun and corund builds)");
        }
        char c = 0;
        const ssize_t got = recv(fd, &c, 1, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            return Status(StatusCode::RPC_FAILED,
                          "corund at " + socket_path +
                              " closed the connection before admitting it" +
                              (got < 0 ? std::string(" (") + std::strerror(errno) + ")" : ""));
        }
        line.push_back(c);
        if (c != '\n') continue;
        if (line == ADMITTED_LINE) return Status::ok();
        const std::string prefix = REFUSED_PREFIX;
        if (line.compare(0, prefix.size(), prefix) == 0) {
            return Status(StatusCode::RESOURCE_LIMIT,
                          "corund at " + socket_path + " refused the connection: " +
                              line.substr(prefix.size(), line.size() - prefix.size() - 1));
        }
        break;
    }
    return Status(StatusCode::RPC_FAILED, "the server at " + socket_path +
                                              " did not answer as corund does; it is not corund, "
                                              "or one from another release");
}

}  // namespace corun::service
