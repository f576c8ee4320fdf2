#include "devices/whisper/whisper_engine.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "ggml.h"
#include "whisper.h"

namespace corun::devices::whisper {
namespace {

constexpr uint32_t GGML_MAGIC = 0x67676d6c;  // "ggml", as whisper.cpp's files start
constexpr int MAX_TENSOR_DIMS = 4;
constexpr int MAX_TENSOR_NAME = 1024;

// whisper.cpp reports why a load or a run failed only to its log (and so does ggml, whose log it
// sets too). Keep the errors of this thread's latest call, to put the reason into the Status;
// print nothing (corun's own messages say it).
thread_local std::string last_engine_error;

void record_engine_log(ggml_log_level level, const char* text, void*) {
    if (level != GGML_LOG_LEVEL_ERROR) return;
    if (last_engine_error.size() < 2048) last_engine_error += text;
}

void init_engine_once() {
    static std::once_flag once;
    std::call_once(once, [] { whisper_log_set(record_engine_log, nullptr); });
}

// The recorded lines as one line ("a; b"): Status messages are printed on one line.
std::string engine_error() {
    std::string error;
    for (const char c : last_engine_error) {
        if (c != '\n') {
            error += c;
        } else if (!error.empty() && error.back() != ' ') {
            error += "; ";
        }
    }
    while (!error.empty() && (error.back() == ' ' || error.back() == ';')) error.pop_back();
    return error.empty() ? "no reason given" : error;
}

// The model file's hyperparameters, in the order whisper.cpp reads them.
struct Hparams {
    int32_t n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx,
        n_text_state, n_text_head, n_text_layer, n_mels, ftype;
};

// ggml_ftype values whisper.cpp accepts (GGML_FTYPE_*: F32, F16, the quantized ones). Another
// value makes ggml_ftype_to_ggml_type() abort the process rather than fail.
bool known_ftype(int32_t ftype) {
    return ftype == 0 || ftype == 1 || ftype == 2 || ftype == 3 || (ftype >= 7 && ftype <= 28);
}

// Reads a whisper.cpp model file front to back, knowing its size, so that every "cut short" is
// found before whisper.cpp reads past the end (which it does not notice while reading the header
// and the vocabulary).
class ModelFileWalk {
public:
    ModelFileWalk(const std::string& path, uint64_t size)
        : path_(path), size_(size), in_(path, std::ios::binary) {}

    uint64_t left() const { return size_ - at_; }
    bool read(void* out, size_t bytes) {
        if (left() < bytes ||
            !in_.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes)))
            return false;
        at_ += bytes;
        return true;
    }
    bool read_i32(int32_t& value) { return read(&value, sizeof value); }
    bool skip(uint64_t bytes) {
        if (left() < bytes) return false;
        if (bytes < 4096) {
            in_.ignore(static_cast<std::streamsize>(bytes));
        } else {
            in_.seekg(static_cast<std::streamoff>(at_ + bytes));
        }
        if (!in_) return false;
        at_ += bytes;
        return true;
    }

    // INVALID_MODEL: the file ends inside `where`.
    Status cut_short(const std::string& where) const {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path_ + "' is cut short: it ends (at " + std::to_string(size_) +
                          " bytes) inside " + where +
                          "; the download or copy is incomplete: fetch the model again "
                          "(whisper.cpp's models/download-ggml-model.sh) or re-convert it");
    }
    Status damaged(const std::string& what) const {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path_ + "' is not a valid whisper.cpp model: " + what +
                          "; the file is damaged: fetch the model again or re-convert it with "
                          "whisper.cpp's models/convert-pt-to-ggml.py");
    }

private:
    const std::string& path_;
    const uint64_t size_;
    std::ifstream in_;
    uint64_t at_ = 0;
};

