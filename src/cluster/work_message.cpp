#include "cluster/work_message.hpp"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

namespace corun::cluster {

bool is_batch_id(const std::string& id) {
    if (id.empty() || id.size() > 32) return false;
    for (const char c : id) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

bool is_content_hash(const std::string& text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::vector<uint8_t> encode_work_message(const WorkMessage& message) {
    const nlohmann::json header{{"v", 1},
                                {"batch", message.batch},
                                {"task", message.task},
                                {"content_hash", message.content_hash},
                                {"path", message.path},
                                {"size", message.size},
                                {"kind", input_kind_name(message.kind)},
                                {"model_version", message.model_version},
                                {"bytes", message.inline_bytes ? "inline" : "path"}};
    const std::string text = header.dump() + "\n";
    std::vector<uint8_t> data(text.begin(), text.end());
    if (message.inline_bytes) data.insert(data.end(), message.bytes.begin(), message.bytes.end());
    return data;
}

Expected<WorkMessage> parse_work_message(std::span<const uint8_t> data, WorkMessageError& error) {
    auto refuse = [&error](std::string reason) {
        error.reason = std::move(reason);
        return Status(StatusCode::INVALID_ARGUMENT, error.reason);
    };
    const size_t limit = std::min<size_t>(data.size(), MAX_WORK_HEADER_BYTES);
    const auto newline =
        std::find(data.begin(), data.begin() + static_cast<ptrdiff_t>(limit), '\n');
    if (newline == data.begin() + static_cast<ptrdiff_t>(limit)) {
        return refuse("the message has no header line within its first " +
                      std::to_string(MAX_WORK_HEADER_BYTES) + " bytes; not a corun work item");
    }
    const std::string text(data.begin(), newline);
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& parse_error) {
        return refuse(std::string("the message's header is not JSON (") + parse_error.what() +
                      "); not a corun work item");
    }
    if (!header.is_object()) return refuse("the message's header is not a JSON object");
    auto text_field = [&header](const char* key) -> std::string {
        const auto found = header.find(key);
        return found != header.end() && found->is_string() ? found->get<std::string>() : "";
    };
    // What names the item, before anything can be refused with a result of its batch.
    const std::string batch = text_field("batch");
    if (is_batch_id(batch)) error.batch = batch;
    error.task = text_field("task");
    error.content_hash = text_field("content_hash");
    error.path = text_field("path");
    if (!is_content_hash(error.content_hash)) error.batch.clear();  // no key to file it under
    if (error.task.empty() || error.task.size() > 64) error.batch.clear();

    const auto version = header.find("v");
    if (version == header.end() || !version->is_number_integer() || version->get<int>() != 1) {
        return refuse("the message's header has no \"v\": 1; a corun of another version sent it");
    }
    if (!is_batch_id(batch)) return refuse("the message's batch id is missing or malformed");
    if (!is_content_hash(error.content_hash)) {
        return refuse("the message's content_hash is not 64 hex digits");
    }
    if (error.task.empty()) return refuse("the message names no task");
    if (error.task.size() > 64) return refuse("the message's task name is longer than 64 bytes");
    const auto size = header.find("size");
    if (size == header.end() || !size->is_number_unsigned()) {
        return refuse("the message's size is missing or not a non-negative integer");
    }
    const std::string bytes = text_field("bytes");
    if (bytes != "inline" && bytes != "path") {
        return refuse("the message's \"bytes\" is neither \"inline\" nor \"path\"");
    }
    if (error.path.size() > 4096 || error.path.find('\0') != std::string::npos) {
        return refuse("the message's path is longer than 4096 bytes or holds a NUL");
    }
    const std::string model_version = text_field("model_version");
    if (model_version.size() > 64 ||
        !std::all_of(model_version.begin(), model_version.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
        return refuse("the message's model_version is not at most 64 hex digits");
    }
    WorkMessage message;
    message.batch = batch;
    message.model_version = model_version;
    message.task = error.task;
    message.content_hash = error.content_hash;
    message.path = error.path;
    message.size = size->get<uint64_t>();
    message.kind = input_kind_from_name(text_field("kind"));
    message.inline_bytes = bytes == "inline";
    const size_t body = data.size() - text.size() - 1;
    if (message.inline_bytes) {
        if (body != message.size) {
            return refuse("the message carries " + std::to_string(body) +
                          " bytes of input, not the " + std::to_string(message.size) +
                          " its header announces (cut short or padded)");
        }
        message.bytes = data.subspan(text.size() + 1);
    } else if (body != 0) {
        return refuse("a by-path message carries bytes after its header");
    }
    return message;
}

}  // namespace corun::cluster
