#include "serving/system_shared_memory.hpp"
#include "serving/invalid_request.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace corun::serving {
namespace {

std::string range_text(uint64_t offset, uint64_t size) {
    return "[" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
           std::to_string(size) + ")";
}

}  // namespace

MappedSharedMemory::MappedSharedMemory(SharedMemoryRegionStatus status, void* mapping,
                                       size_t mapping_size)
    : status_(std::move(status)),
      mapping_(mapping),
      mapping_size_(mapping_size),
      base_(static_cast<uint8_t*>(mapping) + (status_.offset % sysconf(_SC_PAGESIZE))) {}

MappedSharedMemory::~MappedSharedMemory() {
    munmap(mapping_, mapping_size_);
}

Expected<std::span<uint8_t>> MappedSharedMemory::bytes(uint64_t offset, uint64_t byte_size) const {
    if (offset > status_.byte_size || byte_size > status_.byte_size - offset) {
        return invalid_request(
            "shared-memory region '" + status_.name + "': bytes " + range_text(offset, byte_size) +
            " lie outside the region, which has " + std::to_string(status_.byte_size) +
            " bytes (shared_memory_offset + shared_memory_byte_size must fit)");
    }
    return std::span<uint8_t>(base_ + offset, static_cast<size_t>(byte_size));
}

Status SharedMemoryRegions::register_region(const SharedMemoryRegionStatus& region) {
    const std::string label = "shared-memory region '" + region.name + "'";
    if (region.name.empty()) return invalid_request("a shared-memory region needs a name");
    if (region.byte_size == 0) return invalid_request(label + ": byte_size is 0");
    if (region.key.empty()) return invalid_request(label + ": no key (the shm_open name) given");
    if (region.offset > std::numeric_limits<uint64_t>::max() - region.byte_size) {
        return invalid_request(label + ": offset + byte_size overflows");
    }
    {
        std::lock_guard lock(mutex_);
        if (regions_.contains(region.name)) {
            return invalid_request(label + " is already registered; unregister it first");
        }
    }
    const int fd = shm_open(region.key.c_str(), O_RDWR, 0);
    if (fd < 0) {
        const int error = errno;
        return Status(error == ENOENT ? StatusCode::NOT_FOUND : StatusCode::INVALID_ARGUMENT,
                      label + ": cannot open shared-memory object '" + region.key +
                          "': " + std::strerror(error));
    }
    struct stat info {};
    if (fstat(fd, &info) != 0 || static_cast<uint64_t>(info.st_size) < region.offset ||
        static_cast<uint64_t>(info.st_size) - region.offset < region.byte_size) {
        const uint64_t object_size = static_cast<uint64_t>(info.st_size);
        close(fd);
        return invalid_request(label + ": bytes " + range_text(region.offset, region.byte_size) +
                               " run past the end of '" + region.key + "' (" +
                               std::to_string(object_size) + " bytes)");
    }
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t map_offset = region.offset - region.offset % page;
    const size_t map_size = static_cast<size_t>(region.offset % page + region.byte_size);
    void* mapping = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                         static_cast<off_t>(map_offset));
    const int error = errno;
    close(fd);
    if (mapping == MAP_FAILED) {
        return invalid_request(label + ": cannot map '" + region.key +
                               "': " + std::strerror(error));
    }
    auto mapped = std::make_shared<const MappedSharedMemory>(region, mapping, map_size);
    std::lock_guard lock(mutex_);
    if (!regions_.emplace(region.name, std::move(mapped)).second) {
        return invalid_request(label + " is already registered; unregister it first");
    }
    return Status::ok();
}

Status SharedMemoryRegions::unregister_region(const std::string& name) {
    std::lock_guard lock(mutex_);
    if (name.empty()) {
        regions_.clear();
        return Status::ok();
    }
    if (regions_.erase(name) == 0) {
        return Status(StatusCode::NOT_FOUND,
                      "shared-memory region '" + name + "' is not registered");
    }
    return Status::ok();
}

Expected<std::vector<SharedMemoryRegionStatus>> SharedMemoryRegions::status(
    const std::string& name) const {
    std::lock_guard lock(mutex_);
    std::vector<SharedMemoryRegionStatus> listed;
    for (const auto& [region_name, region] : regions_) {
        if (name.empty() || region_name == name) listed.push_back(region->status());
    }
    if (!name.empty() && listed.empty()) {
        return Status(StatusCode::NOT_FOUND,
                      "shared-memory region '" + name + "' is not registered");
    }
    return listed;
}

Expected<std::shared_ptr<const MappedSharedMemory>> SharedMemoryRegions::find(
    const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto found = regions_.find(name);
    if (found == regions_.end()) {
        return invalid_request("shared-memory region '" + name +
                               "' is not registered (SystemSharedMemoryRegister it first)");
    }
    return found->second;
}

}  // namespace corun::serving
