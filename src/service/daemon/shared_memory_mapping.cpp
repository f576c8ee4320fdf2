#include "service/daemon/shared_memory_mapping.hpp"

#include "service/daemon/shared_memory_fault_guard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corun::service {

Expected<std::shared_ptr<SharedMemoryMapping>> SharedMemoryMapping::open(
    const std::string& name, uint64_t size, std::optional<uint32_t> owner_uid) {
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
    if (owner_uid && info.st_uid != *owner_uid) {
        close(fd);
        return Status(StatusCode::INVALID_ARGUMENT,
                      "shared-memory region '" + name + "' belongs to uid " +
                          std::to_string(info.st_uid) + ", not to this client (uid " +
                          std::to_string(*owner_uid) + "); register only regions you created");
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
    // Guarded from here on: the client may shrink the region even before this returns.
    auto slot = SharedMemoryFaultGuard::guard(data, static_cast<size_t>(size));
    if (!slot) {
        munmap(data, static_cast<size_t>(size));
        return slot.status();
    }
    return std::shared_ptr<SharedMemoryMapping>(
        new SharedMemoryMapping(name, static_cast<uint8_t*>(data), size, *slot));
}

SharedMemoryMapping::~SharedMemoryMapping() {
    SharedMemoryFaultGuard::unguard(guard_slot_);
    munmap(data_, static_cast<size_t>(size_));
}

bool SharedMemoryMapping::faulted() const {
    return SharedMemoryFaultGuard::faulted(guard_slot_);
}

Status SharedMemoryMapping::fault_status() const {
    return Status(StatusCode::INVALID_OPERATION,
                  "shared-memory region '" + name_ + "' (" + std::to_string(size_) +
                      " bytes registered) was shrunk by its client while registered; its frames "
                      "are lost and it can no longer be used: keep a region at its registered "
                      "size until ReleaseBuffer, and register a new one");
}

}  // namespace corun::service
