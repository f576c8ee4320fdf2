// The key of a batch input: the SHA-256 of its bytes, as 64 lower-case hex digits. The same
// photo under two names is one input; a file rewritten in place is a new one.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "corun/expected.hpp"

namespace corun::cluster {

std::string sha256_hex(std::span<const uint8_t> bytes);

// The SHA-256 of a whole file, read in chunks (model files: their version in the results).
// NOT_FOUND / OPEN_FILE_FAILURE name the path.
Expected<std::string> file_sha256_hex(const std::string& path);

}  // namespace corun::cluster
