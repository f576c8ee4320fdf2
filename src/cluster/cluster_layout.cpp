#include "cluster/cluster_layout.hpp"

namespace corun::cluster {
namespace {

constexpr int64_t NS_PER_MS = 1000000;
constexpr int64_t NS_PER_S = 1000000000;

const std::string HINT =
    "; is JetStream on (nats-server -js, which `corun cluster` starts) and are these "
    "credentials allowed to manage streams?";

// The stream's info, or null when there is none.
Expected<jsStreamInfo*> stream_info(NatsClient& client, const char* name) {
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = jsErrCode(0);
    const natsStatus status = js_GetStreamInfo(&info, client.jetstream(), name, nullptr, &js_error);
    if (status == NATS_NOT_FOUND || js_error == JSStreamNotFoundErr) return nullptr;
    if (status != NATS_OK) {
        return nats_status(status, std::string("cannot read the stream ") + name + HINT, js_error);
    }
    return info;
}

Status ensure_stream(NatsClient& client, const char* name, const char* subjects,
                     jsRetentionPolicy retention, const ClusterSettings& settings,
                     nlohmann::json& report) {
    CORUN_TRY(jsStreamInfo * existing, stream_info(client, name));
    if (existing == nullptr) {
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = name;
        const char* subject_list[] = {subjects};
        config.Subjects = subject_list;
        config.SubjectsLen = 1;
        config.Retention = retention;
        config.Storage = js_FileStorage;
        config.Duplicates = settings.duplicate_window_s * NS_PER_S;
        if (retention == js_LimitsPolicy) config.MaxAge = settings.results_max_age_s * NS_PER_S;
        jsErrCode js_error = jsErrCode(0);
        const natsStatus status =
            js_AddStream(&existing, client.jetstream(), &config, nullptr, &js_error);
        if (status != NATS_OK) {
            return nats_status(status, std::string("cannot create the stream ") + name + HINT,
                               js_error);
        }
    }
    report[name] = {{"subjects", subjects},
                    {"retention", retention == js_WorkQueuePolicy ? "work-queue" : "limits"},
                    {"duplicate_window_s", existing->Config->Duplicates / NS_PER_S},
                    {"messages", existing->State.Msgs}};
    jsStreamInfo_Destroy(existing);
    return Status::ok();
}

}  // namespace

std::string work_subject(const std::string& batch) {
    return "corun.work." + batch;
}

std::string results_subject(const std::string& batch) {
    return "corun.results." + batch;
}

std::string results_consumer(const std::string& batch) {
    return "corun-results-" + batch;
}

std::string item_message_id(const std::string& batch, const std::string& content_hash,
                            const std::string& task, const std::string& model_version) {
    std::string id = batch + "." + content_hash + "." + task;
    if (!model_version.empty()) id += "." + model_version;
    return id;
}

Expected<nlohmann::json> ensure_cluster_layout(NatsClient& client,
                                               const ClusterSettings& settings) {
    nlohmann::json report = nlohmann::json::object();
    CORUN_RETURN_IF_ERROR(
        ensure_stream(client, WORK_STREAM, WORK_SUBJECTS, js_WorkQueuePolicy, settings, report));
    CORUN_RETURN_IF_ERROR(
        ensure_stream(client, RESULTS_STREAM, RESULTS_SUBJECTS, js_LimitsPolicy, settings, report));

    jsConsumerInfo* consumer = nullptr;
    jsErrCode js_error = jsErrCode(0);
    natsStatus status = js_GetConsumerInfo(&consumer, client.jetstream(), WORK_STREAM,
                                           WORK_CONSUMER, nullptr, &js_error);
    if (status == NATS_NOT_FOUND || js_error == JSConsumerNotFoundErr) {
        jsConsumerConfig config;
        jsConsumerConfig_Init(&config);
        config.Durable = WORK_CONSUMER;
        config.AckPolicy = js_AckExplicit;
        config.AckWait = settings.ack_wait_ms * NS_PER_MS;
        config.MaxDeliver = -1;  // an item is never given up: every input gets its result
        config.MaxAckPending = 10000;
        config.MaxWaiting = 512;  // pull requests waiting at once: a few per worker lane
        js_error = jsErrCode(0);
        status =
            js_AddConsumer(&consumer, client.jetstream(), WORK_STREAM, &config, nullptr, &js_error);
    }
    if (status != NATS_OK) {
        return nats_status(
            status, std::string("cannot create the consumer ") + WORK_CONSUMER + HINT, js_error);
    }
    report[WORK_CONSUMER] = {{"stream", WORK_STREAM},
                             {"ack_wait_ms", consumer->Config->AckWait / NS_PER_MS}};
    jsConsumerInfo_Destroy(consumer);

    kvStore* nodes = nullptr;
    status = js_KeyValue(&nodes, client.jetstream(), NODES_BUCKET);
    if (status != NATS_OK) {
        kvConfig config;
        kvConfig_Init(&config);
        config.Bucket = NODES_BUCKET;
        config.History = 1;
        config.TTL = settings.node_ttl_s * NS_PER_S;
        config.StorageType = js_MemoryStorage;
        status = js_CreateKeyValue(&nodes, client.jetstream(), &config);
        if (status != NATS_OK) {
            return nats_status(
                status, std::string("cannot create the key-value bucket ") + NODES_BUCKET + HINT);
        }
    }
    kvStore_Destroy(nodes);
    report[NODES_BUCKET] = {{"kind", "key-value"}, {"ttl_s", settings.node_ttl_s}};
    return report;
}

Expected<int64_t> work_ack_wait_ms(NatsClient& client) {
    jsConsumerInfo* consumer = nullptr;
    jsErrCode js_error = jsErrCode(0);
    const natsStatus status = js_GetConsumerInfo(&consumer, client.jetstream(), WORK_STREAM,
                                                 WORK_CONSUMER, nullptr, &js_error);
    if (status != NATS_OK) {
        return nats_status(status,
                           std::string("the server has no consumer ") + WORK_CONSUMER +
                               " on the stream " + WORK_STREAM +
                               "; run `corun cluster` (or `corun cluster --cluster URL`) first",
                           js_error);
    }
    const int64_t ack_wait = consumer->Config->AckWait / NS_PER_MS;
    jsConsumerInfo_Destroy(consumer);
    return ack_wait;
}

Status ensure_results_consumer(NatsClient& client, const std::string& batch) {
    const std::string name = results_consumer(batch);
    const std::string subject = results_subject(batch);
    jsConsumerInfo* consumer = nullptr;
    jsErrCode js_error = jsErrCode(0);
    natsStatus status = js_GetConsumerInfo(&consumer, client.jetstream(), RESULTS_STREAM,
                                           name.c_str(), nullptr, &js_error);
    if (status == NATS_NOT_FOUND || js_error == JSConsumerNotFoundErr) {
        jsConsumerConfig config;
        jsConsumerConfig_Init(&config);
        config.Durable = name.c_str();
        config.FilterSubject = subject.c_str();
        config.AckPolicy = js_AckExplicit;
        config.AckWait = 10 * NS_PER_S;  // a killed submitter's fetched results come back soon
        config.MaxDeliver = -1;
        config.MaxAckPending = 10000;
        js_error = jsErrCode(0);
        status = js_AddConsumer(&consumer, client.jetstream(), RESULTS_STREAM, &config, nullptr,
                                &js_error);
    }
    if (status != NATS_OK) {
        return nats_status(status, "cannot create the results consumer " + name + HINT, js_error);
    }
    jsConsumerInfo_Destroy(consumer);
    return Status::ok();
}

}  // namespace corun::cluster
