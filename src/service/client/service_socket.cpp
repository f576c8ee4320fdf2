#include "service/client/service_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace corun::service {

std::string resolve_service_socket(const VDeviceParams& params) {
    return resolve_service_socket(params.service_socket);
}

std::string resolve_service_socket(const std::string& given) {
    if (!given.empty()) return given;
    if (const char* from_environment = std::getenv("CORUN_SERVICE_SOCKET");
        from_environment != nullptr && from_environment[0] != '\0') {
        return from_environment;
    }
    return DEFAULT_SERVICE_SOCKET;
}

std::string probe_service_socket(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path)) {
        return "the path is empty or longer than " + std::to_string(sizeof(address.sun_path) - 1) +
               " bytes, the limit of a Unix socket path";
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket() failed: ") + std::strerror(errno);
    const int result = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    const int error = errno;
    close(fd);
    if (result == 0) return "";
    switch (error) {
        case ENOENT:
            return "no such socket";
        case ECONNREFUSED:
            return "connection refused";
        case EACCES:
        case EPERM:
            return "permission denied; corund's socket is writable by its group only, so add "
                   "your user to that group or run as it";
        default:
            return std::strerror(error);
    }
}

std::string service_unreachable_message(const std::string& path, const std::string& cause) {
    return "corund is not running at " + path + " (" + cause +
           "); start it with `corund --socket " + path +
           "` or `corun serve`, or set CORUN_SERVICE_SOCKET";
}

}  // namespace corun::service
