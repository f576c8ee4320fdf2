#include "llm_prompt.hpp"

#include <iterator>

namespace corun::tools {

Expected<std::string> prompt_of_tokens(genai::LLM& llm, uint32_t tokens) {
    // Words are added one at a time; a word that would overshoot is swapped for the next one
    // (short words are one token in most vocabularies), so the prompt lands on the count.
    // (A space goes before a word, not after it: a trailing space is a token of its own.)
    static const char* words[] = {"a",     "ship",  "sailed", "past", "the", "harbour",
                                  "light", "while", "gulls",  "rode", "the", "wind"};
    std::string prompt;
    size_t counted = 0;
    for (size_t next = 0; counted < tokens && next < 8 * static_cast<size_t>(tokens) + 64;) {
        bool fitted = false;
        for (size_t attempt = 0; attempt < std::size(words) && !fitted; ++attempt, ++next) {
            const std::string longer =
                prompt + (prompt.empty() ? "" : " ") + words[next % std::size(words)];
            CORUN_TRY(const auto longer_tokens, llm.tokenize(longer));
            if (longer_tokens.size() > tokens) continue;
            prompt = longer;
            counted = longer_tokens.size();
            fitted = true;
        }
        if (!fitted) break;  // no word fits in what is left: the longest prompt below it
    }
    return prompt;
}

}  // namespace corun::tools
