#include "service/daemon/unix_listener.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace corun::service {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

// Creates every missing directory of `directory` with mode 0750 (the socket's directory is
// readable by corund's group only; systemd's RuntimeDirectory= does the same).
Status make_directories(const std::string& directory, gid_t group, bool set_group) {
    if (directory.empty()) return Status::ok();
    struct stat info {};
    if (stat(directory.c_str(), &info) == 0) {
        if (S_ISDIR(info.st_mode)) return Status::ok();
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + directory + "' exists and is not a directory; choose another --socket");
    }
    const size_t slash = directory.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
        CORUN_RETURN_IF_ERROR(make_directories(directory.substr(0, slash), group, set_group));
    }
    if (mkdir(directory.c_str(), 0750) != 0 && errno != EEXIST) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot create the socket directory '" + directory + "': " + errno_text() +
                          "; create it (mode 0750) or run corund with the rights to");
    }
    chmod(directory.c_str(), 0750);  // mkdir applies the umask
    if (set_group && chown(directory.c_str(), static_cast<uid_t>(-1), group) != 0) {
        spdlog::warn("cannot give the socket directory '{}' to group {}: {}", directory, group,
                     errno_text());
    }
    return Status::ok();
}

Expected<sockaddr_un> socket_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "socket path '" + path + "' is empty or longer than " +
                          std::to_string(sizeof(address.sun_path) - 1) +
                          " bytes, the limit of a Unix socket path; choose a shorter --socket");
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

// What stands at `path`: nothing, a live server (refuse), or a stale socket (remove it).
Status clear_stale_socket(const std::string& path, const sockaddr_un& address) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) return Status::ok();
    if (!S_ISSOCK(info.st_mode)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + path +
                          "' exists and is not a socket; remove it or choose another "
                          "--socket");
    }
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return Status(StatusCode::INTERNAL_FAILURE, "socket(): " + errno_text());
    const int connected =
        connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    close(probe);
    if (connected == 0) {
        return Status(StatusCode::INVALID_OPERATION,
                      "another corund is already serving on " + path +
                          "; stop it first, or give this one another --socket");
    }
    spdlog::info("removing the stale socket {} (nothing answers on it)", path);
    if (unlink(path.c_str()) != 0) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot remove the stale socket " + path + ": " + errno_text());
    }
    return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<UnixListener>> UnixListener::bind(const std::string& path,
                                                           const std::string& group) {
    CORUN_TRY(sockaddr_un address, socket_address(path));
    gid_t group_id = 0;
    if (!group.empty()) {
        std::vector<char> buffer(16384);
        struct group entry {};
        struct group* found = nullptr;
        if (getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
            found == nullptr) {
            return Status(StatusCode::NOT_FOUND, "socket group '" + group +
                                                     "' does not exist; create it (groupadd " +
                                                     group + ") or leave --socket-group empty");
        }
        group_id = found->gr_gid;
    }
    const size_t slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
        CORUN_RETURN_IF_ERROR(make_directories(path.substr(0, slash), group_id, !group.empty()));
    }
    CORUN_RETURN_IF_ERROR(clear_stale_socket(path, address));

    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status(StatusCode::INTERNAL_FAILURE, "socket(): " + errno_text());
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        const std::string cause = errno_text();
        close(fd);
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot bind " + path + ": " + cause +
                          "; check that its directory is writable by corund's user");
    }
    // Only the owner and the group may connect: a client can make corund run models.
    if (chmod(path.c_str(), 0660) != 0 ||
        (!group.empty() && chown(path.c_str(), static_cast<uid_t>(-1), group_id) != 0)) {
        const std::string cause = errno_text();
        close(fd);
        unlink(path.c_str());
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot set mode 0660 and group '" + group + "' on " + path + ": " + cause +
                          "; corund's user must belong to that group");
    }
    if (listen(fd, 64) != 0) {
        const std::string cause = errno_text();
        close(fd);
        unlink(path.c_str());
        return Status(StatusCode::INTERNAL_FAILURE, "listen(" + path + "): " + cause);
    }
    const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0) {
        close(fd);
        unlink(path.c_str());
        return Status(StatusCode::INTERNAL_FAILURE, "eventfd(): " + errno_text());
    }
    return std::unique_ptr<UnixListener>(new UnixListener(path, fd, wake));
}

UnixListener::UnixListener(std::string path, int listen_fd, int wake_fd)
    : path_(std::move(path)), listen_fd_(listen_fd), wake_fd_(wake_fd) {}

UnixListener::~UnixListener() {
    stop();
    close(listen_fd_);
    close(wake_fd_);
    unlink(path_.c_str());
}

void UnixListener::start(grpc::Server* server, PeerRegistry* peers,
                         std::function<void(int, const PeerCredentials&)> on_connect) {
    server_ = server;
    peers_ = peers;
    on_connect_ = std::move(on_connect);
    thread_ = std::thread([this] { accept_loop(); });
}

void UnixListener::stop() {
    if (!thread_.joinable()) return;
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof(one)) < 0) spdlog::warn("cannot wake the accept loop");
    thread_.join();
}

void UnixListener::accept_loop() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            spdlog::error("poll on {} failed: {}; no more connections accepted", path_,
                          errno_text());
            return;
        }
        if (fds[1].revents != 0) return;
        if ((fds[0].revents & POLLIN) == 0) continue;
        // gRPC's endpoint expects a non-blocking descriptor (its own sockets are); a blocking one
        // stalls the poller thread that reads it.
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            // Out of descriptors or a connection reset before accept: keep serving the others.
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
                spdlog::warn("accept on {} failed: {}", path_, errno_text());
                if (errno == EMFILE || errno == ENFILE) usleep(100 * 1000);
            }
            continue;
        }
        PeerCredentials credentials;
        ucred peer{};
        socklen_t length = sizeof(peer);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0) {
            credentials = {true, static_cast<int32_t>(peer.pid), peer.uid, peer.gid};
            spdlog::info("connection {} from pid {} uid {} gid {}", PeerRegistry::peer_name(fd),
                         peer.pid, peer.uid, peer.gid);
        } else {
            spdlog::info("connection {} (peer credentials unknown: {})",
                         PeerRegistry::peer_name(fd), errno_text());
        }
        peers_->connected(fd, credentials);
        if (on_connect_) on_connect_(fd, credentials);
        grpc::AddInsecureChannelFromFd(server_, fd);  // gRPC owns and closes fd from here
    }
}

}  // namespace corun::service
