// corund's only way in: a Unix socket (mode 0660, group-owned) whose connections are handed
// to the gRPC server one by one, after reading who connected (SO_PEERCRED). The gRPC server
// itself listens on no port.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/server.h>

#include "corun/expected.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/peer_registry.hpp"

namespace corun::service {

class UnixListener {
public:
    // Creates the socket's directory (0750) if missing and refuses one that another user could
    // change (every directory from / down must be owned by root or corund's user and writable
    // by no one else; sticky ones above excepted); refuses a socket some live process answers
    // on, replaces a stale one, binds with mode 0660 and sets the group. path() is the real
    // path bound.
    static Expected<std::unique_ptr<UnixListener>> bind(const std::string& path,
                                                        const std::string& group);
    ~UnixListener();  // stops accepting and removes the socket file
    UnixListener(const UnixListener&) = delete;
    UnixListener& operator=(const UnixListener&) = delete;

    // Accepts on a thread of its own; each connection goes to `server` after `on_connect`
    // (credentials recorded, earlier sessions of a reused descriptor reaped) ran.
    // Every connection first gets corund's admission line (connection_admission.hpp).
    void start(grpc::Server* server, PeerRegistry* peers, ConnectionLimits limits,
               std::function<void(int fd, const PeerCredentials&)> on_connect);
    void stop();
    const std::string& path() const { return path_; }

private:
    UnixListener(std::string path, int listen_fd, int wake_fd);
    void accept_loop();
    // Why a connection from `credentials` is refused, or "" to admit it.
    std::string over_connection_limit(const PeerCredentials& credentials) const;

    std::string path_;
    int listen_fd_;
    int wake_fd_;  // eventfd that stop() signals
    grpc::Server* server_ = nullptr;
    PeerRegistry* peers_ = nullptr;
    ConnectionLimits limits_;
    uint64_t refusals_unlogged_ = 0;  // accept thread only
    std::chrono::steady_clock::time_point last_refusal_logged_{};
    std::function<void(int, const PeerCredentials&)> on_connect_;
    std::thread thread_;
};

}  // namespace corun::service