Status check_hparams(const ModelFileWalk& walk, const Hparams& h) {
    auto within = [](int32_t value, int32_t low, int32_t high) {
        return value >= low && value <= high;
    };
    if (!within(h.n_vocab, 1, 1 << 20) || !within(h.n_audio_ctx, 1, 1 << 16) ||
        !within(h.n_text_ctx, 1, 1 << 16) || !within(h.n_audio_state, 1, 1 << 15) ||
        !within(h.n_audio_layer, 1, 256) || !within(h.n_text_layer, 1, 256) ||
        !within(h.n_mels, 1, 1024) || !within(h.n_audio_head, 1, h.n_audio_state) ||
        !within(h.n_text_head, 1, h.n_text_state)) {
        return walk.damaged(
            "its hyperparameters are implausible (n_vocab " + std::to_string(h.n_vocab) +
            ", n_audio_ctx " + std::to_string(h.n_audio_ctx) + ", n_audio_state " +
            std::to_string(h.n_audio_state) + ", n_audio_layer " + std::to_string(h.n_audio_layer) +
            ", n_text_ctx " + std::to_string(h.n_text_ctx) + ", n_text_layer " +
            std::to_string(h.n_text_layer) + ", n_mels " + std::to_string(h.n_mels) + ")");
    }
    if (h.n_text_state != h.n_audio_state || h.n_audio_state % h.n_audio_head != 0 ||
        h.n_text_state % h.n_text_head != 0) {
        return walk.damaged(
            "its widths and heads do not fit (n_audio_state " + std::to_string(h.n_audio_state) +
            ", n_text_state " + std::to_string(h.n_text_state) + ", heads " +
            std::to_string(h.n_audio_head) + "/" + std::to_string(h.n_text_head) + ")");
    }
    if (!known_ftype(h.ftype % GGML_QNT_VERSION_FACTOR)) {
        return walk.damaged("its weight type " + std::to_string(h.ftype) +
                            " is not one whisper.cpp knows");
    }
    return Status::ok();
}

// The tensors whisper.cpp allocates from the hyperparameters alone (before it reads them): their
// shapes in the file must agree, or a damaged header would make it allocate for nothing. Each
// must be there too: it ties a hyperparameter to bytes the file holds.
constexpr std::array<const char*, 4> SIZED_TENSORS = {
    "decoder.token_embedding.weight", "encoder.positional_embedding",
    "decoder.positional_embedding", "encoder.conv1.weight"};

// Which of SIZED_TENSORS `name` is (SIZED_TENSORS.size() for another tensor); INVALID_MODEL when
// its shape disagrees with the hyperparameters.
Expected<size_t> check_sized_tensor(const ModelFileWalk& walk, const std::string& name,
                                    const std::array<int64_t, MAX_TENSOR_DIMS>& ne,
                                    const Hparams& h) {
    const std::array<std::array<int64_t, 2>, SIZED_TENSORS.size()> shapes = {{
        {h.n_text_state, h.n_vocab},
        {h.n_audio_state, h.n_audio_ctx},
        {h.n_text_state, h.n_text_ctx},
        {3, h.n_mels},
    }};
    size_t index = 0;
    while (index < SIZED_TENSORS.size() && name != SIZED_TENSORS[index]) ++index;
    if (index == SIZED_TENSORS.size()) return index;
    const auto& expected = shapes[index];
    if (ne[0] != expected[0] || ne[1] != expected[1]) {
        return walk.damaged("tensor '" + name + "' is " + std::to_string(ne[0]) + " x " +
                            std::to_string(ne[1]) + ", but the hyperparameters say " +
                            std::to_string(expected[0]) + " x " + std::to_string(expected[1]));
    }
    return index;
}

}  // namespace

