// A user's program, built against an installed corun only (tests/install): one frame of a
// model, in this process or, given a socket, through corund.
//
//   app MODEL [SERVICE_SOCKET]
//
// Every input is FLOAT32, element i set to (i % 17) * 0.125 - 1 (exact in float, so the test
// can compute what a model such as add_one must return). Prints one line per device of the
// VDevice ("device ID | ARCHITECTURE") and one per output ("output NAME COUNT v0 v1 ..."), every
// value with 9 significant digits. Errors: the status on stderr, exit 2.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "corun/corun.hpp"

namespace {

int fail(const char* what, const corun::Status& status) {
    std::fprintf(stderr, "%s: %s\n", what, status.to_string().c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL [SERVICE_SOCKET]\n", argv[0]);
        return 64;
    }
    corun::VDeviceParams params;
    if (argc == 3) {
        params.multi_process_service = true;
        params.service_socket = argv[2];
    }
    auto vdevice = corun::VDevice::create(params);
    if (!vdevice) return fail("VDevice", vdevice.status());
    auto model = vdevice.value()->create_infer_model(argv[1]);
    if (!model) return fail("create_infer_model", model.status());
    for (const auto& stream : model.value()->inputs()) {
        stream.set_format_type(corun::FormatType::FLOAT32);
    }
    for (const auto& stream : model.value()->outputs()) {
        stream.set_format_type(corun::FormatType::FLOAT32);
    }
    auto configured = model.value()->configure();
    if (!configured) return fail("configure", configured.status());

    std::map<std::string, std::vector<float>> inputs, outputs;
    std::map<std::string, corun::MemoryView> buffers;
    for (const auto& stream : model.value()->inputs()) {
        std::vector<float>& values = inputs[stream.name()];
        values.resize(stream.get_frame_size() / sizeof(float));
        for (size_t i = 0; i < values.size(); ++i) values[i] = float(i % 17) * 0.125f - 1.0f;
        buffers[stream.name()] = corun::MemoryView::of(values);
    }
    for (const auto& stream : model.value()->outputs()) {
        std::vector<float>& values = outputs[stream.name()];
        values.resize(stream.get_frame_size() / sizeof(float));
        buffers[stream.name()] = corun::MemoryView::of(values);
    }
    auto bindings = configured.value().create_bindings(buffers);
    if (!bindings) return fail("create_bindings", bindings.status());
    const corun::Status status = configured.value().run(bindings.value(), std::chrono::seconds(60));
    if (!status) return fail("run", status);

    for (const auto& device : vdevice.value()->physical_devices()) {
        std::printf("device %s | %s\n", device.id.c_str(), device.architecture.c_str());
    }
    for (const auto& [name, values] : outputs) {
        std::printf("output %s %zu", name.c_str(), values.size());
        for (float value : values) std::printf(" %.9g", value);
        std::printf("\n");
    }
    return 0;
}
