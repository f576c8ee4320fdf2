// gguf_quantize IN.gguf OUT.gguf [TYPE]: quantizes a GGUF LLM with llama.cpp's own quantizer,
// llama_model_quantize(), the function llama.cpp's llama-quantize tool is a front end to
// (built here instead of that tool, which would pull in llama.cpp's `common` library).
// TYPE: Q4_K_M (default, what users run Qwen2.5-1.5B as), Q4_0, Q8_0 or F16. Built only for
// the `genai_models` target (`make genai-models`, docs/GENAI.md).
#include <cstdio>
#include <cstring>
#include <thread>

#include "llama.h"

namespace {

// llama.cpp reports every tensor it quantizes; keep warnings and errors only.
void quiet_log(ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

struct NamedType {
    const char* name;
    llama_ftype type;
};
constexpr NamedType kTypes[] = {{"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M},
                                {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},
                                {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},
                                {"F16", LLAMA_FTYPE_MOSTLY_F16}};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: %s IN.gguf OUT.gguf [Q4_K_M|Q4_0|Q8_0|F16]\n", argv[0]);
        return 2;
    }
    const char* type_name = argc == 4 ? argv[3] : "Q4_K_M";
    llama_model_quantize_params params = llama_model_quantize_default_params();
    bool known = false;
    for (const NamedType& type : kTypes) {
        if (std::strcmp(type.name, type_name) == 0) {
            params.ftype = type.type;
            known = true;
        }
    }
    if (!known) {
        std::fprintf(stderr, "gguf_quantize: unknown type '%s'; use Q4_K_M, Q4_0, Q8_0 or F16\n",
                     type_name);
        return 2;
    }
    params.nthread = static_cast<int32_t>(std::thread::hardware_concurrency());
    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    const uint32_t failed = llama_model_quantize(argv[1], argv[2], &params);
    llama_backend_free();
    if (failed != 0) {
        std::fprintf(stderr, "gguf_quantize: quantizing %s to %s failed (see above)\n", argv[1],
                     type_name);
        return 1;
    }
    return 0;
}
