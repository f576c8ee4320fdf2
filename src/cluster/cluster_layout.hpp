// What a corun cluster keeps on its NATS JetStream server (docs/CLUSTER.md), and the streams'
// setup:
//   CORUN_WORK     work-queue stream on corun.work.<batch>: one message per input and task,
//                  removed when a worker acknowledges it. One durable pull consumer,
//                  corun-workers, that every worker binds to (a work-queue stream allows one
//                  unfiltered consumer; a consumer the client library made for a subscriber
//                  would be deleted when that subscriber leaves).
//   CORUN_RESULTS  results on corun.results.<batch>, each published with the message id
//                  <batch>.<content hash>.<task>[.<version>]: a redelivered item's second result is
//                  dropped by the server's duplicate window. Each submitter reads its batch's
//                  results through its own durable consumer, corun-results-<batch>. Refused
//                  messages that name no batch go to corun.results._rejected.
//   corun_nodes    a key-value bucket: each worker's heartbeat (name, items done, rate).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/nats_client.hpp"
#include "cluster/work_message.hpp"

namespace corun::cluster {

inline constexpr const char* WORK_STREAM = "CORUN_WORK";
inline constexpr const char* WORK_SUBJECTS = "corun.work.>";
inline constexpr const char* WORK_CONSUMER = "corun-workers";
inline constexpr const char* RESULTS_STREAM = "CORUN_RESULTS";
inline constexpr const char* RESULTS_SUBJECTS = "corun.results.>";
inline constexpr const char* REJECTED_SUBJECT = "corun.results._rejected";
inline constexpr const char* NODES_BUCKET = "corun_nodes";

// The server's default max_payload is 1 MiB; a work message holds a header (at most
// MAX_WORK_HEADER_BYTES, cluster/work_message.hpp) and the input's bytes.
inline constexpr uint64_t DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 - MAX_WORK_HEADER_BYTES;

struct ClusterSettings {
    // How long a worker holds an item before the server gives it to another. Workers renew the
    // lease (InProgress) at a third of it while an item waits or runs.
    int64_t ack_wait_ms = 30000;
    // The duplicate window of both streams: a result (or an item) published again within it is
    // stored once.
    int64_t duplicate_window_s = 24 * 3600;
    // Results are kept this long for submitters that were stopped.
    int64_t results_max_age_s = 7 * 24 * 3600;
    // A worker's heartbeat disappears this long after its last one.
    int64_t node_ttl_s = 60;
};

std::string work_subject(const std::string& batch);
std::string results_subject(const std::string& batch);
std::string results_consumer(const std::string& batch);
// <batch>.<content hash>.<task>[.<model version>]: the message id of an item and of its
// result. The version is the one the submitter expects ("" = any): when the models change, the
// item is a new one, not a duplicate of the old.
std::string item_message_id(const std::string& batch, const std::string& content_hash,
                            const std::string& task, const std::string& model_version);

// Creates what is missing: the streams, the workers' consumer and the nodes bucket. What exists
// is left as it is (its settings win). Returns what there is, as JSON (names and settings).
Expected<nlohmann::json> ensure_cluster_layout(NatsClient& client, const ClusterSettings& settings);

// The workers' consumer's AckWait in milliseconds (NOT_FOUND when the layout is missing).
Expected<int64_t> work_ack_wait_ms(NatsClient& client);

// The durable consumer of one batch's results (created when missing).
Status ensure_results_consumer(NatsClient& client, const std::string& batch);

}  // namespace corun::cluster
