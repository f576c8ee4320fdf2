// A connection to a NATS server with JetStream, as the cluster's submitter, workers and status
// use it: the token or credentials file on every connection, errors as Status naming the server
// and what to do, JetStream publishes that wait for the server's acknowledgement (with a message
// id for its duplicate window), and pull subscriptions bound to a consumer created beforehand
// (never one the client library would create, and delete again on unsubscribe).
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun::cluster {

struct NatsConnectOptions {
    std::string url;         // "nats://10.0.0.1:4222" (several: comma-separated)
    std::string token;       // --token; "" = none
    std::string creds_file;  // --creds: a NATS user credentials file; "" = none
    std::string name;        // the connection's name in the server's monitoring
    // Keep reconnecting for ever after a lost connection (workers ride out a cut link); else a
    // few tries. The first connection is tried once either way: a wrong URL or token is an error.
    bool reconnect_forever = false;
};

// An error of the NATS client as a Status: its text, the last error's detail, the JetStream error
// code when there is one, and `what` was being done.
Status nats_status(natsStatus status, const std::string& what, jsErrCode js_error = jsErrCode(0));

// A message received from a pull subscription; acknowledged (or not) by its owner.
struct NatsMessageDeleter {
    void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
};
using NatsMessage = std::unique_ptr<natsMsg, NatsMessageDeleter>;

class NatsPullSubscription;

class NatsClient {
public:
    static Expected<std::unique_ptr<NatsClient>> connect(const NatsConnectOptions& options);
    ~NatsClient();
    NatsClient(const NatsClient&) = delete;
    NatsClient& operator=(const NatsClient&) = delete;

    natsConnection* connection() const { return connection_; }
    jsCtx* jetstream() const { return jetstream_; }
    const std::string& url() const { return url_; }
    bool connected() const;

    // Publishes to a JetStream stream and waits up to `wait_ms` for the server to store it.
    // `message_id` (may be "") is deduplicated within the stream's duplicate window: returns
    // true when the server already had it (stored once, not again).
    Expected<bool> publish(const std::string& subject, std::span<const uint8_t> data,
                           const std::string& message_id, int64_t wait_ms = 5000);

    // A pull subscription bound to the existing durable `consumer` of `stream`, whose messages
    // are on `subject` (the consumer's filter, or the stream's subjects).
    Expected<std::unique_ptr<NatsPullSubscription>> bind_pull(const std::string& stream,
                                                              const std::string& consumer,
                                                              const std::string& subject);

private:
    NatsClient() = default;
    natsConnection* connection_ = nullptr;
    jsCtx* jetstream_ = nullptr;
    std::string url_;
};

class NatsPullSubscription {
public:
    ~NatsPullSubscription();
    NatsPullSubscription(const NatsPullSubscription&) = delete;
    NatsPullSubscription& operator=(const NatsPullSubscription&) = delete;

    // Up to `count` messages, waiting at most `timeout_ms` for the first; none on a timeout or
    // while the connection is down (the caller tries again).
    Expected<std::vector<NatsMessage>> fetch(int count, int64_t timeout_ms);

private:
    friend class NatsClient;
    explicit NatsPullSubscription(natsSubscription* subscription) : subscription_(subscription) {}
    natsSubscription* subscription_;
};

// Acknowledges a message and waits for the server to confirm it (a lost ack means the item
// comes again: harmless, its result is deduplicated; a confirmed one never comes again).
Status ack_message(natsMsg* message, int64_t wait_ms = 5000);

}  // namespace corun::cluster
