// libFuzzer target for the generate extension's request decoding (src/serving/generate_codec.hpp)
// exactly as the REST front hands the body over. Whatever the bytes: no crash, no undefined
// behaviour, a refusal always has a reason, and a decoded request keeps its promises (bounds on
// max_tokens and the stop sequences, non-empty stops); the answer and the stream events encoded
// from it (its prompt as the text, which may hold any bytes) are JSON that parses back.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_fail.hpp"
#include "serving/generate_codec.hpp"

namespace {

void check_parses(const std::string& text) {
    if (!nlohmann::json::accept(text)) fail("encoded JSON that does not parse");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly the body's bytes, so that ASan sees any read past its end.
    const std::string body(reinterpret_cast<const char*>(data), size);
    auto request = corun::serving::decode_generate_request(body);
    if (!request) {
        if (request.status().message().empty()) fail("a refusal without a reason");
        return 0;
    }
    const auto& decoded = request.value();
    if (decoded.max_tokens == 0 || decoded.max_tokens > corun::serving::MAX_GENERATE_TOKENS) {
        fail("max_tokens out of its bounds");
    }
    if (decoded.stop.size() > corun::serving::MAX_STOP_SEQUENCES) fail("too many stop sequences");
    for (const auto& stop : decoded.stop) {
        if (stop.empty()) fail("an empty stop sequence");
    }
    corun::serving::GenerateResponse response{"m", "1", decoded.id, decoded.text_input,
                                              1,   2,   "length"};
    check_parses(corun::serving::encode_generate_response(response));
    for (bool last : {false, true}) {
        const std::string event = corun::serving::encode_generate_event(response, last);
        if (event.rfind("data: ", 0) != 0 || event.size() < 8 ||
            event.compare(event.size() - 2, 2, "\n\n") != 0) {
            fail("an event that is not one data: line");
        }
        check_parses(event.substr(6, event.size() - 8));
    }
    return 0;
}
