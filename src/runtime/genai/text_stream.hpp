// Turns the bytes of generated tokens into text a reader may have: whole UTF-8 characters only
// (a token may end inside one), and nothing that could be the start of a stop sequence until
// the following tokens show that it is not.
#pragma once

#include <string>
#include <vector>

namespace corun::genai::detail {

class TextStream {
public:
    explicit TextStream(std::vector<std::string> stop_sequences);

    // Adds one token's bytes; returns the text that may be released now.
    std::string add(const std::string& token_bytes);
    // True once the text ended with a stop sequence (which is never released).
    bool stopped() const { return stopped_; }
    // At the end of generation: what was held back (an incomplete character is dropped).
    std::string flush();

private:
    // Bytes at the end of held_ that are an incomplete UTF-8 character.
    size_t incomplete_tail() const;

    std::vector<std::string> stop_sequences_;
    std::string held_;  // text not yet released
    bool stopped_ = false;
};

}  // namespace corun::genai::detail
