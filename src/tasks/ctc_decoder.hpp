// Greedy CTC decoding of a text recogniser's per-time-step class probabilities into a string,
// with PaddleOCR's key-list convention: class 0 is the CTC blank, classes 1..K are the K lines of
// the key file, and a model with K + 2 classes has a space as its last class.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun::tasks {

struct DecodedText {
    std::string text;         // UTF-8
    float confidence = 0.0f;  // mean probability of the kept characters; 0 when there are none
};

class CtcDecoder {
public:
    // The keys of a PaddleOCR dictionary file (one character per line, UTF-8) for a model with
    // `class_count` classes. NOT_FOUND / OPEN_FILE_FAILURE if the file cannot be read;
    // INVALID_ARGUMENT if class_count is neither keys + 1 (no space class) nor keys + 2.
    static Expected<CtcDecoder> from_file(const std::string& key_path, size_t class_count);
    static Expected<CtcDecoder> from_keys(std::vector<std::string> keys, size_t class_count);

    // `probabilities` holds `steps` rows of class_count() values. Takes the most likely class at
    // each step, merges repeats, drops blanks.
    DecodedText decode(const float* probabilities, size_t steps) const;

    size_t class_count() const { return labels_.size(); }
    // The text of one class ("" for the blank).
    const std::string& label(size_t class_index) const { return labels_.at(class_index); }
    bool has_space_class() const { return has_space_; }

private:
    CtcDecoder(std::vector<std::string> labels, bool has_space)
        : labels_(std::move(labels)), has_space_(has_space) {}
    std::vector<std::string> labels_;  // labels_[0] is the blank
    bool has_space_ = false;
};

}  // namespace corun::tasks
