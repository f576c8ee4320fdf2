// How corund puts a corun Status on the wire: in a reply's status field, or as the Completion of
// a job that was refused before it ran (the stream, the fast lane and submission all answer so).
#pragma once

#include <cstdint>

#include "corun/status.hpp"
#include "corun_service.pb.h"

namespace corun::service {

// The proto Status of a corun Status (code as corun::StatusCode's number).
v1::Status to_proto(const Status& status);

// The Completion of job `job_id` that carries only `status` (no timing: nothing ran).
v1::ServerMessage error_completion(uint64_t job_id, const Status& status);

}  // namespace corun::service
