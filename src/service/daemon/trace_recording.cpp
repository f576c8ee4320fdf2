// corund's Trace call (`corun trace --socket PATH`): records every device group the daemon
// drives for the seconds asked, then streams the Chrome trace (docs/TRACING.md).
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <thread>

#include "protocol/trace_limits.hpp"
#include "runtime/device_group.hpp"
#include "runtime/monitor/group_recording.hpp"
#include "service/daemon/corun_service.hpp"
#include "service/daemon/status_message.hpp"

namespace corun::service {
namespace {

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
    if (options.max_events > scheduler::MAX_RECORDING_EVENTS) {
        return finish(writer, Status(StatusCode::INVALID_ARGUMENT,
                                     "a trace holds at most " +
                                         std::to_string(scheduler::MAX_RECORDING_EVENTS) +
                                         " events per device group, asked for " +
                                         std::to_string(request->max_events())));
    }
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

    // One handle per group (inside corund one group_id is one group); holding the group keeps
    // its scheduler alive until the recording is taken, even if its clients leave meanwhile.
    std::map<std::string, std::shared_ptr<DeviceGroup>> groups;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, session] : sessions_) {
            const std::string& group_id = session->vdevice().group_id();
            if (!groups.count(group_id))
                groups[group_id] = runtime::monitor::group_of(session->vdevice());
        }
    }
    std::vector<std::shared_ptr<DeviceGroup>> recorded;
    for (const auto& [group_id, group] : groups) {
        const Status started = runtime::monitor::start_recording(*group, options);
        if (started) {
            recorded.push_back(group);
        } else {
            spdlog::warn("trace: group {} is not recorded: {}", group_id, started.to_string());
        }
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(request->seconds());
    while (std::chrono::steady_clock::now() < until && !context->IsCancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::vector<runtime::monitor::TracedGroup> traced;
    for (const auto& group : recorded) traced.push_back(runtime::monitor::stop_recording(*group));
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    const std::string json = runtime::monitor::chrome_trace_json(traced);
    for (size_t offset = 0; offset < json.size(); offset += TRACE_CHUNK_BYTES) {
        v1::TraceChunk chunk;
        chunk.set_json(json.substr(offset, TRACE_CHUNK_BYTES));
        if (!writer->Write(chunk)) return grpc::Status::CANCELLED;  // the client went away
    }
    return finish(writer, Status::ok());
}

}  // namespace corun::service
