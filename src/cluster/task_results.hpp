// The TaskResult of one input and one task, made the same way wherever the task ran: by a lane of
// `corun batch` on this machine or by a cluster worker (docs/CLUSTER.md). Error rows name the
// file and what was wrong, so both give the same rows for the same input.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/batch_task.hpp"
#include "cluster/input_decoding.hpp"
#include "cluster/work_item.hpp"

namespace corun::cluster {

// An error row: `key` is the content hash (or unread_input_key), `kind` one of input_error.
TaskResult error_task_result(const std::string& key, const std::string& path, uint64_t size,
                             const TaskDefinition& task, const char* kind, std::string message);

// The error row of an input whose bytes (of `kind`) are not of the task's kind.
TaskResult not_for_task_result(const std::string& hash, const std::string& path, uint64_t size,
                               InputKind kind, const TaskDefinition& task);

// Runs `instance` (of `task`) on a decoded input: its result with the stage times, or a
// task_failed row naming the model's error. `decode_ms` is the input's decode time.
TaskResult run_task_on_input(BatchTask& instance, const TaskDefinition& task,
                             const DecodedInput& input, const std::string& content_hash,
                             const std::string& path, uint64_t size, double decode_ms);

}  // namespace corun::cluster
