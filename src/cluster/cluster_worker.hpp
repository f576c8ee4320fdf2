// `corun worker`: one node of a cluster batch (docs/CLUSTER.md). Its lanes bind to the shared
// consumer of the work stream and fetch a few items at a time (a faster node comes back sooner
// and so takes more: work stealing), run each on this machine's corun with the same task code
// as `corun batch`, publish the result with its message id, and acknowledge the item only after
// the server has stored the result. Items waiting or running keep their lease (InProgress at a
// third of the AckWait). A heartbeat in the nodes bucket says who it is and how far it got.
//
// It trusts no message: only the tasks it knows run; a by-path item is read only when its real
// path (symlinks resolved, no `..`) lies inside an allowed root; a malformed message, a wrong
// size or hash, an unknown task is acknowledged with an error result naming the cause. Nothing
// in a message is ever executed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/nats_client.hpp"
#include "corun/corun.hpp"

namespace corun::cluster {

struct WorkerOptions {
    NatsConnectOptions nats;
    std::string name;                        // the node's name (default: the host name)
    std::vector<std::string> allowed_roots;  // by-path items only inside these
    std::string models;                      // the cache scripts/fetch_models.sh fills
    VDeviceParams vdevice;
    int lanes = 1;     // items run at once, each with its own instance of the task's models
    int prefetch = 1;  // items a lane fetches at once
    uint64_t max_input_bytes = 256ull * 1024 * 1024;  // a by-path file larger is refused
    // An item the server has given out more often than this (its earlier holders died or lost
    // their link, or lacked its models) is recorded as input_error::ABANDONED instead of being
    // run again; 0 = never give up.
    uint32_t max_deliveries = 10;
    // Exit once no item came for this long (0 = never; tests and one-off runs).
    int64_t exit_when_idle_ms = 0;
};

struct WorkerSummary {
    uint64_t done = 0;      // items acknowledged with a result
    uint64_t errors = 0;    // of which error rows (bad inputs, refused messages)
    uint64_t refused = 0;   // of which refused messages
    uint64_t requeued = 0;  // items handed back (stopping, or a result that could not be stored)
    nlohmann::json to_json() const;
};

// Runs until `stop` is set (SIGTERM: no new fetches; items already fetched are finished if they
// were running, else handed back with a Nak), or until idle for exit_when_idle_ms.
Expected<WorkerSummary> run_worker(const WorkerOptions& options, const std::atomic<bool>& stop);

// The real path of `path` when it lies inside one of `roots` (each resolved too); INVALID_ARGUMENT
// naming the path and the roots otherwise (relative, holding `..`, missing, or outside).
Expected<std::string> resolve_allowed_path(const std::string& path,
                                           const std::vector<std::string>& roots);

}  // namespace corun::cluster
