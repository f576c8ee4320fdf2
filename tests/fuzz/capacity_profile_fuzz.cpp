// libFuzzer target for the capacity profile reader (`corun plan --profile FILE`,
// CapacityPlanner::from_file; src/router/capacity_profile.hpp): a file anyone may hand over.
// Beyond "no crash, no leak, no undefined behaviour" it checks, when a profile is accepted: what
// capacity_profile_to_json writes for it reads back, with the same sections, models and
// measured lists. Errors must carry a message. Seeds: tests/fuzz/capacity_profile_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_fail.hpp"
#include "router/capacity_profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto profile = corun::router::parse_capacity_profile(text);
    if (!profile) {
        if (profile.status().message().empty()) fail("an error without a message");
        return 0;
    }
    const auto again =
        corun::router::parse_capacity_profile(corun::router::capacity_profile_to_json(*profile));
    if (!again) fail("a profile it accepted does not read back from what it writes");
    if (again->devices.size() != profile->devices.size()) fail("sections changed");
    for (const auto& [kind, section] : profile->devices) {
        const auto found = again->devices.find(kind);
        if (found == again->devices.end()) fail("a section went missing");
        const corun::router::DeviceProfile& back = found->second;
        if (back.model_names() != section.model_names()) fail("models changed");
        if (back.frame_spread != section.frame_spread) fail("a frame spread changed");
        if (back.model_interference != section.model_interference) fail("an interference changed");
        if (back.one_burst_per_model != section.one_burst_per_model) fail("one burst changed");
    }
    return 0;
}
