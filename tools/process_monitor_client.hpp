// The client side of an application's own monitor socket (runtime/monitor/in_process_monitor.hpp):
// one request line, then the whole answer, then the monitor closes. `corun monitor --pid` asks
// for a snapshot, `corun trace --pid` for a trace.
#pragma once

#include <chrono>
#include <string>

#include "corun/expected.hpp"

namespace corun::tools {

// RPC_FAILED naming the socket, `cause` and how to run an application with its monitor.
Status no_monitored_process(const std::string& socket, const std::string& cause);

// Sends `request` (one line, "\n" included) and reads the answer until the monitor closes the
// connection. RPC_FAILED (no_monitored_process) when nothing listens, the request cannot be
// sent, or no complete answer comes within `timeout` (a stuck process must not hang the CLI).
Expected<std::string> ask_process_monitor(const std::string& socket, const std::string& request,
                                          std::chrono::seconds timeout);

}  // namespace corun::tools
