// `corun batch ... --cluster URL`: the submitter of a cluster batch (docs/CLUSTER.md). It scans
// the inputs as the local batch does and skips what the database holds; it publishes one work
// item per input and task (the bytes in the message up to a size limit, else by path under a
// shared root), each with the message id <batch>.<content hash>.<task> so that publishing it
// again (a resumed submitter) does not queue it twice; and it stores the workers' results into
// the same database, with the node that computed each, until every item has its result.
//
// The batch id is kept in the database (meta cluster_batch): a submitter stopped at any point
// and started again with the same database finds the results that came meanwhile in its durable
// results consumer, and republishes only what has no result.
#pragma once

#include <cstdint>
#include <istream>
#include <string>

#include "cluster/batch_runner.hpp"
#include "cluster/cluster_layout.hpp"
#include "cluster/nats_client.hpp"

namespace corun::cluster {

struct ClusterBatchOptions {
    NatsConnectOptions nats;
    uint64_t max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES;  // input bytes carried in a message
    std::string shared_root;  // larger inputs under it go by path; "" = they are errors
};

Expected<BatchSummary> run_cluster_batch(const BatchOptions& options,
                                         const ClusterBatchOptions& cluster,
                                         std::istream& standard_input, BatchProgress& progress);

}  // namespace corun::cluster
