#include "runtime/genai/text_stream.hpp"

#include <algorithm>

namespace corun::genai::detail {

TextStream::TextStream(std::vector<std::string> stop_sequences) {
    for (auto& stop : stop_sequences) {
        if (!stop.empty()) stop_sequences_.push_back(std::move(stop));
    }
}

size_t TextStream::incomplete_tail() const {
    // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
    size_t back = 0;
    while (back < held_.size() && back < 4 &&
           (static_cast<unsigned char>(held_[held_.size() - 1 - back]) & 0xC0) == 0x80) {
        ++back;
    }
    if (back == held_.size()) return back;  // only continuation bytes: wait for more
    const auto lead = static_cast<unsigned char>(held_[held_.size() - 1 - back]);
    size_t length = 1;
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
    }
    return back + 1 < length ? back + 1 : 0;
}

std::string TextStream::add(const std::string& token_bytes) {
    if (stopped_) return {};
    held_ += token_bytes;
    for (const auto& stop : stop_sequences_) {
        const size_t found = held_.find(stop);
        if (found != std::string::npos) {
            stopped_ = true;
            std::string released = held_.substr(0, found);
            held_.clear();
            return released;
        }
    }
    // Hold back the longest tail that is a proper prefix of a stop sequence, and an incomplete
    // character.
    size_t hold = incomplete_tail();
    for (const auto& stop : stop_sequences_) {
        for (size_t length = std::min(stop.size() - 1, held_.size()); length > hold; --length) {
            if (held_.compare(held_.size() - length, length, stop, 0, length) == 0) {
                hold = length;
                break;
            }
        }
    }
    std::string released = held_.substr(0, held_.size() - hold);
    held_.erase(0, held_.size() - hold);
    return released;
}

std::string TextStream::flush() {
    if (stopped_) return {};
    held_.resize(held_.size() - incomplete_tail());
    std::string released;
    released.swap(held_);
    return released;
}

}  // namespace corun::genai::detail