Status check_whisper_file(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        return Status(StatusCode::NOT_FOUND,
                      "model file '" + path +
                          "' does not exist; pass the path of a whisper.cpp model (ggml-*.bin, "
                          "as whisper.cpp's models/download-ggml-model.sh fetches them)");
    }
    const uintmax_t size = std::filesystem::file_size(path, error);
    if (error) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot read the size of '" + path + "': " + error.message());
    }
    ModelFileWalk walk(path, size);
    uint32_t magic = 0;
    if (!walk.read(&magic, sizeof magic)) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path + "' is " + std::to_string(size) +
                          " bytes, too short for a whisper.cpp model; the file is cut short or "
                          "is not a model");
    }
    if (magic != GGML_MAGIC) {
        std::string what = "it does not start with the ggml magic 0x67676d6c";
        if (std::memcmp(&magic, "GGUF", 4) == 0) what = "it is a GGUF file (an LLM?)";
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path + "' is not a whisper.cpp model: " + what +
                          ". Speech2Text loads whisper.cpp's ggml format (ggml-tiny.bin and so "
                          "on, from whisper.cpp's models/download-ggml-model.sh, or written by "
                          "its models/convert-pt-to-ggml.py)");
    }
    Hparams h{};
    if (!walk.read(&h, sizeof h)) return walk.cut_short("the hyperparameters");
    CORUN_RETURN_IF_ERROR(check_hparams(walk, h));

    int32_t filter_mels = 0;
    int32_t filter_fft = 0;
    if (!walk.read_i32(filter_mels) || !walk.read_i32(filter_fft)) {
        return walk.cut_short("the mel filter bank's header");
    }
    if (filter_mels < 1 || filter_fft < 1 || filter_mels > 1024 || filter_fft > 65536) {
        return walk.damaged("its mel filter bank is " + std::to_string(filter_mels) + " x " +
                            std::to_string(filter_fft));
    }
    if (!walk.skip(uint64_t{4} * static_cast<uint64_t>(filter_mels) *
                   static_cast<uint64_t>(filter_fft))) {
        return walk.cut_short("the mel filter bank");
    }

    int32_t vocabulary = 0;
    if (!walk.read_i32(vocabulary)) return walk.cut_short("the vocabulary's size");
    if (vocabulary < 0 || vocabulary > h.n_vocab) {
        return walk.damaged("its vocabulary has " + std::to_string(vocabulary) +
                            " entries for n_vocab " + std::to_string(h.n_vocab));
    }
    for (int32_t i = 0; i < vocabulary; ++i) {
        uint32_t length = 0;
        if (!walk.read(&length, sizeof length) || !walk.skip(length)) {
            return walk.cut_short("the vocabulary (entry " + std::to_string(i) + " of " +
                                  std::to_string(vocabulary) + ")");
        }
    }

    // The tensors: a header each (dimensions, name length, type, sizes, name), then the data.
    const int64_t expected_tensors =
        11 + 15 * int64_t{h.n_audio_layer} + 24 * int64_t{h.n_text_layer};
    int64_t tensors = 0;
    std::array<bool, SIZED_TENSORS.size()> sized_found{};
    std::string name;
    while (walk.left() > 0) {
        const std::string where =
            "tensor " + std::to_string(tensors + 1) + " of " + std::to_string(expected_tensors);
        int32_t header[3] = {0, 0, 0};  // n_dims, name length, type
        if (!walk.read(header, sizeof header)) return walk.cut_short("the header of " + where);
        const auto [dims, name_length, type] = header;
        if (dims < 1 || dims > MAX_TENSOR_DIMS || name_length < 1 ||
            name_length > MAX_TENSOR_NAME || type < 0 || type >= GGML_TYPE_COUNT ||
            ggml_blck_size(static_cast<ggml_type>(type)) <= 0 ||
            ggml_type_size(static_cast<ggml_type>(type)) == 0) {
            return walk.damaged("the header of " + where + " is invalid (" + std::to_string(dims) +
                                " dimensions, a name of " + std::to_string(name_length) +
                                " bytes, type " + std::to_string(type) + ")");
        }
        std::array<int64_t, MAX_TENSOR_DIMS> ne{1, 1, 1, 1};
        int64_t elements = 1;
        for (int32_t d = 0; d < dims; ++d) {
            int32_t extent = 0;
            if (!walk.read_i32(extent)) return walk.cut_short("the header of " + where);
            if (extent < 1 || elements > (int64_t{1} << 40) / extent) {
                return walk.damaged("the header of " + where + " has a dimension of " +
                                    std::to_string(extent));
            }
            ne[static_cast<size_t>(d)] = extent;
            elements *= extent;
        }
        name.resize(static_cast<size_t>(name_length));
        if (!walk.read(name.data(), name.size())) return walk.cut_short("the name of " + where);
        CORUN_TRY(const size_t sized, check_sized_tensor(walk, name, ne, h));
        if (sized < sized_found.size()) sized_found[sized] = true;
        const auto block = ggml_blck_size(static_cast<ggml_type>(type));
        const uint64_t bytes =
            static_cast<uint64_t>(elements / block) * ggml_type_size(static_cast<ggml_type>(type));
        if (!walk.skip(bytes)) return walk.cut_short("the data of tensor '" + name + "'");
        ++tensors;
    }
    if (tensors != expected_tensors) {
        if (tensors < expected_tensors) {
            return walk.cut_short("its tensors: it holds " + std::to_string(tensors) + " of the " +
                                  std::to_string(expected_tensors) + " a model of " +
                                  std::to_string(h.n_audio_layer) + " + " +
                                  std::to_string(h.n_text_layer) + " layers has");
        }
        return walk.damaged("it holds " + std::to_string(tensors) + " tensors where a model of " +
                            std::to_string(h.n_audio_layer) + " + " +
                            std::to_string(h.n_text_layer) + " layers has " +
                            std::to_string(expected_tensors));
    }
    for (size_t i = 0; i < sized_found.size(); ++i) {
        if (!sized_found[i]) {
            return walk.damaged("it has no tensor '" + std::string(SIZED_TENSORS[i]) + "'");
        }
    }
    return Status::ok();
}

