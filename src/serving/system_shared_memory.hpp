// The protocol's system shared-memory extension: a client registers a POSIX shared-memory
// object (shm_open key) under a name, with the offset and size of the part the server may use;
// then a request's inputs and outputs say `shared_memory_region`, `shared_memory_offset` and
// `shared_memory_byte_size` instead of carrying their bytes, and the server reads the inputs
// from there and writes the outputs there. The gRPC front uses it (docs/SERVING.md).
//
// Every access is bounds-checked against the registered part; a missing region or an access
// outside it is INVALID_ARGUMENT naming the region, the range asked for and the range that
// exists. Unregistering while a request uses a region is safe: the request holds the mapping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun::serving {

struct SharedMemoryRegionStatus {
    std::string name;
    std::string key;
    uint64_t offset = 0;
    uint64_t byte_size = 0;
};

// One registered region, mapped read-write for as long as someone holds it.
class MappedSharedMemory {
public:
    MappedSharedMemory(SharedMemoryRegionStatus status, void* mapping, size_t mapping_size);
    ~MappedSharedMemory();
    MappedSharedMemory(const MappedSharedMemory&) = delete;
    MappedSharedMemory& operator=(const MappedSharedMemory&) = delete;

    const SharedMemoryRegionStatus& status() const { return status_; }
    // The bytes [offset, offset + byte_size) of the registered part; INVALID_ARGUMENT beyond it.
    Expected<std::span<uint8_t>> bytes(uint64_t offset, uint64_t byte_size) const;

private:
    SharedMemoryRegionStatus status_;
    void* mapping_;
    size_t mapping_size_;
    uint8_t* base_;  // the registered part's start inside the mapping
};

class SharedMemoryRegions {
public:
    // Maps `byte_size` bytes at `offset` of the shm object `key` under `name`. INVALID_ARGUMENT
    // for a name already registered, a size of 0 or a part past the object's end; NOT_FOUND
    // when the object does not exist.
    Status register_region(const SharedMemoryRegionStatus& region);
    // "" = every region. NOT_FOUND for a name not registered.
    Status unregister_region(const std::string& name);
    // "" = every region; NOT_FOUND for a name not registered.
    Expected<std::vector<SharedMemoryRegionStatus>> status(const std::string& name) const;
    // The region, held for the caller's use; INVALID_ARGUMENT naming it when not registered.
    Expected<std::shared_ptr<const MappedSharedMemory>> find(const std::string& name) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const MappedSharedMemory>> regions_;
};

}  // namespace corun::serving
