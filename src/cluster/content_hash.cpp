#include "cluster/content_hash.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

namespace corun::cluster {
namespace {

// EVP rather than the deprecated SHA256_* calls: OpenSSL 3 warns on those, and -Werror.
class Sha256 {
public:
    Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
        EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr);
    }
    void add(const uint8_t* data, size_t size) { EVP_DigestUpdate(context_.get(), data, size); }
    std::string hex() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int length = 0;
        EVP_DigestFinal_ex(context_.get(), digest.data(), &length);
        static const char* const DIGITS = "0123456789abcdef";
        std::string out;
        out.reserve(length * 2);
        for (unsigned int i = 0; i < length; ++i) {
            out += DIGITS[digest[i] >> 4];
            out += DIGITS[digest[i] & 15];
        }
        return out;
    }

private:
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context_;
};

}  // namespace

std::string sha256_hex(std::span<const uint8_t> bytes) {
    Sha256 hash;
    hash.add(bytes.data(), bytes.size());
    return hash.hex();
}

Expected<std::string> file_sha256_hex(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return Status(StatusCode::OPEN_FILE_FAILURE, "cannot open '" + path + "'");
    Sha256 hash;
    std::vector<char> chunk(1 << 20);
    while (file) {
        file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        hash.add(reinterpret_cast<const uint8_t*>(chunk.data()),
                 static_cast<size_t>(file.gcount()));
    }
    if (file.bad()) return Status(StatusCode::FILE_OPERATION_FAILURE, "cannot read '" + path + "'");
    return hash.hex();
}

}  // namespace corun::cluster
