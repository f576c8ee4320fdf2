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
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/connection_admission.hpp"

namespace corun::service {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

// Whether a directory's owner is trusted: root or corund's own user. Only they may be able
// to add, remove or rename entries in the socket's directory or above it; otherwise another
// user could swap the socket (or the directory) for a link between our checks and our use.
bool trusted_owner(const struct stat& info) {
    return info.st_uid == 0 || info.st_uid == geteuid();
}

// Checks every directory from / down to `directory` (a real path, no links): owned by root or
// corund's user, and writable by no one else, except sticky directories such as /tmp for the
// ones above, where others cannot rename what is ours.
Status check_directory_chain(const std::string& directory) {
    std::string path;
    size_t start = 1;
    for (;;) {
        const size_t slash = directory.find('/', start);
        path = slash == std::string::npos ? directory : directory.substr(0, slash);
        if (path.empty()) path = "/";
        struct stat info {};
        if (lstat(path.c_str(), &info) != 0) {
            return Status(StatusCode::FILE_OPERATION_FAILURE,
                          "cannot inspect '" + path + "': " + errno_text());
        }
        const bool is_last = slash == std::string::npos;
        if (!S_ISDIR(info.st_mode)) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "'" + path + "' is not a directory; choose another --socket");
        }
        const bool writable_by_others = (info.st_mode & (S_IWGRP | S_IWOTH)) != 0;
        const bool sticky = (info.st_mode & S_ISVTX) != 0;
        if (!trusted_owner(info) || (writable_by_others && (is_last || !sticky))) {
            char mode[8];
            std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
            return Status(StatusCode::INVALID_OPERATION,
                          "refusing the socket directory: '" + path + "' is owned by uid " +
                              std::to_string(info.st_uid) + " with mode " + mode +
                              "; another user could replace corund's socket there. Use a "
                              "directory owned by root or corund's user and writable by no one "
                              "else, such as /run/corun (the default), or remove this one");
        }
        if (is_last) return Status::ok();
        start = slash + 1;
    }
}

// Creates every missing directory of `directory`: parents 0755, the socket's own 0750 (readable
// by corund's group only; systemd's RuntimeDirectory= does the same), then checks the chain.
// Returns the directory's real path, where the socket is then bound.
Expected<std::string> secure_socket_directory(const std::string& directory, gid_t group,
                                              bool set_group) {
    std::string path;
    size_t start = 1;
    for (;;) {
        const size_t slash = directory.find('/', start);
        path = slash == std::string::npos ? directory : directory.substr(0, slash);
        const bool is_last = slash == std::string::npos;
        if (!path.empty() && mkdir(path.c_str(), is_last ? 0750 : 0755) == 0) {
            chmod(path.c_str(), is_last ? 0750 : 0755);  // mkdir applies the umask
            if (is_last && set_group && chown(path.c_str(), static_cast<uid_t>(-1), group) != 0) {
                spdlog::warn("cannot give the socket directory '{}' to group {}: {}", path, group,
                             errno_text());
            }
        } else if (!path.empty() && errno != EEXIST) {
            return Status(StatusCode::FILE_OPERATION_FAILURE,
                          "cannot create the socket directory '" + path + "': " + errno_text() +
                              "; create it (owned by corund's user, mode 0750) or run corund "
                              "with the rights to");
        }
        if (is_last) break;
        start = slash + 1;
    }
    char resolved[PATH_MAX];
    if (realpath(directory.c_str(), resolved) == nullptr) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot resolve the socket directory '" + directory + "': " + errno_text());
    }
    CORUN_RETURN_IF_ERROR(check_directory_chain(resolved));
    return std::string(resolved);
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
    // The directory is checked (and the socket bound) by its real path, so no link in the
    // path given can point the bind elsewhere later; only root or corund's user can change
    // entries in it, so the socket cannot be swapped between bind() and chown().
    const size_t slash = path.find_last_of('/');
    const std::string directory =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    CORUN_TRY(const std::string real_directory,
              secure_socket_directory(directory, group_id, !group.empty()));
    const std::string real_path = (real_directory == "/" ? "" : real_directory) + "/" +
                                  (slash == std::string::npos ? path : path.substr(slash + 1));
    CORUN_TRY(address, socket_address(real_path));
    CORUN_RETURN_IF_ERROR(clear_stale_socket(real_path, address));

    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status(StatusCode::INTERNAL_FAILURE, "socket(): " + errno_text());
    // Only the owner and the group may connect (a client can make corund run models): the
    // socket is created with mode 0660 by the umask, never briefly wider. No thread runs yet.
    const mode_t previous_umask = umask(0117);
    const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    const std::string bind_error = errno_text();
    umask(previous_umask);
    if (bound != 0) {
        close(fd);
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot bind " + real_path + ": " + bind_error +
                          "; check that its directory is writable by corund's user");
    }
    if (!group.empty() && fchownat(AT_FDCWD, real_path.c_str(), static_cast<uid_t>(-1), group_id,
                                   AT_SYMLINK_NOFOLLOW) != 0) {
        const std::string cause = errno_text();
        close(fd);
        unlink(real_path.c_str());
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "cannot give " + real_path + " to group '" + group + "': " + cause +
                          "; corund's user must belong to that group");
    }
    if (listen(fd, 64) != 0) {
        const std::string cause = errno_text();
        close(fd);
        unlink(real_path.c_str());
        return Status(StatusCode::INTERNAL_FAILURE, "listen(" + path + "): " + cause);
    }
    const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0) {
        close(fd);
        unlink(real_path.c_str());
        return Status(StatusCode::INTERNAL_FAILURE, "eventfd(): " + errno_text());
    }
    return std::unique_ptr<UnixListener>(new UnixListener(real_path, fd, wake));
}

