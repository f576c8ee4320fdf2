// libFuzzer target for what corund does with a model's bytes before ONNX Runtime sees them:
// the bytes as a LoadModelRequest (as they arrive), then its model through our ONNX reader
// (bounds-checked; the walk to every external-data tensor, subgraphs included, depth-bounded)
// and the check that every file the model names was sent with it. The same bytes are also read
// as a bare ONNX file. ONNX Runtime itself is not fuzzed here (it is not instrumented).
// Fails on an error without a message, on an external location that is empty or repeated, and
// on a model naming files that passes the check with none of them sent.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "corun_service.pb.h"
#include "fuzz_fail.hpp"
#include "onnx/onnx_model_file.hpp"
#include "runtime/external_data.hpp"

namespace {

void check_model(std::span<const uint8_t> bytes,
                 const std::vector<corun::devices::ExternalDataFile>& sent) {
    auto model = corun::onnx::read_onnx_model(bytes);
    if (!model) {
        if (model.status().message().empty()) fail("a reader error without a message");
        return;
    }
    std::set<std::string> seen;
    for (const auto& location : model->external_data_locations) {
        if (location.empty()) fail("an empty external location was accepted");
        if (!seen.insert(location).second) fail("an external location listed twice");
    }
    const corun::Status nothing_sent =
        corun::runtime::check_external_data_provided(model->external_data_locations, {}, "fuzz");
    if (nothing_sent.is_ok() != model->external_data_locations.empty()) {
        fail("a model naming files passed with none sent, or one naming none failed");
    }
    const corun::Status checked =
        corun::runtime::check_external_data_provided(model->external_data_locations, sent, "fuzz");
    if (!checked.is_ok() && checked.message().empty()) fail("a check error without a message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // protobuf logs every string field that is not UTF-8; here that is most inputs.
    static const bool quiet = [] {
        google::protobuf::SetLogHandler(nullptr);
        return true;
    }();
    (void)quiet;
    check_model(std::span<const uint8_t>(data, size), {});
    corun::service::v1::LoadModelRequest request;
    if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
    std::vector<corun::devices::ExternalDataFile> sent;
    for (const auto& file : request.external_data()) {
        sent.push_back(
            {file.location(), std::vector<uint8_t>(file.content().begin(), file.content().end())});
    }
    const auto& onnx = request.onnx();
    check_model(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(onnx.data()), onnx.size()), sent);
    return 0;
}
