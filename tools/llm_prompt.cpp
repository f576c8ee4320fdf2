#include "llm_prompt.hpp"

#include <iterator>

namespace corun::tools {

Expected<TokenPrompt> prompt_of_tokens(genai::LLM& llm, uint32_t tokens) {
    // Words are added one at a time; a word that would overshoot is swapped for the next one
    // (short words are one token in most vocabularies), so the prompt lands on the count.
    // (A space goes before a word, not after it: a trailing space is a token of its own.)
    static const char* words[] = {"a",     "ship",  "sailed", "past", "the", "harbour",
                                  "light", "while", "gulls",  "rode", "the", "wind"};
    TokenPrompt prompt;
    size_t misses = 0;  // words in a row that would overshoot
    for (size_t next = 0; prompt.tokens < tokens && misses < std::size(words) &&
                          next < 8 * static_cast<size_t>(tokens) + 64;
         ++next) {
        const std::string longer =
            prompt.text + (prompt.text.empty() ? "" : " ") + words[next % std::size(words)];
        CORUN_TRY(const auto longer_tokens, llm.tokenize(longer));
        if (longer_tokens.size() > tokens) {
            ++misses;
            continue;
        }
        prompt = {longer, longer_tokens.size()};
        misses = 0;
    }
    // No word fits in what is left (or the bound came): the longest prompt below the count.
    return prompt;
}

}  // namespace corun::tools