Status check_audio(std::span<const float> samples) {
    if (samples.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the audio is empty; pass 16 kHz mono samples as floats in [-1, 1]");
    }
    if (samples.size() > MAX_AUDIO_SAMPLES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the audio has " + std::to_string(samples.size()) + " samples (" +
                          std::to_string(samples.size() / SAMPLE_RATE) +
                          " s at 16 kHz), more than the hour one call takes; split it, and check "
                          "that it is 16 kHz mono (resample other rates first)");
    }
    for (size_t i = 0; i < samples.size(); ++i) {
        if (!std::isfinite(samples[i])) {
            char when[32];
            std::snprintf(when, sizeof when, "%.3f", static_cast<double>(i) / SAMPLE_RATE);
            return Status(StatusCode::INVALID_ARGUMENT,
                          "audio sample " + std::to_string(i) + " (at " + when + " s) is " +
                              (std::isnan(samples[i]) ? "NaN" : "infinite") +
                              "; samples must be finite floats in [-1, 1]");
        }
    }
    return Status::ok();
}

Status check_language(const std::string& language) {
    if (language.empty() || language == "auto") return Status::ok();
    if (whisper_lang_id(language.c_str()) < 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "language '" + language +
                          "' is not one Whisper knows; use a code such as \"en\" or \"de\", or "
                          "\"\" to detect it");
    }
    return Status::ok();
}

Expected<std::unique_ptr<WhisperModel>> WhisperModel::load(const std::string& path,
                                                           uint32_t threads) {
    CORUN_RETURN_IF_ERROR(check_whisper_file(path));
    init_engine_once();
    last_engine_error.clear();
    // By default one core is left to the other models, as for the LLM: ggml's threads meet at a
    // spinning barrier after every graph node, so a frame that runs beside a window (the lent
    // slot) would stall them all by taking one of their cores.
    if (threads == 0) threads = std::max(2u, std::thread::hardware_concurrency()) - 1;
    whisper_context_params params = whisper_context_default_params();
    params.use_gpu = false;
    whisper_context* context = whisper_init_from_file_with_params(path.c_str(), params);
    if (context == nullptr) {
        return Status(StatusCode::INVALID_MODEL, "whisper.cpp cannot load '" + path +
                                                     "': " + engine_error() +
                                                     " (see docs/GENAI.md, \"Speech to text\")");
    }
    return std::unique_ptr<WhisperModel>(new WhisperModel(path, context, threads));
}

