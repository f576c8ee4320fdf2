// How outcomes cross the wire: the daemon's Status message back into a corun::Status, and a
// failed gRPC call into RPC_FAILED with a message naming the socket and what to do.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <string>

#include "corun/status.hpp"
#include "corun_service.pb.h"
#include "protocol/proto_conversion.hpp"

namespace corun::service {

// RPC_FAILED for a gRPC failure of `call` (e.g. "LoadModel") on the service at `socket`:
// "unreachable" when the daemon is not there (start it), "went away" when it was and broke off,
// "did not answer in time" on a deadline.
Status rpc_failure(const grpc::Status& status, const std::string& call, const std::string& socket);

// Message of the error every pending and later call gets once the daemon is gone.
std::string daemon_gone_message(const std::string& socket);

// How often a caller waiting on shared memory (the fast lane, the lane ring) looks whether the
// daemon is still there.
inline constexpr std::chrono::milliseconds DAEMON_CHECK{20};

}  // namespace corun::service
