// Sanitizer defaults for test binaries that run ONNX Runtime. libonnxruntime.so is a prebuilt,
// uninstrumented library, so the sanitizers misread two things inside it:
// - LeakSanitizer: ONNX Runtime leaks 14 bytes once per process when a session is created (a
//   bare Ort::Session program shows the same);
// - ThreadSanitizer: its intra-op thread pool hands buffers between threads through
//   synchronization TSan cannot see, which shows as races with ONNX Runtime frames only.
// Only reports from inside ONNX Runtime are suppressed; corun's own are still reported.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORUN_TEST_LSAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORUN_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CORUN_TEST_LSAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define CORUN_TEST_TSAN 1
#endif

#ifdef CORUN_TEST_LSAN
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libonnxruntime.so\n";
}
// The suppression above matches in every process that made a session; listing it at exit
// would add lines to the stderr that CLI tests read.
extern "C" const char* __lsan_default_options() {
    return "print_suppressions=0";
}
#endif

#ifdef CORUN_TEST_TSAN
extern "C" const char* __tsan_default_suppressions() {
    // gRPC, absl and protobuf from Debian are not instrumented either (corund and its clients).
    return "race:libonnxruntime.so\n"
           "race:libgrpc\n"
           "race:libgpr\n"
           "race:libabsl\n"
           "race:libprotobuf\n"
           // GDAL (OpenCV's imread of some formats) takes its own mutexes in orders TSan
           // reports as an inversion; uninstrumented, and not ours.
           "deadlock:libgdal.so\n"
           // cv::Mat::zeros returns a MatExpr over a singleton OpenCV creates on first use
           // inside its (uninstrumented) library; the read of it is inlined into our code.
           "race:cv::MatExpr::operator cv::Mat\n"
           // gRPC's C++ headers, inlined into our binaries, read what its uninstrumented core
           // threads wrote (the status message of a finished call).
           "race:grpc::internal::CallOpClientRecvStatus::FinishOp\n"
           // Names that match one library each: TSan refuses to start on an ambiguous one.
           "called_from_lib:libgrpc.so\n"
           "called_from_lib:libgrpc++.so\n";
}
#endif
