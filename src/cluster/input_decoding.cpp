#include "cluster/input_decoding.hpp"

#include <algorithm>
#include <cstring>

#include "tasks/image.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::cluster {
namespace {

// How far from the end a JPEG's end-of-image marker or a PNG's IEND chunk may lie: cameras and
// editors append padding or vendor trailers after them, which the decoders ignore.
constexpr size_t TRAILER_SLACK = 4096;

bool ends_with_marker(std::span<const uint8_t> bytes, const char* marker, size_t length,
                      size_t slack) {
    if (bytes.size() < length) return false;
    const size_t from = bytes.size() > slack + length ? bytes.size() - slack - length : 0;
    auto tail = bytes.subspan(from);
    const auto* begin = reinterpret_cast<const uint8_t*>(marker);
    return std::search(tail.begin(), tail.end(), begin, begin + length) != tail.end();
}

// The truncation the decoders let through: libjpeg and libpng's progressive reading warn and
// return an image whose missing part is grey.
std::string truncation_of(const std::string& format, std::span<const uint8_t> bytes) {
    if (format == "JPEG" && !ends_with_marker(bytes, "\xFF\xD9", 2, TRAILER_SLACK)) {
        return "the JPEG data ends without its end-of-image marker (FF D9): the file is "
               "truncated";
    }
    if (format == "PNG" && !ends_with_marker(bytes, "IEND", 4, TRAILER_SLACK)) {
        return "the PNG data ends without its IEND chunk: the file is truncated";
    }
    return "";
}

DecodeOutcome failure(const char* kind, std::string message) {
    DecodeOutcome outcome;
    outcome.error_kind = kind;
    outcome.error = std::move(message);
    return outcome;
}

DecodeOutcome decode_image_input(std::span<const uint8_t> bytes, const std::string& path) {
    const auto header = tasks::read_image_header(bytes);
    if (!header.has_value()) {
        return failure(input_error::DAMAGED,
                       "'" + path + "': damaged image header: " + header.status().message());
    }
    const uint64_t pixels = uint64_t(header->width) * uint64_t(header->height);
    if (pixels > tasks::MAX_IMAGE_PIXELS) {
        return failure(input_error::TOO_LARGE,
                       "'" + path + "' is a " + header->format + " image of " +
                           std::to_string(header->width) + "x" + std::to_string(header->height) +
                           " pixels, above the limit of " +
                           std::to_string(tasks::MAX_IMAGE_PIXELS) + " pixels");
    }
    if (std::string truncated = truncation_of(header->format, bytes); !truncated.empty()) {
        return failure(input_error::DAMAGED, "'" + path + "': " + truncated);
    }
    auto image = tasks::decode_image(bytes);
    if (!image.has_value()) {
        return failure(input_error::DAMAGED,
                       "'" + path + "' could not be decoded: " + image.status().message());
    }
    DecodeOutcome outcome;
    outcome.input.kind = InputKind::IMAGE;
    outcome.input.image = std::move(*image);
    return outcome;
}

DecodeOutcome decode_audio_input(std::span<const uint8_t> bytes, const std::string& path) {
    auto clip = tasks::decode_wav(bytes);
    if (!clip.has_value()) {
        return failure(input_error::DAMAGED, "'" + path + "': " + clip.status().message());
    }
    DecodeOutcome outcome;
    outcome.input.kind = InputKind::AUDIO;
    constexpr int RATE = tasks::VoiceActivityDetector::SAMPLE_RATE;
    if (clip->sample_rate != RATE) {
        auto resampled = tasks::resample(*clip, RATE);
        if (!resampled.has_value()) {
            return failure(input_error::DAMAGED, "'" + path + "': " + resampled.status().message());
        }
        outcome.input.audio_16k = std::move(*resampled);
        outcome.input.resampled = true;
    } else {
        outcome.input.audio_16k = *clip;
    }
    outcome.input.audio = std::move(*clip);
    return outcome;
}

}  // namespace

DecodeOutcome decode_input(std::span<const uint8_t> bytes, InputKind kind,
                           const std::string& path) {
    switch (kind) {
        case InputKind::IMAGE:
            return decode_image_input(bytes, path);
        case InputKind::AUDIO:
            return decode_audio_input(bytes, path);
        case InputKind::UNKNOWN:
            break;
    }
    return failure(input_error::NOT_AN_IMAGE, "'" + path + "' is neither an image nor a WAV file");
}

}  // namespace corun::cluster
