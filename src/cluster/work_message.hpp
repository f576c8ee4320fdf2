// One cluster work item on the wire: a JSON header line, then (for an item carried inline) the
// input's bytes. The header says the batch, the task, the input's content hash, path, size and
// kind, and whether the bytes follow or are to be read from the path on a shared filesystem:
//   {"v":1,"batch":"3f2a...","task":"detect","content_hash":"<64 hex>","path":"/p/dog.jpg",
//    "size":163759,"kind":"image","model_version":"9c1e...","bytes":"inline"}\n<163759 bytes>
// Parsing trusts nothing: a worker gets messages from whoever may publish to the server.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster/work_item.hpp"
#include "corun/expected.hpp"

namespace corun::cluster {

// A message's header line is at most this long.
inline constexpr uint64_t MAX_WORK_HEADER_BYTES = 8 * 1024;

// A batch id names subjects: 1 to 32 characters of [a-z0-9-].
bool is_batch_id(const std::string& id);

struct WorkMessage {
    std::string batch;
    std::string task;
    std::string content_hash;
    std::string path;
    uint64_t size = 0;
    InputKind kind = InputKind::UNKNOWN;
    std::string model_version;       // what the submitter expects ("" = any); in the result's id
    bool inline_bytes = true;        // false: read `path` (inside the worker's allowed roots)
    std::span<const uint8_t> bytes;  // inline: a view into the message's data
};

std::vector<uint8_t> encode_work_message(const WorkMessage& message);

// What a message that cannot be taken as an item is: `batch` is set when the header named a
// valid one, so the refusal can go to that batch's results.
struct WorkMessageError {
    std::string batch;
    std::string content_hash;
    std::string task;
    std::string path;
    std::string reason;
};

// The message, or why it is not one (bad encoding, missing or mistyped fields, a batch id or
// content hash of the wrong form, bytes that are not the announced size).
Expected<WorkMessage> parse_work_message(std::span<const uint8_t> data, WorkMessageError& error);

// 64 lower-case hex digits.
bool is_content_hash(const std::string& text);

}  // namespace corun::cluster
