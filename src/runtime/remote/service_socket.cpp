#include "runtime/remote/service_socket.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "protocol/connection_admission.hpp"

namespace corun::service {

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

namespace {

constexpr std::chrono::seconds ADMISSION_TIMEOUT{10};

// The uid of a user named by name or number; nullopt if there is no such user.
std::optional<uid_t> uid_of(const std::string& user) {
    if (!user.empty() && user.find_first_not_of("0123456789") == std::string::npos) {
        return static_cast<uid_t>(std::stoul(user));
    }
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
        return std::nullopt;
    }
    return found->pw_uid;
}

Status check_listener_user(int fd, const std::string& path, const std::string& service_user) {
    ucred peer{};
    socklen_t length = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
        return Status(StatusCode::RPC_FAILED, "cannot read who listens on " + path + ": " +
                                                  std::strerror(errno) +
                                                  "; corun sends nothing to an unknown listener");
    }
    std::optional<uid_t> allowed;
    if (!service_user.empty()) {
        allowed = uid_of(service_user);
        if (!allowed) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "VDeviceParams::service_user '" + service_user +
                              "' is no user of this system; give corund's user name or uid");
        }
    } else {
        allowed = uid_of("corun");
    }
    if (peer.uid == 0 || peer.uid == geteuid() || (allowed && peer.uid == *allowed)) {
        return Status::ok();
    }
    return Status(StatusCode::RPC_FAILED,
                  "the server on " + path + " runs as uid " + std::to_string(peer.uid) +
                      ", not as root, as corund's user (" +
                      (service_user.empty() ? std::string("corun") : service_user) +
                      ") or as you; corun sends nothing to it (another user may have replaced "
                      "the socket). Check the socket's directory, or set "
                      "VDeviceParams::service_user to the user corund runs as");
}

}  // namespace

Expected<int> connect_to_corund(const std::string& path, const std::string& service_user) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path)) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            service_unreachable_message(path, "the path is empty or longer than " +
                                                  std::to_string(sizeof(address.sun_path) - 1) +
                                                  " bytes, the limit of a Unix socket path"));
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return Status(StatusCode::RPC_FAILED,
                      std::string("socket() failed: ") + std::strerror(errno));
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        close(fd);
        return Status(StatusCode::RPC_FAILED,
                      service_unreachable_message(path, probe_service_socket(path)));
    }
    Status checked = check_listener_user(fd, path, service_user);
    if (checked.is_ok()) checked = read_admission(fd, ADMISSION_TIMEOUT, path);
    if (checked.is_ok() && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        checked = Status(StatusCode::RPC_FAILED, std::string("fcntl: ") + std::strerror(errno));
    }
    if (!checked.is_ok()) {
        close(fd);
        return checked;
    }
    return fd;
}

std::string service_unreachable_message(const std::string& path, const std::string& cause) {
    return "corund is not running at " + path + " (" + cause +
           "); start it with `corund --socket " + path +
           "` or `corun serve`, or set CORUN_SERVICE_SOCKET";
}

}  // namespace corun::service
