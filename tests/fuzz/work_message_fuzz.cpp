// libFuzzer target for a cluster worker's work-message parsing (src/cluster/work_message.hpp):
// the bytes of a message from the NATS server, which anyone allowed to publish can send.
// Whatever the bytes: no crash, no undefined behaviour, a refusal always has a reason, and a
// parsed item keeps its promises (a batch id and a content hash of their forms, inline bytes
// exactly the announced size and inside the message) and encodes back to a message that parses
// the same.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cluster/work_message.hpp"
#include "fuzz_fail.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly the message's bytes, so that ASan sees any read past its end.
    const std::vector<uint8_t> bytes(data, data + size);
    corun::cluster::WorkMessageError error;
    auto parsed = corun::cluster::parse_work_message(bytes, error);
    if (!parsed) {
        if (parsed.status().message().empty()) fail("a refusal without a reason");
        return 0;
    }
    const corun::cluster::WorkMessage& message = parsed.value();
    if (!corun::cluster::is_batch_id(message.batch)) fail("a malformed batch id");
    if (!corun::cluster::is_content_hash(message.content_hash)) fail("a malformed content hash");
    if (message.inline_bytes) {
        if (message.bytes.size() != message.size) fail("inline bytes not the announced size");
        if (!message.bytes.empty() &&
            (message.bytes.data() < bytes.data() ||
             message.bytes.data() + message.bytes.size() > bytes.data() + bytes.size())) {
            fail("inline bytes outside the message");
        }
    }
    const std::vector<uint8_t> encoded = corun::cluster::encode_work_message(message);
    corun::cluster::WorkMessageError again_error;
    auto again = corun::cluster::parse_work_message(encoded, again_error);
    if (!again) fail("an item that does not parse back after encoding");
    const corun::cluster::WorkMessage& back = again.value();
    if (back.batch != message.batch || back.task != message.task ||
        back.content_hash != message.content_hash || back.path != message.path ||
        back.size != message.size || back.kind != message.kind ||
        back.model_version != message.model_version || back.inline_bytes != message.inline_bytes ||
        !std::equal(back.bytes.begin(), back.bytes.end(), message.bytes.begin(),
                    message.bytes.end())) {
        fail("an item that parses back different");
    }
    return 0;
}
