#include "service/daemon/received_model_file.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corun::service {
namespace {

Status write_all(int fd, const std::string& data) {
    size_t written = 0;
    while (written < data.size()) {
        const ssize_t count = write(fd, data.data() + written, data.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) {
            return Status(StatusCode::RESOURCE_LIMIT,
                          std::string("corund cannot keep the model file in memory: ") +
                              std::strerror(errno));
        }
        written += static_cast<size_t>(count);
    }
    return Status::ok();
}

}  // namespace

Expected<ReceivedModelFile> ReceivedModelFile::receive(
    const std::string& call, uint64_t total_bytes, const std::string& first_data,
    const std::function<const std::string*()>& next_data) {
    const int fd = memfd_create("corun-model", MFD_CLOEXEC);
    if (fd < 0) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      std::string("corund cannot make a memory file for the model file: ") +
                          std::strerror(errno));
    }
    ReceivedModelFile file(fd, total_bytes);
    uint64_t received = 0;
    for (const std::string* data = &first_data; data != nullptr; data = next_data()) {
        received += data->size();
        if (received > total_bytes) {
            return Status(StatusCode::INVALID_ARGUMENT, call + " sent more bytes than the " +
                                                            std::to_string(total_bytes) +
                                                            " its first chunk announced");
        }
        CORUN_RETURN_IF_ERROR(write_all(fd, *data));
    }
    if (received != total_bytes) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      call + "'s stream ended after " + std::to_string(received) + " of the " +
                          std::to_string(total_bytes) + " bytes it announced");
    }
    return file;
}

ReceivedModelFile::ReceivedModelFile(int fd, uint64_t bytes)
    : fd_(fd), bytes_(bytes), path_("/proc/self/fd/" + std::to_string(fd)) {}

ReceivedModelFile::ReceivedModelFile(ReceivedModelFile&& other) noexcept
    : fd_(other.fd_), bytes_(other.bytes_), path_(std::move(other.path_)) {
    other.fd_ = -1;
}

ReceivedModelFile& ReceivedModelFile::operator=(ReceivedModelFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) close(fd_);
        fd_ = other.fd_;
        bytes_ = other.bytes_;
        path_ = std::move(other.path_);
        other.fd_ = -1;
    }
    return *this;
}

ReceivedModelFile::~ReceivedModelFile() {
    if (fd_ >= 0) close(fd_);
}

Status naming_the_client_file(const Status& status, const std::string& path,
                              const std::string& client_file) {
    std::string message = status.message();
    const std::string replacement = client_file + " (sent by the client)";
    for (size_t at = message.find(path); at != std::string::npos;
         at = message.find(path, at + replacement.size())) {
        message.replace(at, path.size(), replacement);
    }
    return Status(status.code(), message);
}

}  // namespace corun::service