WhisperModel::~WhisperModel() {
    whisper_free(context_);
}

bool WhisperModel::multilingual() const {
    return whisper_is_multilingual(context_) != 0;
}

Status WhisperModel::check_options(const TranscribeOptions& options) const {
    CORUN_RETURN_IF_ERROR(check_language(options.language));
    if (multilingual()) return Status::ok();
    if (options.translate) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + path_ +
                          "' is an English-only model: it cannot translate; use a multilingual "
                          "model (a file without .en in its name)");
    }
    if (!options.language.empty() && options.language != "auto" && options.language != "en") {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + path_ + "' is an English-only model: it cannot transcribe language '" +
                          options.language + "'; use a multilingual model");
    }
    return Status::ok();
}

bool WhisperModel::on_abort_check(void* self) {
    auto* model = static_cast<WhisperModel*>(self);
    if (model->stop_point_ != nullptr && (*model->stop_point_)()) model->stopped_ = true;
    return model->stopped_;
}

bool WhisperModel::on_encoder_begin(whisper_context*, whisper_state*, void* self) {
    return !on_abort_check(self);  // true: go on
}

Expected<std::vector<WindowSegment>> WhisperModel::transcribe(std::span<const float> samples,
                                                              const TranscribeOptions& options,
                                                              const StopPoint& stop_point) {
    if (samples.empty() || samples.size() > WINDOW_SAMPLES) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      "a window of " + std::to_string(samples.size()) +
                          " samples; whisper.cpp is given 1.." + std::to_string(WINDOW_SAMPLES));
    }
    whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
    params.n_threads = static_cast<int>(threads_);
    params.translate = options.translate;
    params.language = options.language.empty() ? "auto" : options.language.c_str();
    params.detect_language = false;
    params.no_context = !options.continues;
    params.print_special = false;
    params.print_progress = false;
    params.print_realtime = false;
    params.print_timestamps = false;
    // No temperature fallback: it decodes a window again (up to five times) when the text fails
    // a quality threshold, which makes a unit's length unpredictable (and random weights fail
    // every threshold).
    params.temperature_inc = 0.0f;
    params.abort_callback = &WhisperModel::on_abort_check;
    params.abort_callback_user_data = this;
    params.encoder_begin_callback = &WhisperModel::on_encoder_begin;
    params.encoder_begin_callback_user_data = this;

    last_engine_error.clear();
    stop_point_ = &stop_point;
    stopped_ = false;
    const int result =
        whisper_full(context_, params, samples.data(), static_cast<int>(samples.size()));
    stop_point_ = nullptr;
    if (stopped_) return Status(StatusCode::ABORTED, "stopped at a preemption point");
    if (result != 0) {
        return Status(StatusCode::DEVICE_FAILURE,
                      "whisper_full failed (" + std::to_string(result) + "): " + engine_error());
    }
    // Times come in 10 ms units from the window's start; a segment never reaches past the audio
    // it was given (whisper.cpp pads every window to 30 s, and a timestamp may fall in the
    // padding).
    const double window_sec = static_cast<double>(samples.size()) / SAMPLE_RATE;
    std::vector<WindowSegment> segments;
    const int count = whisper_full_n_segments(context_);
    for (int i = 0; i < count; ++i) {
        WindowSegment segment;
        segment.start_sec =
            std::clamp(whisper_full_get_segment_t0(context_, i) / 100.0, 0.0, window_sec);
        segment.end_sec = std::clamp(whisper_full_get_segment_t1(context_, i) / 100.0,
                                     segment.start_sec, window_sec);
        const char* text = whisper_full_get_segment_text(context_, i);
        segment.text = text != nullptr ? text : "";
        segments.push_back(std::move(segment));
    }
    return segments;
}

}  // namespace corun::devices::whisper
