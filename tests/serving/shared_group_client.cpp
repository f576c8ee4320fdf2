// A corund client on the default device group (what an application with VDeviceParams{} and
// multi_process_service gets), for serving_http_test: it configures MODEL through corund's Unix
// socket, prints "configured", and holds the model until its stdin closes. The test checks that
// the model joins the scheduler the HTTP front's models are in.
//
//   shared_group_client SOCKET MODEL
#include <cstdio>
#include <iostream>
#include <string>

#include "corun/corun.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: shared_group_client SOCKET MODEL\n");
        return 2;
    }
    corun::VDeviceParams params;
    params.multi_process_service = true;
    params.service_socket = argv[1];
    auto vdevice = corun::VDevice::create(params);
    if (!vdevice) {
        std::fprintf(stderr, "%s\n", vdevice.status().to_string().c_str());
        return 1;
    }
    auto model = vdevice.value()->create_infer_model(std::string(argv[2]));
    if (!model) {
        std::fprintf(stderr, "%s\n", model.status().to_string().c_str());
        return 1;
    }
    auto configured = model.value()->configure();
    if (!configured) {
        std::fprintf(stderr, "%s\n", configured.status().to_string().c_str());
        return 1;
    }
    std::printf("configured\n");
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    return 0;
}
