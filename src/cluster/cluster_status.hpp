// `corun cluster status`: what the server's streams, consumer and nodes bucket say about a
// cluster: the nodes (from their heartbeats: name, items done, rate, last seen), the queue (items
// waiting, items out with a worker, redeliveries) and the overall rate.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cluster/nats_client.hpp"

namespace corun::cluster {

Expected<nlohmann::json> read_cluster_status(NatsClient& client);
std::string cluster_status_text(const nlohmann::json& status);

}  // namespace corun::cluster
