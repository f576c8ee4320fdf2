#include "tasks/audio.hpp"
#include "tasks/little_endian.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

namespace corun::tasks {
namespace {

bool tag_is(std::span<const uint8_t> b, size_t at, const char* tag) {
    return std::equal(tag, tag + 4, b.begin() + static_cast<std::ptrdiff_t>(at));
}

void put16(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& out, uint32_t v) {
    put16(out, v & 0xFFFF);
    put16(out, v >> 16);
}

constexpr uint16_t WAVE_FORMAT_PCM = 1;
constexpr uint16_t WAVE_FORMAT_IEEE_FLOAT = 3;
constexpr uint16_t WAVE_FORMAT_EXTENSIBLE = 0xFFFE;

Status check_sample_rate(const std::string& whose, int64_t rate) {
    if (rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      whose + " sample rate " + std::to_string(rate) +
                          " Hz is outside the supported range " + std::to_string(MIN_SAMPLE_RATE) +
                          ".." + std::to_string(MAX_SAMPLE_RATE) +
                          " Hz; resample it first (e.g. `sox in.wav -r 16000 out.wav`)");
    }
    return Status::ok();
}

std::string encoding_name(uint32_t format, uint32_t bits) {
    if (format == WAVE_FORMAT_PCM) return std::to_string(bits) + "-bit PCM";
    if (format == WAVE_FORMAT_IEEE_FLOAT) return std::to_string(bits) + "-bit float";
    if (format == 6 || format == 7) return "G.711 (A-law/mu-law)";
    if (format == 2 || format == 0x11) return "ADPCM";
    if (format == 0x55) return "MP3";
    return "format tag " + std::to_string(format);
}

}  // namespace

Expected<AudioClip> decode_wav(std::span<const uint8_t> bytes) {
    if (bytes.empty())
        return Status(StatusCode::INVALID_ARGUMENT, "the data is empty (0 bytes), not a WAV");
    if (bytes.size() < 12 || !tag_is(bytes, 0, "RIFF") || !tag_is(bytes, 8, "WAVE")) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the data is not a WAV file (no RIFF/WAVE header); convert it with e.g. "
                      "`sox in.mp3 -b 16 out.wav`");
    }
    bool have_format = false;
    uint32_t format = 0, channels = 0, rate = 0, block_align = 0, bits = 0;
    // 64-bit offsets: a chunk size near 4 GiB must not wrap past the end of the data.
    uint64_t at = 12;
    while (at + 8 <= bytes.size()) {
        const uint64_t size = le32(bytes, at + 4);
        const uint64_t body = at + 8;
        if (tag_is(bytes, at, "fmt ")) {
            if (size < 16 || body + 16 > bytes.size()) {
                return Status(StatusCode::INVALID_ARGUMENT, "the WAV's fmt chunk is cut short");
            }
            format = le16(bytes, body);
            channels = le16(bytes, body + 2);
            rate = le32(bytes, body + 4);
            block_align = le16(bytes, body + 12);
            bits = le16(bytes, body + 14);
            if (format == WAVE_FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= bytes.size()) {
                format = le16(bytes, body + 24);  // the sub-format GUID starts with the tag
            }
            have_format = true;
        } else if (tag_is(bytes, at, "data")) {
            if (!have_format) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "the WAV has no fmt chunk before its data");
            }
            if (format != WAVE_FORMAT_PCM || bits != 16) {
                return Status(StatusCode::NOT_SUPPORTED,
                              "the WAV holds " + encoding_name(format, bits) +
                                  " audio; corun reads 16-bit PCM (convert with `sox in.wav -b 16 "
                                  "-e signed-integer out.wav`)");
            }
            if (channels < 1 || channels > 8 || block_align != 2 * channels) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "the WAV's fmt chunk is inconsistent: " + std::to_string(channels) +
                                  " channels, block align " + std::to_string(block_align));
            }
            CORUN_RETURN_IF_ERROR(check_sample_rate("the WAV's", rate));
            // Streaming writers leave the size at 0xFFFFFFFF, and cut files end early: read
            // what is there, so the allocation below never exceeds the file.
            const uint64_t available = bytes.size() - std::min<uint64_t>(body, bytes.size());
            const uint64_t data_size = std::min<uint64_t>(size, available);
            const uint64_t frames = data_size / block_align;
            if (frames > MAX_AUDIO_SAMPLES) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "the WAV holds " + std::to_string(frames) +
                                  " samples per channel, above the limit of " +
                                  std::to_string(MAX_AUDIO_SAMPLES) + "; split it first");
            }
            AudioClip clip;
            clip.sample_rate = static_cast<int>(rate);
            clip.samples.resize(frames);
            for (size_t frame = 0; frame < frames; ++frame) {
                int32_t sum = 0;
                for (uint32_t c = 0; c < channels; ++c) {
                    sum += static_cast<int16_t>(le16(bytes, body + frame * block_align + 2 * c));
                }
                clip.samples[frame] = static_cast<float>(sum) / (32768.0f * channels);
            }
            return clip;
        }
        at = body + size + (size & 1);  // chunks are padded to even sizes
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  have_format ? "the WAV has no data chunk" : "the WAV has no fmt chunk");
}

