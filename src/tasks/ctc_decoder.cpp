#include "tasks/ctc_decoder.hpp"

#include <filesystem>
#include <fstream>

namespace corun::tasks {

Expected<CtcDecoder> CtcDecoder::from_file(const std::string& key_path, size_t class_count) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(key_path, error)) {
        return Status(StatusCode::NOT_FOUND,
                      "the key list '" + key_path +
                          "' does not exist; run scripts/fetch_models.sh to fetch the OCR models");
    }
    std::ifstream in(key_path, std::ios::binary);
    if (!in) {
        return Status(StatusCode::OPEN_FILE_FAILURE, "cannot open the key list '" + key_path + "'");
    }
    std::vector<std::string> keys;
    std::string line;
    while (std::getline(in, line)) {
        // PaddleOCR strips the line ends "\n" and "\r\n" only: a key may itself be a space.
        if (!line.empty() && line.back() == '\r') line.pop_back();
        keys.push_back(line);
    }
    CORUN_TRY(auto decoder, from_keys(std::move(keys), class_count), "key list '" + key_path + "'");
    return decoder;
}

Expected<CtcDecoder> CtcDecoder::from_keys(std::vector<std::string> keys, size_t class_count) {
    const size_t key_count = keys.size();
    if (class_count != key_count + 1 && class_count != key_count + 2) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the recogniser has " + std::to_string(class_count) +
                          " classes but the key "
                          "list has " +
                          std::to_string(key_count) + " keys; expected " +
                          std::to_string(key_count + 1) + " (blank + keys) or " +
                          std::to_string(key_count + 2) +
                          " (blank + keys + space): is this the model's own key list?");
    }
    std::vector<std::string> labels;
    labels.reserve(class_count);
    labels.emplace_back();  // the CTC blank
    for (auto& key : keys) labels.push_back(std::move(key));
    const bool has_space = class_count == key_count + 2;
    if (has_space) labels.emplace_back(" ");
    return CtcDecoder(std::move(labels), has_space);
}

DecodedText CtcDecoder::decode(const float* probabilities, size_t steps) const {
    const size_t classes = labels_.size();
    DecodedText result;
    double confidence_sum = 0.0;
    size_t kept = 0;
    size_t previous = 0;
    for (size_t step = 0; step < steps; ++step) {
        const float* row = probabilities + step * classes;
        size_t best = 0;
        for (size_t c = 1; c < classes; ++c) {
            if (row[c] > row[best]) best = c;
        }
        if (best != 0 && best != previous) {
            result.text += labels_[best];
            confidence_sum += row[best];
            ++kept;
        }
        previous = best;
    }
    result.confidence = kept == 0 ? 0.0f : static_cast<float>(confidence_sum / kept);
    return result;
}

}  // namespace corun::tasks
