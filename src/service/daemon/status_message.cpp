#include "service/daemon/status_message.hpp"

namespace corun::service {

v1::Status to_proto(const Status& status) {
    v1::Status proto;
    proto.set_code(static_cast<int32_t>(status.code()));
    proto.set_message(status.message());
    return proto;
}

v1::ServerMessage error_completion(uint64_t job_id, const Status& status) {
    v1::ServerMessage message;
    message.mutable_completion()->set_job_id(job_id);
    *message.mutable_completion()->mutable_status() = to_proto(status);
    return message;
}

}  // namespace corun::service
