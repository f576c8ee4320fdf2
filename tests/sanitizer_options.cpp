// Sanitizer defaults for test binaries that run ONNX Runtime. libonnxruntime.so is a prebuilt,
// uninstrumented library: it leaks 14 bytes once per process when a session is created (a bare
// Ort::Session program shows the same), which LeakSanitizer would report as a test failure.
// Only leaks allocated inside ONNX Runtime are suppressed; corun's own are still reported.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORUN_TEST_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CORUN_TEST_LSAN 1
#endif

#ifdef CORUN_TEST_LSAN
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libonnxruntime.so\n";
}
#endif