UnixListener::UnixListener(std::string path, int listen_fd, int wake_fd)
    : path_(std::move(path)), listen_fd_(listen_fd), wake_fd_(wake_fd) {}

UnixListener::~UnixListener() {
    stop();
    close(listen_fd_);
    close(wake_fd_);
    unlink(path_.c_str());
}

void UnixListener::start(grpc::Server* server, PeerRegistry* peers, ConnectionLimits limits,
                         std::function<void(int, const PeerCredentials&)> on_connect) {
    server_ = server;
    peers_ = peers;
    limits_ = limits;
    on_connect_ = std::move(on_connect);
    thread_ = std::thread([this] { accept_loop(); });
}

void UnixListener::stop() {
    if (!thread_.joinable()) return;
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof(one)) < 0) spdlog::warn("cannot wake the accept loop");
    thread_.join();
}

std::string UnixListener::over_connection_limit(const PeerCredentials& credentials) const {
    const PeerRegistry::OpenConnections open = peers_->count_open(credentials.uid);
    if (open.total >= limits_.max_connections) {
        return "corund has " + std::to_string(open.total) +
               " open connections, its limit (max_connections); close idle clients, or raise it "
               "(corund's config file, or --max-connections)";
    }
    if (credentials.known && open.of_user >= limits_.max_connections_per_user) {
        return "uid " + std::to_string(credentials.uid) + " has " + std::to_string(open.of_user) +
               " open connections, the limit per user (max_connections_per_user); close idle "
               "ones, or raise it (corund's config file, or --max-connections-per-user)";
    }
    return "";
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
        }
        if (const std::string refusal = over_connection_limit(credentials); !refusal.empty()) {
            // A flood of refused connections must not flood the log too: one line a second.
            ++refusals_unlogged_;
            const auto now = std::chrono::steady_clock::now();
            if (now - last_refusal_logged_ >= std::chrono::seconds(1)) {
                spdlog::warn("{} connection(s) refused, the last from pid {} uid {}: {}",
                             refusals_unlogged_, credentials.pid, credentials.uid, refusal);
                refusals_unlogged_ = 0;
                last_refusal_logged_ = now;
            }
            write_admission(fd, refusal_line(refusal));
            close(fd);
            continue;
        }
        if (!write_admission(fd, ADMITTED_LINE)) {
            close(fd);
            continue;
        }
        if (credentials.known) {
            spdlog::info("connection {} from pid {} uid {} gid {}", PeerRegistry::peer_name(fd),
                         credentials.pid, credentials.uid, credentials.gid);
        } else {
            spdlog::info("connection {} (peer credentials unknown)", PeerRegistry::peer_name(fd));
        }
        peers_->connected(fd, credentials);
        if (on_connect_) on_connect_(fd, credentials);
        grpc::AddInsecureChannelFromFd(server_, fd);  // gRPC owns and closes fd from here
    }
}

}  // namespace corun::service
