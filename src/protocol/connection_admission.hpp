// The first line corund writes on every connection, before any gRPC byte: whether it admits
// the connection and, if not, why. A client refused for a connection limit then reads the
// cause instead of a broken HTTP/2 stream. The client reads exactly this line from its own
// socket (after checking who listens on it) and only then hands the socket to gRPC.
#pragma once

#include <chrono>
#include <string>

#include "corun/status.hpp"

namespace corun::service {

inline constexpr const char* ADMITTED_LINE = "corund admits\n";
inline constexpr const char* REFUSED_PREFIX = "corund refuses: ";
inline constexpr size_t MAX_ADMISSION_LINE = 1024;

// REFUSED_PREFIX + reason on one line, within MAX_ADMISSION_LINE.
std::string refusal_line(const std::string& reason);

// Writes `line` without blocking (a fresh connection's buffer holds it); false if it did not fit.
bool write_admission(int fd, const std::string& line);

// Reads the admission line, one byte at a time so that nothing of gRPC's is consumed. OK when
// admitted; RESOURCE_LIMIT with corund's reason when refused; RPC_FAILED when the peer sends
// anything else, closes, or says nothing within `timeout` (not corund, or an older one).
Status read_admission(int fd, std::chrono::milliseconds timeout, const std::string& socket_path);

}  // namespace corun::service
