// Where corund listens: one rule, shared by the runtime, the CLI and the tests.
#pragma once

#include <chrono>
#include <string>

#include "corun/expected.hpp"

#include "common/environment.hpp"
#include "corun/vdevice.hpp"

namespace corun::service {

// The socket path a VDevice with multi_process_service connects to (one rule: params, else
// $CORUN_SERVICE_SOCKET, else DEFAULT_SERVICE_SOCKET).
using environment::resolve_service_socket;

// What stands at `path` as the client sees it, probed with a plain connect(): "" when something
// accepts connections there, else the cause ("no such socket", "connection refused",
// "permission denied", ...) for the message that tells the user how to start corund.
std::string probe_service_socket(const std::string& path);

// A connected socket to corund at `path`, checked before anything is sent: the listening
// process must run as root, as `service_user` (name or uid), or as this process's user
// (VDeviceParams::service_user; empty: `corun` if that user exists), and must admit the
// connection (connection_admission.hpp). The caller owns the descriptor (non-blocking, for gRPC).
// RPC_FAILED names the cause and the fix; RESOURCE_LIMIT when corund refuses for a limit.
Expected<int> connect_to_corund(const std::string& path, const std::string& service_user);

// "corund is not running at PATH (CAUSE); start it with `corund --socket PATH` or `corun
// serve`, or set CORUN_SERVICE_SOCKET".
std::string service_unreachable_message(const std::string& path, const std::string& cause);

}  // namespace corun::service
