#include "process_monitor_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corun::tools {

Status no_monitored_process(const std::string& socket, const std::string& cause) {
    return Status(StatusCode::RPC_FAILED,
                  "no monitored process answers on " + socket + " (" + cause +
                      "); run the application with CORUN_MONITOR=1 (or VDeviceParams::monitor) "
                      "and give its PID, with the same CORUN_MONITOR_DIR");
}

Expected<std::string> ask_process_monitor(const std::string& socket, const std::string& request,
                                          std::chrono::seconds timeout) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket.size() >= sizeof(address.sun_path)) {
        return no_monitored_process(socket, "path too long");
    }
    std::memcpy(address.sun_path, socket.c_str(), socket.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        const std::string cause = std::strerror(errno);
        if (fd >= 0) close(fd);
        return no_monitored_process(socket, cause);
    }
    timeval limit{static_cast<time_t>(timeout.count()), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        close(fd);
        return no_monitored_process(socket, "it closed the connection");
    }
    std::string answer;
    char buffer[65536];
    ssize_t n = 0;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0)
        answer.append(buffer, static_cast<size_t>(n));
    const bool timed_out = n < 0;
    close(fd);
    if (timed_out) return no_monitored_process(socket, "no answer came back in time");
    return answer;
}

}  // namespace corun::tools
