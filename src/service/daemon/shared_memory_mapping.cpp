#include "service/daemon/shared_memory_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corun::service {

Expected<std::shared_ptr<SharedMemoryMapping>> SharedMemoryMapping::open(const std::string& name,
                                                                         uint64_t size) {
    if (size == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "shared-memory region '" + name + "' registered with size 0; give its size");
    }
    const int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        const int error = errno;
        return Status(error == ENOENT ? StatusCode::NOT_FOUND : StatusCode::OPEN_FILE_FAILURE,
                      "cannot open shared-memory region '" + name + "': " + std::strerror(error) +
                          "; create it with shm_open(O_CREAT|O_EXCL|O_RDWR, 0660) and unlink it "
                          "only after RegisterBuffer returned");
    }
    struct stat info {};
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return Status(StatusCode::INVALID_ARGUMENT,
                      "shared-memory region '" + name + "' cannot be inspected (fstat failed)");
    }
    if (static_cast<uint64_t>(info.st_size) < size) {
        close(fd);
        return Status(StatusCode::INVALID_ARGUMENT,
                      "shared-memory region '" + name + "' holds " + std::to_string(info.st_size) +
                          " bytes, fewer than the " + std::to_string(size) +
                          " registered; ftruncate it to the size first");
    }
    void* data =
        mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int error = errno;
    close(fd);
    if (data == MAP_FAILED) {
        return Status(StatusCode::OUT_OF_HOST_MEMORY, "cannot map shared-memory region '" + name +
                                                          "' (" + std::to_string(size) +
                                                          " bytes): " + std::strerror(error));
    }
    return std::shared_ptr<SharedMemoryMapping>(
        new SharedMemoryMapping(name, static_cast<uint8_t*>(data), size));
}

SharedMemoryMapping::~SharedMemoryMapping() {
    munmap(data_, static_cast<size_t>(size_));
}

}  // namespace corun::service
