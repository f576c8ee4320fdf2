// The cpu device's default threads (intra_op_threads 0): one process-wide ONNX Runtime pool,
// as large as the pool ONNX Runtime gives a session with default options on this machine, so
// that corun's "default threads" and bare ONNX Runtime's are the same configuration
// (docs/PERFORMANCE.md, issue 10: on a VM where ORT detects one core, a pool of
// hardware_concurrency() threads made every frame slower than bare ORT).
#include <dirent.h>

#include <gtest/gtest.h>
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::test_model;
using test::unique_group;

// Threads of this process now. Each test case runs in a process of its own (ctest), and the
// counts below are taken while no other thread of the test starts or ends.
int thread_count() {
    int count = 0;
    DIR* tasks = opendir("/proc/self/task");
    if (tasks == nullptr) return -1;
    while (const dirent* entry = readdir(tasks)) count += entry->d_name[0] != '.';
    closedir(tasks);
    return count;
}

// Runs add_one through corun once, so that the device, its sessions and ORT's pool all exist.
void run_add_one(ConfiguredInferModel& configured) {
    std::vector<float> input(48, 1.f), output(48, 0.f);  // 1x3x4x4
    auto bindings =
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}});
    ASSERT_OK(bindings);
    ASSERT_OK(configured.run(*bindings, std::chrono::seconds(10)));
    EXPECT_EQ(output[0], 2.f);
}

TEST(CpuDeviceTest, DefaultThreadsAreOnnxRuntimesDefault) {
    VDeviceParams params;
    params.group_id = unique_group("cpu-default-threads");
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    run_add_one(configured);
    const auto devices = vdevice->physical_devices();
    ASSERT_EQ(devices.size(), 1u);

    // A bare session with ONNX Runtime's default options gets a pool of its own (corun's
    // environment is the process's; only corun's sessions opt into its shared pool): the
    // threads it starts are that pool's workers, the caller's thread being the last one.
    Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "cpu_device_test");
    // A first session, destroyed at once, lets whatever starts lazily with a process's first
    // session of its own (ThreadSanitizer's background thread, in the TSan build) start
    // before the count: only the second session's pool is counted.
    { Ort::Session warm_up(env, test_model("add_one.onnx").c_str(), Ort::SessionOptions{}); }
    const int before = thread_count();
    Ort::Session bare(env, test_model("add_one.onnx").c_str(), Ort::SessionOptions{});
    const int bare_workers = thread_count() - before;
    ASSERT_GE(bare_workers, 0);
    EXPECT_EQ(devices[0].threads, static_cast<uint32_t>(bare_workers) + 1)
        << "corun's default pool and a default ONNX Runtime session differ in size";
    EXPECT_LE(devices[0].threads, devices[0].cores);
}

// Each model with the default count has a pool of its own of ONNX Runtime's default size (the
// caller's thread and size - 1 workers), not one process-wide pool for all (whose unbounded
// spinning took the cores of the frames beside it: docs/PERFORMANCE.md). How long the pool
// spins is ONNX Runtime's setting, measured by sharing_bench, not here.
TEST(CpuDeviceTest, DefaultThreadModelsEachHaveAPoolOfTheDefaultSize) {
    VDeviceParams params;
    params.group_id = unique_group("cpu-default-pools");
    params.cpu.execution_slots = 1;  // fixed slots: no one-core session built beside
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    const auto devices = vdevice->physical_devices();
    ASSERT_EQ(devices.size(), 1u);
    if (devices[0].threads < 2) {
        // A pool of one thread has no workers: one shared pool and a pool per model would both
        // add none, and the check below could not tell them apart.
        GTEST_SKIP() << "ONNX Runtime's default here is one thread";
    }
    ASSERT_OK_AND_ASSIGN(auto first, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto first_configured, first->configure());
    run_add_one(first_configured);
    const int before = thread_count();
    ASSERT_OK_AND_ASSIGN(auto second, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto second_configured, second->configure());
    run_add_one(second_configured);
    EXPECT_EQ(thread_count() - before, static_cast<int>(devices[0].threads) - 1);
}

TEST(CpuDeviceTest, AnExplicitCountIsReported) {
    VDeviceParams params;
    params.group_id = unique_group("cpu-explicit-threads");
    params.cpu.intra_op_threads = 3;
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    const auto devices = vdevice->physical_devices();
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].threads, 3u);
}

}  // namespace
}  // namespace corun
