#include "runtime/remote/shared_memory_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace corun::service {
namespace {

std::string next_region_name() {
    static std::atomic<uint64_t> counter{0};
    return "/corun." + std::to_string(getpid()) + "." + std::to_string(counter.fetch_add(1));
}

Status system_error(const std::string& what, const std::string& name, int error) {
    const StatusCode code = error == ENOMEM || error == ENOSPC || error == EMFILE || error == ENFILE
                                ? StatusCode::OUT_OF_HOST_MEMORY
                                : StatusCode::FILE_OPERATION_FAILURE;
    return Status(code, what + " of shared memory '" + name + "' failed: " + std::strerror(error) +
                            " (check free space and limits of /dev/shm: `df -h /dev/shm`)");
}

}  // namespace

Expected<SharedMemoryRegion> SharedMemoryRegion::create(size_t size) {
    if (size == 0) {
        return Status(StatusCode::INVALID_ARGUMENT, "a shared memory region needs at least 1 byte");
    }
    const std::string name = next_region_name();
    const int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0660);
    if (fd < 0) return system_error("creation", name, errno);
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        const int error = errno;
        close(fd);
        shm_unlink(name.c_str());
        return system_error("sizing to " + std::to_string(size) + " bytes", name, error);
    }
    void* mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int error = errno;
    close(fd);  // the mapping keeps the region alive
    if (mapped == MAP_FAILED) {
        shm_unlink(name.c_str());
        return system_error("mapping", name, error);
    }
    return SharedMemoryRegion(name, static_cast<uint8_t*>(mapped), size);
}

SharedMemoryRegion::SharedMemoryRegion(SharedMemoryRegion&& other) noexcept
    : name_(std::move(other.name_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      linked_(std::exchange(other.linked_, false)) {}

SharedMemoryRegion& SharedMemoryRegion::operator=(SharedMemoryRegion&& other) noexcept {
    if (this != &other) {
        release();
        name_ = std::move(other.name_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        linked_ = std::exchange(other.linked_, false);
    }
    return *this;
}

SharedMemoryRegion::~SharedMemoryRegion() {
    release();
}

void SharedMemoryRegion::unlink() {
    if (!linked_) return;
    shm_unlink(name_.c_str());
    linked_ = false;
}

void SharedMemoryRegion::release() {
    unlink();
    if (data_ != nullptr) munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

}  // namespace corun::service