Expected<AudioClip> read_wav(const std::string& path) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
        return Status(StatusCode::NOT_FOUND, "WAV file '" + path + "' does not exist");
    }
    if (S_ISDIR(info.st_mode)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + path + "' is a directory, not a WAV file");
    }
    const auto size = static_cast<uint64_t>(info.st_size);
    if (size > MAX_WAV_BYTES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "WAV file '" + path + "' has " + std::to_string(size) +
                          " bytes, above the limit of " + std::to_string(MAX_WAV_BYTES) +
                          "; split it first");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return Status(StatusCode::OPEN_FILE_FAILURE, "cannot open WAV file '" + path + "'");
    }
    std::vector<uint8_t> bytes(size);
    if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
        return Status(StatusCode::FILE_OPERATION_FAILURE, "reading WAV file '" + path + "' failed");
    }
    CORUN_TRY(auto clip, decode_wav(bytes), "WAV file '" + path + "'");
    return clip;
}

Status write_wav(const std::string& path, const AudioClip& clip) {
    if (clip.sample_rate <= 0) {
        return Status(StatusCode::INVALID_ARGUMENT, "write WAV: the clip has no sample rate");
    }
    const auto data_size = static_cast<uint32_t>(clip.samples.size() * 2);
    std::string out;
    out.reserve(44 + data_size);
    out += "RIFF";
    put32(out, 36 + data_size);
    out += "WAVEfmt ";
    put32(out, 16);
    put16(out, WAVE_FORMAT_PCM);
    put16(out, 1);  // mono
    put32(out, static_cast<uint32_t>(clip.sample_rate));
    put32(out, static_cast<uint32_t>(clip.sample_rate) * 2);
    put16(out, 2);   // block align
    put16(out, 16);  // bits
    out += "data";
    put32(out, data_size);
    for (float sample : clip.samples) {
        const auto value =
            static_cast<int16_t>(std::lround(std::clamp(sample, -1.0f, 1.0f) * 32767.0f));
        put16(out, static_cast<uint16_t>(value));
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file || !file.write(out.data(), static_cast<std::streamsize>(out.size()))) {
        return Status(StatusCode::FILE_OPERATION_FAILURE, "writing WAV file '" + path + "' failed");
    }
    return Status::ok();
}

Expected<AudioClip> resample(const AudioClip& clip, int target_rate) {
    CORUN_RETURN_IF_ERROR(check_sample_rate("resample: the clip's", clip.sample_rate));
    CORUN_RETURN_IF_ERROR(check_sample_rate("resample: the target", target_rate));
    if (clip.sample_rate == target_rate) return clip;
    const double ratio = static_cast<double>(target_rate) / clip.sample_rate;
    // Exact in integers: floor(samples * target / source), before anything is allocated.
    const uint64_t source_samples = clip.samples.size();
    if (source_samples > MAX_AUDIO_SAMPLES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "resample: the clip has " + std::to_string(source_samples) +
                          " samples, above the limit of " + std::to_string(MAX_AUDIO_SAMPLES));
    }
    const uint64_t count = source_samples * static_cast<uint64_t>(target_rate) /
                           static_cast<uint64_t>(clip.sample_rate);
    if (count > MAX_AUDIO_SAMPLES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "resample: " + std::to_string(source_samples) + " samples from " +
                          std::to_string(clip.sample_rate) + " Hz to " +
                          std::to_string(target_rate) + " Hz give " + std::to_string(count) +
                          " samples, above the limit of " + std::to_string(MAX_AUDIO_SAMPLES) +
                          "; split the audio first");
    }
    // Low-pass at the lower of the two Nyquist frequencies, in cycles per source sample.
    const double cutoff = 0.5 * std::min(1.0, ratio);
    constexpr double ZERO_CROSSINGS = 16.0;
    const double half_width = ZERO_CROSSINGS / (2.0 * cutoff);  // in source samples

    AudioClip out;
    out.sample_rate = target_rate;
    out.samples.resize(count);
    const auto last = static_cast<int64_t>(clip.samples.size()) - 1;
    for (size_t n = 0; n < count; ++n) {
        const double centre = static_cast<double>(n) / ratio;  // position in source samples
        const auto first =
            std::max<int64_t>(0, static_cast<int64_t>(std::ceil(centre - half_width)));
        const auto end =
            std::min<int64_t>(last, static_cast<int64_t>(std::floor(centre + half_width)));
        double sum = 0.0;
        double weight_sum = 0.0;
        for (int64_t k = first; k <= end; ++k) {
            const double offset = static_cast<double>(k) - centre;
            const double x = 2.0 * cutoff * offset;
            const double sinc =
                std::abs(x) < 1e-9 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
            const double window =
                0.5 * (1.0 + std::cos(std::numbers::pi * offset / half_width));  // Hann
            const double weight = sinc * window;
            sum += weight * clip.samples[static_cast<size_t>(k)];
            weight_sum += weight;
        }
        // Normalising by the weights keeps DC gain at 1, also near the clip's edges.
        out.samples[n] = weight_sum != 0.0 ? static_cast<float>(sum / weight_sum) : 0.0f;
    }
    return out;
}

}  // namespace corun::tasks
