// What the compatibility programs add to HailoRT's examples so that a test can check their
// results: the input frames come from a file and the output frames go to one (raw bytes, the
// streams one after another in the order the model lists them). Standard C++ only, like the
// programs themselves.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <sys/mman.h>

namespace example_io {

inline std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Appends `size` bytes at `data` to the file at `path`.
inline bool append_to_file(const std::string& path, const void* data, size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return static_cast<bool>(out);
}

// Hands out consecutive pieces of the input file; false when it holds too few bytes.
class InputFrames {
public:
    explicit InputFrames(const std::string& path) : bytes_(read_file(path)) {}
    bool copy_next(void* target, size_t size) {
        if (offset_ + size > bytes_.size()) return false;
        std::memcpy(target, bytes_.data() + offset_, size);
        offset_ += size;
        return true;
    }

private:
    std::vector<uint8_t> bytes_;
    size_t offset_ = 0;
};

}  // namespace example_io

// As HailoRT's examples allocate their buffers.
static inline std::shared_ptr<uint8_t> page_aligned_alloc(size_t size) {
    auto addr = mmap(NULL, size, PROT_WRITE | PROT_READ, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (MAP_FAILED == addr) throw std::bad_alloc();
    return std::shared_ptr<uint8_t>(reinterpret_cast<uint8_t*>(addr),
                                    [size](void* addr) { munmap(addr, size); });
}
