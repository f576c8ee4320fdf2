// A model file streamed to corund as the chunks of a client-streaming Load* call (LoadLlm,
// LoadSpeech2Text): corund opens no path a client names, so the client reads the file and sends
// its bytes, 4 MiB a chunk. corund refuses a file over its limit from the first chunk (which
// carries total_bytes), before the rest is sent (docs/SERVICE.md, "How the model gets there").
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "corun/status.hpp"
#include "corun_service.grpc.pb.h"
#include "runtime/remote/service_connection.hpp"

namespace corun::remote {

// Sending a file of gigabytes and loading it.
inline constexpr std::chrono::seconds MODEL_UPLOAD_DEADLINE{600};
inline constexpr size_t MODEL_UPLOAD_CHUNK_BYTES = size_t{4} << 20;

// Sends `model_path` through `start` (e.g. &Stub::LoadLlm); `first` carries the call's own
// fields (session, name, params), total_bytes and data are set here; `reply` is corund's answer.
// NOT_FOUND / OPEN_FILE_FAILURE naming the file (`what_to_pass` says what the caller expects, "a
// GGUF file"); otherwise corund's Status for the call.
template <typename Chunk, typename Reply>
Status upload_model_file(service::ServiceConnection& connection, const char* call,
                         const std::string& model_path, const char* what_to_pass, Chunk first,
                         std::unique_ptr<grpc::ClientWriter<Chunk>> (
                             service::v1::Corun::Stub::*start)(grpc::ClientContext*, Reply*),
                         Reply& reply) {
    if (connection.is_broken()) return connection.gone();
    const int fd = open(model_path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat file {};
    if (fd < 0 || fstat(fd, &file) != 0 || !S_ISREG(file.st_mode)) {
        const int error = errno;
        if (fd >= 0) ::close(fd);
        if (fd < 0 && error != ENOENT) {
            return Status(StatusCode::OPEN_FILE_FAILURE,
                          "cannot read model file '" + model_path + "': " + std::strerror(error));
        }
        return Status(
            StatusCode::NOT_FOUND,
            "model file '" + model_path + "' does not exist; pass the path of " + what_to_pass);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + MODEL_UPLOAD_DEADLINE);
    auto writer = (connection.stub().*start)(&context, &reply);
    Chunk chunk = std::move(first);
    chunk.set_total_bytes(static_cast<uint64_t>(file.st_size));
    std::string buffer(MODEL_UPLOAD_CHUNK_BYTES, '\0');
    Status read_failure;
    uint64_t sent = 0;
    bool first_chunk = true;
    while (first_chunk || sent < static_cast<uint64_t>(file.st_size)) {
        const ssize_t count = read(fd, buffer.data(), buffer.size());
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 || (count == 0 && sent < static_cast<uint64_t>(file.st_size))) {
            read_failure = Status(
                StatusCode::OPEN_FILE_FAILURE,
                "reading model file '" + model_path + "' failed after " + std::to_string(sent) +
                    " bytes: " + (count < 0 ? std::strerror(errno) : "it was cut short"));
            context.TryCancel();
            break;
        }
        chunk.set_data(buffer.data(), static_cast<size_t>(count));
        sent += static_cast<uint64_t>(count);
        first_chunk = false;
        // false: corund stopped reading (it refused the file, and says why in Finish).
        if (!writer->Write(chunk)) break;
        chunk = Chunk();  // later chunks carry data only
    }
    ::close(fd);
    writer->WritesDone();
    const grpc::Status finished = writer->Finish();
    CORUN_RETURN_IF_ERROR(read_failure);
    return connection.call_outcome(call, finished, reply.status());
}

}  // namespace corun::remote
