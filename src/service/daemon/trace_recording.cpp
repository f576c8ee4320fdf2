// corund's Trace call (`corun trace --socket PATH`): records every device group the daemon
// drives for the seconds asked, then streams the Chrome trace (docs/TRACING.md).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>

#include "runtime/monitor/group_recording.hpp"
#include "service/daemon/corun_service.hpp"
#include "service/daemon/status_message.hpp"

namespace corun::service {
namespace {

using runtime::monitor::MAX_TRACE_SECONDS;
// The trace's JSON travels in chunks of this size (well under gRPC's message limit).
constexpr size_t TRACE_CHUNK_BYTES = size_t{1} << 20;

// Ends the stream with `status` (and no more JSON).
grpc::Status finish(grpc::ServerWriter<v1::TraceChunk>* writer, const Status& status) {
    v1::TraceChunk last;
    *last.mutable_status() = to_proto(status);
    writer->Write(last);
    return grpc::Status::OK;
}

}  // namespace

grpc::Status CorunService::Trace(grpc::ServerContext* context, const v1::TraceRequest* request,
                                 grpc::ServerWriter<v1::TraceChunk>* writer) {
    if (request->seconds() == 0 || request->seconds() > MAX_TRACE_SECONDS) {
        return finish(writer,
                      Status(StatusCode::INVALID_ARGUMENT,
                             "a trace lasts 1.." + std::to_string(MAX_TRACE_SECONDS) +
                                 " seconds, asked for " + std::to_string(request->seconds())));
    }
    scheduler::RecordingOptions options;
    if (request->max_events() != 0) options.max_events = request->max_events();
    bool idle = false;
    if (!tracing_.compare_exchange_strong(idle, true)) {
        return finish(writer, Status(StatusCode::INVALID_OPERATION,
                                     "corund is recording a trace for another client; try again "
                                     "when it ends (one trace at a time)"));
    }
    struct Release {
        std::atomic<bool>& flag;
        ~Release() { flag = false; }
    } release{tracing_};
    // Inside corund every device group is in-process: all of them are recorded.
    auto json = runtime::monitor::record_live_groups(
        std::chrono::seconds(request->seconds()), options, [&] { return context->IsCancelled(); });
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    if (!json) return finish(writer, json.status());
    for (size_t offset = 0; offset < json->size(); offset += TRACE_CHUNK_BYTES) {
        v1::TraceChunk chunk;
        chunk.set_json(json->substr(offset, TRACE_CHUNK_BYTES));
        if (!writer->Write(chunk)) return grpc::Status::CANCELLED;  // the client went away
    }
    return finish(writer, Status::ok());
}

}  // namespace corun::service
