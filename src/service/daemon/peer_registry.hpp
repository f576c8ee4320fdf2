// Who is at the other end of each accepted connection (SO_PEERCRED), by the peer string gRPC
// gives its calls ("fd:12" for a connection added with AddInsecureChannelFromFd), and how many
// connections are open, per user and in all, for corund's connection limits.
#pragma once

#include <sys/stat.h>

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
        peers_[peer_name(fd)] = {credentials, socket_inode(fd), fd};
    }
    PeerCredentials find(const std::string& peer) const {
        std::lock_guard lock(mutex_);
        auto found = peers_.find(peer);
        return found == peers_.end() ? PeerCredentials{} : found->second.credentials;
    }
    // Open connections in all and of `uid`. gRPC owns and closes the descriptors, so a
    // connection counts as open while its descriptor number still names the same socket
    // (same inode); entries of closed ones are dropped here.
    struct OpenConnections {
        size_t total = 0;
        size_t of_user = 0;
    };
    OpenConnections count_open(uint32_t uid) {
        std::lock_guard lock(mutex_);
        OpenConnections open;
        for (auto entry = peers_.begin(); entry != peers_.end();) {
            if (socket_inode(entry->second.fd) != entry->second.inode) {
                entry = peers_.erase(entry);
                continue;
            }
            ++open.total;
            if (entry->second.credentials.known && entry->second.credentials.uid == uid) {
                ++open.of_user;
            }
            ++entry;
        }
        return open;
    }
    static std::string peer_name(int fd) { return "fd:" + std::to_string(fd); }

private:
    static ino_t socket_inode(int fd) {
        struct stat info {};
        if (fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) return 0;
        return info.st_ino;
    }
    struct Peer {
        PeerCredentials credentials;
        ino_t inode = 0;
        int fd = -1;
    };
    mutable std::mutex mutex_;
    std::map<std::string, Peer> peers_;
};

}  // namespace corun::service
