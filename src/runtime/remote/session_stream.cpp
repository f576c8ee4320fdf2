#include "runtime/remote/session_stream.hpp"

#include "runtime/remote/rpc_status.hpp"

namespace corun::service {

SessionStream::SessionStream(std::shared_ptr<grpc::Channel> channel, std::string socket)
    : channel_(std::move(channel)),
      stub_(v1::Corun::NewStub(channel_)),
      socket_(std::move(socket)) {}

Expected<std::shared_ptr<SessionStream>> SessionStream::open(std::shared_ptr<grpc::Channel> channel,
                                                             uint64_t session_id,
                                                             std::string socket) {
    std::shared_ptr<SessionStream> session(new SessionStream(std::move(channel), socket));
    session->stream_ = session->stub_->Session(&session->context_);
    v1::ClientMessage hello;
    hello.set_session_id(session_id);
    if (!session->stream_ || !session->stream_->Write(hello)) {
        // Finish() may only follow the end of reads; the broken call ends there at once.
        session->context_.TryCancel();
        v1::ServerMessage ignored;
        while (session->stream_ && session->stream_->Read(&ignored)) {
        }
        const grpc::Status status =
            session->stream_ ? session->stream_->Finish() : grpc::Status::CANCELLED;
        session->broken_ = true;
        return rpc_failure(status, "Session", socket);
    }
    // The reader holds the stream alive until it has finished, whoever drops it last.
    session->reader_ = std::thread([keep = session] { keep->read_completions(); });
    return session;
}

SessionStream::~SessionStream() {
    // Only reached once the reader thread returned (it holds a reference); it may be that
    // thread, whose std::thread was detached by close().
    if (reader_.joinable()) reader_.detach();
}

void SessionStream::read_completions() {
    v1::ServerMessage message;
    while (stream_->Read(&message)) {
        if (!message.has_completion()) continue;
        const auto& completion = message.completion();
        auto handler = pending_.take(completion.job_id());
        if (!handler) continue;  // abandoned by its owner
        (*handler)({from_proto(completion.status()), completion.queue_ns(), completion.device_ns(),
                    completion.predicted_ns()});
    }
    {
        // No write runs or starts once broken_ is set under the writer's lock, so Finish()
        // cannot overlap a Write.
        std::lock_guard lock(write_mutex_);
        broken_ = true;
    }
    const grpc::Status ended = stream_->Finish();
    {
        std::lock_guard lock(reader_done_mutex_);
        reader_done_ = true;
    }
    reader_done_changed_.notify_all();
    fail_pending(Status(StatusCode::RPC_FAILED,
                        daemon_gone_message(socket_) + " [Session: " +
                            (ended.ok() ? std::string("stream ended") : ended.error_message()) +
                            "]"));
}

void SessionStream::fail_pending(const Status& reason) {
    pending_.fail_all(reason);
}

Status SessionStream::submit(uint64_t job_id, uint64_t model_id,
                             const std::vector<FrameSlices>& frames,
                             CompletionHandler on_completion,
                             std::chrono::steady_clock::time_point deadline) {
    v1::ClientMessage message;
    auto* request = message.mutable_infer();
    request->set_job_id(job_id);
    request->set_model_id(model_id);
    request->set_deadline_ns(
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count());
    for (const auto& frame : frames) {
        auto* refs = request->add_frames();
        for (const auto& slice : frame.inputs) {
            auto* ref = refs->add_inputs();
            ref->set_buffer_id(slice.buffer_id);
            ref->set_offset(slice.offset);
            ref->set_size(slice.size);
        }
        for (const auto& slice : frame.outputs) {
            auto* ref = refs->add_outputs();
            ref->set_buffer_id(slice.buffer_id);
            ref->set_offset(slice.offset);
            ref->set_size(slice.size);
        }
    }
    // Registered before the write: the completion may arrive before Write() returns.
    pending_.add(job_id, std::move(on_completion));
    bool written = false;
    {
        std::lock_guard lock(write_mutex_);
        if (!broken_) written = stream_->Write(message);
    }
    if (written) return Status::ok();
    // Not sent. If the handler is gone, the reader already failed it (and ran it): the job is
    // accounted for, as a sent one would be.
    if (!abandon(job_id)) return Status::ok();
    return Status(StatusCode::RPC_FAILED,
                  daemon_gone_message(socket_) + " [Session: write failed]");
}

bool SessionStream::abandon(uint64_t job_id) {
    return pending_.abandon(job_id);
}

void SessionStream::close() {
    if (closed_.exchange(true)) return;
    // A clean end first: corund then logs that the client closed its stream, not that the
    // connection broke. It ends the call once the session is released; past a short wait (or
    // from the reader thread itself) the call is cancelled instead.
    {
        std::lock_guard lock(write_mutex_);
        if (!broken_) stream_->WritesDone();
    }
    if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) {
        std::unique_lock lock(reader_done_mutex_);
        reader_done_changed_.wait_for(lock, CLEAN_CLOSE_WAIT, [&] { return reader_done_; });
    }
    context_.TryCancel();  // the reader's Read() returns false, then it fails what is pending
    if (!reader_.joinable()) return;
    if (reader_.get_id() == std::this_thread::get_id()) {
        reader_.detach();
    } else {
        reader_.join();
    }
}

}  // namespace corun::service
