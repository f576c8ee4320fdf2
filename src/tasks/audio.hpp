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
// Sample rates corun reads and resamples between: from telephone-band 4 kHz to the 384 kHz of
// studio recorders. A rate outside (a WAV claiming 1 Hz) would make resampling to 16 kHz ask
// for 16,000 output samples per input sample.
constexpr int MIN_SAMPLE_RATE = 4000;
constexpr int MAX_SAMPLE_RATE = 384000;
// Samples in one clip, decoded or resampled: 2 GiB of floats (a MAX_WAV_BYTES file of 16-bit
// mono; 3.1 hours at 48 kHz). Checked before the samples are allocated.
constexpr uint64_t MAX_AUDIO_SAMPLES = 512ull * 1024 * 1024;

// Decodes a RIFF/WAVE file holding 16-bit PCM (1 to 8 channels, averaged to mono) at
// MIN_SAMPLE_RATE..MAX_SAMPLE_RATE. A data chunk that claims more bytes than the file holds
// (streaming writers, cut files) is read as far as it goes. INVALID_ARGUMENT for data that is
// no WAV, is damaged, or has a rate outside the range; NOT_SUPPORTED for other encodings
// (8/24/32-bit, float, compressed), naming the encoding found.
Expected<AudioClip> decode_wav(std::span<const uint8_t> bytes);
// As decode_wav, reading a file; errors name the path.
Expected<AudioClip> read_wav(const std::string& path);
// Writes a mono 16-bit PCM WAV (samples clipped to [-1, 1]).
Status write_wav(const std::string& path, const AudioClip& clip);

// Band-limited resampling (windowed sinc, 16 zero crossings, low-pass at the lower Nyquist
// frequency). The same rate returns a copy. INVALID_ARGUMENT for a rate outside
// MIN_SAMPLE_RATE..MAX_SAMPLE_RATE or a result of more than MAX_AUDIO_SAMPLES samples.
Expected<AudioClip> resample(const AudioClip& clip, int target_rate);

}  // namespace corun::tasks
