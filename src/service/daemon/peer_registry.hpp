// Who is at the other end of each accepted connection (SO_PEERCRED), by the peer string gRPC
// gives its calls ("fd:12" for a connection added with AddInsecureChannelFromFd).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace corun::service {

struct PeerCredentials {
    bool known = false;
    int32_t pid = 0;
    uint32_t uid = 0;
    uint32_t gid = 0;
};

class PeerRegistry {
public:
    // A new connection on descriptor `fd`. Descriptor numbers are reused only after close,
    // so the entry of an earlier connection on the same number is replaced: the map stays as
    // small as the set of open descriptors.
    void connected(int fd, const PeerCredentials& credentials) {
        std::lock_guard lock(mutex_);
        peers_[peer_name(fd)] = credentials;
    }
    PeerCredentials find(const std::string& peer) const {
        std::lock_guard lock(mutex_);
        auto found = peers_.find(peer);
        return found == peers_.end() ? PeerCredentials{} : found->second;
    }
    static std::string peer_name(int fd) { return "fd:" + std::to_string(fd); }

private:
    mutable std::mutex mutex_;
    std::map<std::string, PeerCredentials> peers_;
};

}  // namespace corun::service
