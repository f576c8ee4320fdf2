#include "cluster/nats_client.hpp"

namespace corun::cluster {
namespace {

struct OptionsDeleter {
    void operator()(natsOptions* options) const { natsOptions_Destroy(options); }
};

}  // namespace

Status nats_status(natsStatus status, const std::string& what, jsErrCode js_error) {
    std::string message = what + ": " + natsStatus_GetText(status);
    natsStatus last = NATS_OK;
    const char* detail = nats_GetLastError(&last);
    if (detail != nullptr && *detail != '\0' && std::string(detail) != natsStatus_GetText(status)) {
        message += std::string(" (") + detail + ")";
    }
    if (js_error != 0) message += " [JetStream error " + std::to_string(int(js_error)) + "]";
    StatusCode code = StatusCode::RPC_FAILED;
    if (status == NATS_TIMEOUT) code = StatusCode::TIMEOUT;
    if (status == NATS_NOT_FOUND) code = StatusCode::NOT_FOUND;
    if (status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED) {
        code = StatusCode::INVALID_ARGUMENT;
    }
    return Status(code, message);
}

Expected<std::unique_ptr<NatsClient>> NatsClient::connect(const NatsConnectOptions& options) {
    if (options.url.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "no NATS server given; pass --cluster nats://HOST:4222 (what `corun "
                      "cluster` printed)");
    }
    natsOptions* raw = nullptr;
    natsStatus status = natsOptions_Create(&raw);
    if (status != NATS_OK) return nats_status(status, "cannot create NATS options");
    std::unique_ptr<natsOptions, OptionsDeleter> nats_options(raw);
    const std::string where = "the NATS server at " + options.url;
    status = natsOptions_SetURL(raw, options.url.c_str());
    if (status != NATS_OK) {
        return nats_status(
            status, "'" + options.url + "' is not a NATS URL; give nats://HOST:PORT (--cluster)");
    }
    if (!options.name.empty()) natsOptions_SetName(raw, options.name.c_str());
    if (!options.token.empty()) natsOptions_SetToken(raw, options.token.c_str());
    if (!options.creds_file.empty()) {
        status = natsOptions_SetUserCredentialsFromFiles(raw, options.creds_file.c_str(), nullptr);
        if (status != NATS_OK) {
            return nats_status(
                status, "cannot use the credentials file '" + options.creds_file + "' (--creds)");
        }
    }
    natsOptions_SetTimeout(raw, 5000);
    natsOptions_SetAllowReconnect(raw, true);
    natsOptions_SetMaxReconnect(raw, options.reconnect_forever ? -1 : 10);
    natsOptions_SetReconnectWait(raw, 250);
    // A cut link is noticed within a few seconds (two missed pings), not the default minutes.
    natsOptions_SetPingInterval(raw, 1000);
    natsOptions_SetMaxPingsOut(raw, 3);

    std::unique_ptr<NatsClient> client(new NatsClient());
    client->url_ = options.url;
    status = natsConnection_Connect(&client->connection_, raw);
    if (status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED) {
        return nats_status(status,
                           where +
                               " refused this client's credentials; give the token (--token) "
                               "or credentials file (--creds) the cluster was started with");
    }
    if (status != NATS_OK) {
        return nats_status(status, "cannot connect to " + where +
                                       "; is `corun cluster` (nats-server) running there?");
    }
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = 5000;
    status = natsConnection_JetStream(&client->jetstream_, client->connection_, &js_options);
    if (status != NATS_OK) return nats_status(status, "cannot use JetStream on " + where);
    return client;
}

NatsClient::~NatsClient() {
    if (jetstream_ != nullptr) jsCtx_Destroy(jetstream_);
    if (connection_ != nullptr) {
        natsConnection_Close(connection_);
        natsConnection_Destroy(connection_);
    }
}

bool NatsClient::connected() const {
    return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

Expected<bool> NatsClient::publish(const std::string& subject, std::span<const uint8_t> data,
                                   const std::string& message_id, int64_t wait_ms) {
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = wait_ms;
    if (!message_id.empty()) options.MsgId = message_id.c_str();
    jsPubAck* ack = nullptr;
    jsErrCode js_error = jsErrCode(0);
    const natsStatus status = js_Publish(&ack, jetstream_, subject.c_str(), data.data(),
                                         static_cast<int>(data.size()), &options, &js_error);
    if (status != NATS_OK) {
        return nats_status(status, "publishing to '" + subject + "' on " + url_, js_error);
    }
    const bool duplicate = ack != nullptr && ack->Duplicate;
    jsPubAck_Destroy(ack);
    return duplicate;
}

Expected<std::unique_ptr<NatsPullSubscription>> NatsClient::bind_pull(const std::string& stream,
                                                                      const std::string& consumer,
                                                                      const std::string& subject) {
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = stream.c_str();
    options.Consumer = consumer.c_str();
    options.ManualAck = true;
    natsSubscription* subscription = nullptr;
    jsErrCode js_error = jsErrCode(0);
    const natsStatus status = js_PullSubscribe(&subscription, jetstream_, subject.c_str(),
                                               consumer.c_str(), nullptr, &options, &js_error);
    if (status != NATS_OK) {
        return nats_status(status,
                           "cannot bind to the consumer '" + consumer + "' of the stream '" +
                               stream + "' on " + url_ +
                               "; run `corun cluster` (or `corun cluster --cluster URL` for a "
                               "server started elsewhere) to create the streams",
                           js_error);
    }
    return std::unique_ptr<NatsPullSubscription>(new NatsPullSubscription(subscription));
}

NatsPullSubscription::~NatsPullSubscription() {
    // Destroy, not Unsubscribe: the consumer is shared and must outlive this subscriber.
    natsSubscription_Destroy(subscription_);
}

Expected<std::vector<NatsMessage>> NatsPullSubscription::fetch(int count, int64_t timeout_ms) {
    natsMsgList list{};
    jsErrCode js_error = jsErrCode(0);
    const natsStatus status =
        natsSubscription_Fetch(&list, subscription_, count, timeout_ms, &js_error);
    std::vector<NatsMessage> messages;
    if (status == NATS_TIMEOUT || status == NATS_CONNECTION_DISCONNECTED ||
        status == NATS_NOT_FOUND) {
        natsMsgList_Destroy(&list);
        return messages;
    }
    if (status != NATS_OK) {
        natsMsgList_Destroy(&list);
        return nats_status(status, "fetching work", js_error);
    }
    for (int i = 0; i < list.Count; ++i) {
        messages.emplace_back(list.Msgs[i]);
        list.Msgs[i] = nullptr;
    }
    natsMsgList_Destroy(&list);
    return messages;
}

Status ack_message(natsMsg* message, int64_t wait_ms) {
    jsOptions options;
    jsOptions_Init(&options);
    options.Wait = wait_ms;
    jsErrCode js_error = jsErrCode(0);
    const natsStatus status = natsMsg_AckSync(message, &options, &js_error);
    if (status != NATS_OK) return nats_status(status, "acknowledging a message", js_error);
    return Status::ok();
}

}  // namespace corun::cluster
