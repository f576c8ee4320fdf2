// Audio for speech models: reading and writing 16-bit PCM WAV files, and resampling to the
// rate a model needs (Silero VAD takes 16 kHz; espeak-ng writes 22050 Hz).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun::tasks {

// Mono audio as floats in [-1, 1].
struct AudioClip {
    int sample_rate = 0;
    std::vector<float> samples;
    double duration_s() const {
        return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
    }
};

// A WAV larger than this is refused before it is read (about 90 minutes of 48 kHz stereo).
constexpr uint64_t MAX_WAV_BYTES = 1024ull * 1024 * 1024;

// Decodes a RIFF/WAVE file holding 16-bit PCM (1 to 8 channels, averaged to mono).
// INVALID_ARGUMENT for data that is no WAV or is damaged; NOT_SUPPORTED for other encodings
// (8/24/32-bit, float, compressed), naming the encoding found.
Expected<AudioClip> decode_wav(std::span<const uint8_t> bytes);
// As decode_wav, reading a file; errors name the path.
Expected<AudioClip> read_wav(const std::string& path);
// Writes a mono 16-bit PCM WAV (samples clipped to [-1, 1]).
Status write_wav(const std::string& path, const AudioClip& clip);

// Band-limited resampling (windowed sinc, 16 zero crossings, low-pass at the lower Nyquist
// frequency). The same rate returns a copy. INVALID_ARGUMENT for a rate outside 1..384000.
Expected<AudioClip> resample(const AudioClip& clip, int target_rate);

}  // namespace corun::tasks
