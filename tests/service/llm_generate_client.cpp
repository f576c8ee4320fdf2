// A client process for service_llm_test: loads an LLM through corund and generates without end,
// so that the test can kill it (kill -9) in the middle of a generation.
// Usage: llm_generate_client SOCKET GROUP_ID GGUF. Prints "generating" (one line, flushed) once
// the first piece of text arrived; exits 2 when something fails before that.
#include <cstdio>
#include <string>

#include "corun/genai/llm.hpp"
#include "corun/vdevice.hpp"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s SOCKET GROUP_ID GGUF\n", argv[0]);
        return 2;
    }
    corun::VDeviceParams params;
    params.multi_process_service = true;
    params.service_socket = argv[1];
    params.group_id = argv[2];
    auto vdevice = corun::VDevice::create(params);
    if (!vdevice) {
        std::fprintf(stderr, "VDevice: %s\n", vdevice.status().to_string().c_str());
        return 2;
    }
    corun::genai::LLMParams llm_params;
    llm_params.threads = 1;
    llm_params.context_size = 4096;
    auto llm = corun::genai::LLM::create(*vdevice.value(), argv[3], llm_params);
    if (!llm) {
        std::fprintf(stderr, "LLM: %s\n", llm.status().to_string().c_str());
        return 2;
    }
    auto generator = llm.value()->create_generator_params();
    generator.max_generated_tokens = 1u << 20;  // until the context is full
    bool said = false;
    for (;;) {
        auto completion = llm.value()->generate(generator, "Once upon a time");
        if (!completion) {
            // The context is full: start over.
            if (!llm.value()->clear_context().is_ok()) return 2;
            continue;
        }
        for (;;) {
            auto piece = completion.value().read();
            if (!piece) break;
            if (!said) {
                std::printf("generating\n");
                std::fflush(stdout);
                said = true;
            }
        }
        if (!llm.value()->clear_context().is_ok()) return 2;
    }
}
