// A model file a client streams to corund (LoadLlm, LoadSpeech2Text): its bytes go into an
// anonymous memory file that the engine opens as /proc/self/fd/N, so corund never opens a path
// a client names (docs/SERVICE.md, "How the model gets there").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "corun/expected.hpp"

namespace corun::service {

class ReceivedModelFile {
public:
    // Writes `first_data`, then each further chunk's data that `next_data` gives (nullptr: the
    // stream ended), into a new memory file. INVALID_ARGUMENT, naming `call`, when the stream
    // sends more or fewer than `total_bytes`; RESOURCE_LIMIT when memory runs out.
    static Expected<ReceivedModelFile> receive(
        const std::string& call, uint64_t total_bytes, const std::string& first_data,
        const std::function<const std::string*()>& next_data);

    // Chunks of a Load* stream: `first` (which carries total_bytes), then what `next` reads.
    template <typename Chunk>
    static Expected<ReceivedModelFile> receive_chunks(const std::string& call, const Chunk& first,
                                                      const std::function<bool(Chunk&)>& next) {
        Chunk chunk;
        return receive(call, first.total_bytes(), first.data(), [&]() -> const std::string* {
            return next(chunk) ? &chunk.data() : nullptr;
        });
    }

    ReceivedModelFile(ReceivedModelFile&& other) noexcept;
    ReceivedModelFile& operator=(ReceivedModelFile&& other) noexcept;
    ReceivedModelFile(const ReceivedModelFile&) = delete;
    ReceivedModelFile& operator=(const ReceivedModelFile&) = delete;
    // Closes the descriptor: an engine that mapped the file keeps it.
    ~ReceivedModelFile();

    // What the engine opens.
    const std::string& path() const { return path_; }
    uint64_t bytes() const { return bytes_; }

private:
    ReceivedModelFile(int fd, uint64_t bytes);
    int fd_ = -1;
    uint64_t bytes_ = 0;
    std::string path_;
};

// The engine names the file by its /proc/self/fd path; the client knows it as `client_file`
// ("tiny_qwen2.gguf"): its errors say that, "(sent by the client)".
Status naming_the_client_file(const Status& status, const std::string& path,
                              const std::string& client_file);

}  // namespace corun::service
