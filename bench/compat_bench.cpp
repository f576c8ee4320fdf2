// What the HailoRT compatibility header and pix buffers cost (issue 14), with Google Benchmark:
//  - BM_RunAsyncAndWait/native and /compat: one frame of the add_one test model (48 floats, so
//    the device's own time is small beside the call path) through corun's API and through
//    hailo/hailort.hpp: create nothing, run_async + wait per iteration. The difference is what
//    the compatibility layer adds per frame.
//  - BM_SetPixBuffer/<layout>: set_pix_buffer of an NV12 (0) or I420 (1) frame on a 416 x 416
//    input, NCHW FLOAT32 (NanoDet's), and on a 416 x 416 NHWC UINT8 input: the YUV -> RGB
//    conversion and, for the first, the transposition to planar floats.
//
//   compat_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <chrono>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "corun/corun.hpp"
#include "hailo/hailort.hpp"

namespace {

const std::string ADD_ONE = std::string(CORUN_TEST_MODEL_DIR) + "/add_one.onnx";
const std::string NANODET = std::string(CORUN_CACHE_DIR) + "/models/nanodet/nanodet.onnx";

void BM_RunAsyncAndWaitNative(benchmark::State& state) {
    corun::VDeviceParams params;
    params.group_id = "compat-bench-native";
    auto vdevice = corun::VDevice::create(params).release();
    auto model = vdevice->create_infer_model(ADD_ONE).release();
    auto configured = model->configure().release();
    auto bindings = configured.create_bindings().release();
    std::vector<float> input(48, 1.0f), output(48);
    (void)bindings.input()->set_buffer(corun::MemoryView::of(input));
    (void)bindings.output()->set_buffer(corun::MemoryView::of(output));
    for (auto _ : state) {
        auto job = configured.run_async(bindings).release();
        if (!job.wait(std::chrono::seconds(10)).is_ok()) state.SkipWithError("inference failed");
    }
}
BENCHMARK(BM_RunAsyncAndWaitNative)->Name("BM_RunAsyncAndWait/native")->UseRealTime();

void BM_RunAsyncAndWaitCompat(benchmark::State& state) {
    hailo_vdevice_params_t params;
    hailo_init_vdevice_params(&params);
    params.group_id = "compat-bench-compat";
    auto vdevice = hailort::VDevice::create(params).expect("vdevice");
    auto model = vdevice->create_infer_model(ADD_ONE).expect("model");
    auto configured = model->configure().expect("configure");
    auto bindings = configured.create_bindings().expect("bindings");
    std::vector<float> input(48, 1.0f), output(48);
    (void)bindings.input()->set_buffer(hailort::MemoryView(input.data(), 192));
    (void)bindings.output()->set_buffer(hailort::MemoryView(output.data(), 192));
    for (auto _ : state) {
        auto job = configured.run_async(bindings).expect("run_async");
        if (job.wait(std::chrono::seconds(10)) != HAILO_SUCCESS)
            state.SkipWithError("inference failed");
    }
}
BENCHMARK(BM_RunAsyncAndWaitCompat)->Name("BM_RunAsyncAndWait/compat")->UseRealTime();

// arg 0: 0 = NV12, 1 = I420; arg 1: 0 = NanoDet's NCHW FLOAT32 input, 1 = the same as UINT8 NHWC.
void BM_SetPixBuffer(benchmark::State& state) {
    const auto layout = state.range(0) == 0 ? corun::PixelLayout::NV12 : corun::PixelLayout::I420;
    corun::VDeviceParams params;
    params.group_id = "compat-bench-pix";
    auto vdevice = corun::VDevice::create(params).release();
    auto loaded = vdevice->create_infer_model(NANODET);
    if (!loaded) {
        state.SkipWithError((NANODET + " is missing; run scripts/fetch_models.sh").c_str());
        return;
    }
    auto model = loaded.release();
    if (state.range(1) == 1) {
        model->input()->set_format_type(corun::FormatType::UINT8);
        model->input()->set_format_order(corun::FormatOrder::NHWC);
    }
    auto configured = model->configure().release();
    auto bindings = configured.create_bindings().release();
    const size_t side = 416, luma = side * side;
    std::vector<uint8_t> frame(luma * 3 / 2);
    for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i * 7);
    const corun::PixBuffer pix{layout, {{frame.data(), frame.size()}}};
    for (auto _ : state) {
        if (!bindings.input()->set_pix_buffer(pix).is_ok())
            state.SkipWithError("set_pix_buffer failed");
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * luma));  // pixels
}
BENCHMARK(BM_SetPixBuffer)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMicrosecond);

}  // namespace
