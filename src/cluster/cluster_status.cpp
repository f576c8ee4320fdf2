#include "cluster/cluster_status.hpp"

#include <chrono>
#include <cstdio>
#include <sstream>

#include "cluster/cluster_layout.hpp"

namespace corun::cluster {

Expected<nlohmann::json> read_cluster_status(NatsClient& client) {
    nlohmann::json status{{"server", client.url()}};
    jsConsumerInfo* consumer = nullptr;
    jsErrCode js_error = jsErrCode(0);
    natsStatus code = js_GetConsumerInfo(&consumer, client.jetstream(), WORK_STREAM, WORK_CONSUMER,
                                         nullptr, &js_error);
    if (code != NATS_OK) {
        return nats_status(code,
                           std::string("the server has no ") + WORK_STREAM + " stream with its " +
                               WORK_CONSUMER + " consumer; run `corun cluster` first",
                           js_error);
    }
    status["queue"] = {{"pending", consumer->NumPending},
                       {"ack_pending", consumer->NumAckPending},
                       {"redelivered", consumer->NumRedelivered},
                       {"waiting_pulls", consumer->NumWaiting},
                       {"ack_wait_ms", consumer->Config->AckWait / 1000000}};
    jsConsumerInfo_Destroy(consumer);
    jsStreamInfo* results = nullptr;
    code = js_GetStreamInfo(&results, client.jetstream(), RESULTS_STREAM, nullptr, &js_error);
    if (code == NATS_OK) {
        status["results"] = {{"stored", results->State.Msgs}};
        jsStreamInfo_Destroy(results);
    }

    nlohmann::json nodes = nlohmann::json::array();
    double rate = 0.0;
    kvStore* bucket = nullptr;
    if (js_KeyValue(&bucket, client.jetstream(), NODES_BUCKET) == NATS_OK) {
        kvKeysList keys{};
        if (kvStore_Keys(&keys, bucket, nullptr) == NATS_OK) {
            const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            for (int i = 0; i < keys.Count; ++i) {
                kvEntry* entry = nullptr;
                if (kvStore_Get(&entry, bucket, keys.Keys[i]) != NATS_OK) continue;
                try {
                    auto node = nlohmann::json::parse(kvEntry_ValueString(entry));
                    node["last_seen_s"] = (now - node.value("last_seen_ms", int64_t{0})) / 1000.0;
                    rate += node.value("rate_per_s", 0.0);
                    nodes.push_back(node);
                } catch (const nlohmann::json::exception&) {
                }
                kvEntry_Destroy(entry);
            }
            kvKeysList_Destroy(&keys);
        }
        kvStore_Destroy(bucket);
    }
    status["nodes"] = nodes;
    status["rate_per_s"] = rate;
    return status;
}

std::string cluster_status_text(const nlohmann::json& status) {
    std::ostringstream out;
    char line[256];
    const auto& queue = status["queue"];
    out << "cluster " << status.value("server", "") << "\n";
    std::snprintf(line, sizeof line,
                  "queue: %llu waiting, %lld with workers, %lld redelivered; %.1f items/s\n",
                  static_cast<unsigned long long>(queue.value("pending", uint64_t{0})),
                  static_cast<long long>(queue.value("ack_pending", int64_t{0})),
                  static_cast<long long>(queue.value("redelivered", int64_t{0})),
                  status.value("rate_per_s", 0.0));
    out << line;
    out << "nodes: " << status["nodes"].size() << "\n";
    for (const auto& node : status["nodes"]) {
        std::snprintf(line, sizeof line,
                      "  %-20s %8llu done %6llu errors %7.1f/s  seen %.0f s ago\n",
                      node.value("name", "?").c_str(),
                      static_cast<unsigned long long>(node.value("done", uint64_t{0})),
                      static_cast<unsigned long long>(node.value("errors", uint64_t{0})),
                      node.value("rate_per_s", 0.0), node.value("last_seen_s", 0.0));
        out << line;
    }
    return out.str();
}

}  // namespace corun::cluster
