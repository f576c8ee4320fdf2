// Whether a request's bearer token is the configured one, compared in constant time (the time
// taken does not tell an attacker how many leading characters were right). Both fronts, REST and
// gRPC, check tokens with it.
#pragma once

#include <string_view>

namespace corun::serving {

inline bool same_token(std::string_view given, std::string_view expected) {
    if (expected.empty()) return given.empty();  // (the loop below indexes `expected`)
    unsigned char difference = given.size() == expected.size() ? 0 : 1;
    for (size_t i = 0; i < given.size(); ++i) {
        difference |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
    }
    return difference == 0;
}

}  // namespace corun::serving
