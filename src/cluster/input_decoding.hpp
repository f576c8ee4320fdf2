// An input's bytes made ready for its tasks, once per file whatever the number of tasks: images
// decoded to BGR pixels, WAV audio to samples (and resampled to the 16 kHz of Silero VAD). A
// failure says which recorded reason it is (input_error) and what was wrong.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "cluster/work_item.hpp"
#include "tasks/audio.hpp"

namespace corun::cluster {

struct DecodedInput {
    InputKind kind = InputKind::UNKNOWN;
    cv::Mat image;               // 8-bit BGR
    tasks::AudioClip audio;      // as the file holds it (mono)
    tasks::AudioClip audio_16k;  // at 16 kHz: the same clip when the file is
    bool resampled = false;
};

struct DecodeOutcome {
    DecodedInput input;
    std::string error_kind;  // "" when decoded
    std::string error;
    bool ok() const { return error_kind.empty(); }
};

// Decodes `bytes` as `kind` (what input_kind_of_bytes found). A JPEG without its end marker or
// a PNG without its IEND chunk is DAMAGED (truncated): their decoders would fill the missing rows
// with grey and succeed. An image above tasks::MAX_IMAGE_PIXELS is TOO_LARGE.
DecodeOutcome decode_input(std::span<const uint8_t> bytes, InputKind kind, const std::string& path);

}  // namespace corun::cluster
