// VDevice: scanning, creating handles of device groups, sharing within a group, params
// validation, and the group's lifetime.
#include "corun/vdevice.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;
using test::test_model;
using test::unique_group;

VDeviceParams group_params(const std::string& prefix) {
    VDeviceParams params;
    params.group_id = unique_group(prefix);
    return params;
}

TEST(VDeviceTest, ScanListsTheCpu) {
    ASSERT_OK_AND_ASSIGN(auto devices, VDevice::scan());
    const auto found = std::find_if(devices.begin(), devices.end(),
                                    [](const DeviceDescription& d) { return d.id == "cpu:0"; });
    ASSERT_NE(found, devices.end()) << "scan() lists no cpu:0";
    const DeviceDescription& cpu = *found;
    EXPECT_EQ(cpu.id, "cpu:0");
    EXPECT_EQ(cpu.kind, "cpu");
    EXPECT_EQ(cpu.status, "available");
    EXPECT_GE(cpu.cores, 1u);
    // intra_op_threads 0 = ONNX Runtime's default count (cpu_device_test compares it with a bare
    // session's): one per physical core as ORT detects them, at least one.
    EXPECT_GE(cpu.threads, 1u);
    EXPECT_TRUE(contains(cpu.architecture, "ONNX Runtime")) << cpu.architecture;
}

TEST(VDeviceTest, CreateWithDefaultParams) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    ASSERT_NE(vdevice, nullptr);
    EXPECT_EQ(vdevice->group_id(), DEFAULT_GROUP_ID);
    EXPECT_EQ(vdevice->group_id(), "SHARED");
    EXPECT_EQ(vdevice->params().group_id, "SHARED");
    EXPECT_EQ(vdevice->params().device_count, 1u);
    EXPECT_TRUE(vdevice->params().device_ids.empty());
    EXPECT_EQ(vdevice->params().scheduling_algorithm, SchedulingAlgorithm::ROUND_ROBIN);
    const auto devices = vdevice->physical_devices();
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].id, "cpu:0");
    EXPECT_EQ(devices[0].kind, "cpu");
}

TEST(VDeviceTest, ParamsAreKept) {
    VDeviceParams params = group_params("params");
    params.device_ids = {"cpu:0"};
    params.cpu.intra_op_threads = 1;
    params.cpu.execution_slots = 3;
    params.scheduling_algorithm = SchedulingAlgorithm::NONE;
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    EXPECT_EQ(vdevice->group_id(), params.group_id);
    EXPECT_EQ(vdevice->params().device_ids, std::vector<std::string>{"cpu:0"});
    EXPECT_EQ(vdevice->params().cpu.intra_op_threads, 1u);
    EXPECT_EQ(vdevice->params().cpu.execution_slots, 3u);
    EXPECT_EQ(vdevice->params().scheduling_algorithm, SchedulingAlgorithm::NONE);
    const auto devices = vdevice->physical_devices();
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].id, "cpu:0");
    EXPECT_EQ(devices[0].threads, 1u);
}

TEST(VDeviceTest, CreateTwiceWithOneGroupSharesDevices) {
    const VDeviceParams params = group_params("twice");
    ASSERT_OK_AND_ASSIGN(auto first, VDevice::create(params));
    ASSERT_OK_AND_ASSIGN(auto second, VDevice::create(params));
    EXPECT_NE(first.get(), second.get());              // two handles...
    EXPECT_TRUE(first->shares_devices_with(*second));  // ...of one group
    EXPECT_TRUE(second->shares_devices_with(*first));
    EXPECT_TRUE(first->shares_devices_with(*first));

    ASSERT_OK_AND_ASSIGN(auto other, VDevice::create(group_params("twice-other")));
    EXPECT_FALSE(first->shares_devices_with(*other));
    EXPECT_FALSE(other->shares_devices_with(*second));
}

TEST(VDeviceTest, CreateSharedReturnsOneObjectPerGroup) {
    const VDeviceParams params = group_params("shared");
    ASSERT_OK_AND_ASSIGN(auto first, VDevice::create_shared(params));
    ASSERT_OK_AND_ASSIGN(auto second, VDevice::create_shared(params));
    EXPECT_EQ(first.get(), second.get());

    ASSERT_OK_AND_ASSIGN(auto other, VDevice::create_shared(group_params("shared-other")));
    EXPECT_NE(first.get(), other.get());
    EXPECT_FALSE(first->shares_devices_with(*other));

    // A plain handle of the same group drives the same devices.
    ASSERT_OK_AND_ASSIGN(auto plain, VDevice::create(params));
    EXPECT_TRUE(plain->shares_devices_with(*first));
}

TEST(VDeviceTest, CreateSharedAfterTheLastHandleIsGoneMakesANewOne) {
    const VDeviceParams params = group_params("shared-again");
    { ASSERT_OK_AND_ASSIGN(auto first, VDevice::create_shared(params)); }
    VDeviceParams changed = params;
    changed.cpu.execution_slots = 2;  // allowed now: the group is closed
    ASSERT_OK_AND_ASSIGN(auto again, VDevice::create_shared(changed));
    EXPECT_EQ(again->params().cpu.execution_slots, 2u);
    ASSERT_OK_AND_ASSIGN(auto same, VDevice::create_shared(changed));
    EXPECT_EQ(same.get(), again.get());
}

TEST(VDeviceTest, ConflictingParamsForALiveGroupNameTheGroup) {
    VDeviceParams params = group_params("conflict");
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));

    VDeviceParams conflicting = params;
    conflicting.cpu.execution_slots = 2;
    auto refused = VDevice::create(conflicting);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(refused.status().message(), "'" + params.group_id + "'"))
        << refused.status();
    EXPECT_TRUE(contains(refused.status().message(), "cpu slots 2")) << refused.status();

    auto refused_shared = VDevice::create_shared(conflicting);
    ASSERT_FALSE(refused_shared.has_value());
    EXPECT_EQ(refused_shared.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(refused_shared.status().message(), params.group_id));

    VDeviceParams other_algorithm = params;
    other_algorithm.scheduling_algorithm = SchedulingAlgorithm::NONE;
    EXPECT_STATUS(VDevice::create(other_algorithm), StatusCode::INVALID_ARGUMENT);
    VDeviceParams other_threads = params;
    other_threads.cpu.intra_op_threads = 1;
    EXPECT_STATUS(VDevice::create(other_threads), StatusCode::INVALID_ARGUMENT);

    // device_ids {"cpu:0"} and device_count 1 name the same devices: not a conflict.
    VDeviceParams same_devices = params;
    same_devices.device_ids = {"cpu:0"};
    ASSERT_OK_AND_ASSIGN(auto same, VDevice::create(same_devices));
    EXPECT_TRUE(same->shares_devices_with(*vdevice));
}

TEST(VDeviceTest, CreateSharedChecksParamsOfALiveSharedHandle) {
    VDeviceParams params = group_params("shared-conflict");
    ASSERT_OK_AND_ASSIGN(auto shared, VDevice::create_shared(params));
    VDeviceParams conflicting = params;
    conflicting.cpu.execution_slots = 4;
    EXPECT_STATUS(VDevice::create_shared(conflicting), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(VDevice::create(conflicting), StatusCode::INVALID_ARGUMENT);
}

TEST(VDeviceTest, InvalidParamsAreRefused) {
    VDeviceParams empty_group;
    empty_group.group_id = "";
    auto no_group = VDevice::create(empty_group);
    EXPECT_EQ(no_group.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(no_group.status().message(), "group_id")) << no_group.status();

    VDeviceParams zero_devices = group_params("zero");
    zero_devices.device_count = 0;
    auto zero = VDevice::create(zero_devices);
    EXPECT_EQ(zero.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(zero.status().message(), "device_count")) << zero.status();

    VDeviceParams long_hold = group_params("long-hold");
    long_hold.scheduler.anticipation = std::chrono::milliseconds(20);
    auto held = VDevice::create(long_hold);
    EXPECT_EQ(held.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(held.status().message(), "scheduler.anticipation is 20000 us"))
        << held.status();
    EXPECT_TRUE(contains(held.status().message(), "0..10000 us")) << held.status();

    VDeviceParams unknown = group_params("unknown");
    unknown.device_ids = {"quantum:7"};
    auto no_such_kind = VDevice::create(unknown);
    EXPECT_EQ(no_such_kind.status().code(), StatusCode::NOT_FOUND) << no_such_kind.status();
    EXPECT_TRUE(contains(no_such_kind.status().message(), "quantum:7")) << no_such_kind.status();

    VDeviceParams second_cpu = group_params("second-cpu");
    second_cpu.device_ids = {"cpu:1"};
    auto no_such_cpu = VDevice::create(second_cpu);
    EXPECT_EQ(no_such_cpu.status().code(), StatusCode::NOT_FOUND) << no_such_cpu.status();
    EXPECT_TRUE(contains(no_such_cpu.status().message(), "cpu:1")) << no_such_cpu.status();

    VDeviceParams two_cpus = group_params("two-cpus");
    two_cpus.device_count = 2;  // cpu:0 and cpu:1; the cpu kind has only one
    EXPECT_STATUS(VDevice::create(two_cpus), StatusCode::NOT_FOUND);

    VDeviceParams twice = group_params("listed-twice");
    twice.device_ids = {"cpu:0", "cpu:0"};
    auto duplicate = VDevice::create(twice);
    EXPECT_EQ(duplicate.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(duplicate.status().message(), "twice")) << duplicate.status();

    VDeviceParams many_slots = group_params("many-slots");
    many_slots.cpu.execution_slots = 65;
    auto slots = VDevice::create(many_slots);
    EXPECT_EQ(slots.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(slots.status().message(), "execution_slots")) << slots.status();

    VDeviceParams many_threads = group_params("many-threads");
    many_threads.cpu.intra_op_threads = 5000;
    EXPECT_STATUS(VDevice::create_shared(many_threads), StatusCode::INVALID_ARGUMENT);
}

TEST(VDeviceTest, AFailedCreateLeavesNoGroupBehind) {
    VDeviceParams bad = group_params("failed");
    bad.cpu.execution_slots = 65;
    EXPECT_STATUS(VDevice::create(bad), StatusCode::INVALID_ARGUMENT);
    VDeviceParams good = bad;
    good.cpu.execution_slots = 2;
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(good));
    EXPECT_EQ(vdevice->params().cpu.execution_slots, 2u);
}

TEST(VDeviceTest, GroupClosesWithItsLastHandle) {
    VDeviceParams params = group_params("lifetime");
    { ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params)); }
    params.cpu.execution_slots = 2;  // different params: fine once the group is closed
    ASSERT_OK_AND_ASSIGN(auto reopened, VDevice::create(params));
    EXPECT_EQ(reopened->params().cpu.execution_slots, 2u);
}

TEST(VDeviceTest, GroupLivesWhileAConfiguredModelUsesIt) {
    VDeviceParams params = group_params("model-keeps-group");
    std::shared_ptr<InferModel> model;
    {
        ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
        ASSERT_OK_AND_ASSIGN(model, vdevice->create_infer_model(test_model("add_one.onnx")));
    }
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    model.reset();

    // The group is still open, so other params are refused...
    VDeviceParams conflicting = params;
    conflicting.cpu.execution_slots = 2;
    EXPECT_STATUS(VDevice::create(conflicting), StatusCode::INVALID_ARGUMENT);

    // ...and the configured model still runs on it.
    std::vector<float> input(48), output(48, -1.0f);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, std::chrono::seconds(10)));
    for (size_t i = 0; i < output.size(); ++i) EXPECT_EQ(output[i], input[i] + 1.0f) << i;
}

TEST(VDeviceTest, CreateInferModelFromFileFillsModelInfo) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    const std::string path = test_model("add_one.onnx");
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(path));
    const ModelInfo& info = model->info();
    EXPECT_EQ(info.name, "add_one");
    EXPECT_EQ(info.path, path);
    EXPECT_EQ(info.file_size, std::filesystem::file_size(path));
    EXPECT_EQ(info.ir_version, 8);
    ASSERT_EQ(info.opsets.count(""), 1u);
    EXPECT_EQ(info.opsets.at(""), 17);
    EXPECT_EQ(info.producer, "corun-test-models 1");
    EXPECT_EQ(info.parameter_count, 1);  // the constant "one"
}

TEST(VDeviceTest, CreateInferModelFromBytes) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    const auto bytes = test::read_bytes(test_model("metadata_quant.onnx"));
    ASSERT_FALSE(bytes.empty());
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(bytes, "from_memory"));
    EXPECT_EQ(model->info().name, "from_memory");
    EXPECT_EQ(model->info().path, "");
    EXPECT_EQ(model->info().file_size, bytes.size());
    EXPECT_EQ(model->info().metadata.at("corun.quant.raw_in"), "0.1,128");
    EXPECT_EQ(model->get_input_names(), std::vector<std::string>{"raw_in"});
}

TEST(VDeviceTest, NoSchedulerGroupRunsInference) {
    VDeviceParams params = group_params("no-scheduler");
    params.scheduling_algorithm = SchedulingAlgorithm::NONE;
    params.cpu.execution_slots = 4;  // NONE runs one model at a time regardless
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    ASSERT_OK_AND_ASSIGN(auto model,
                         vdevice->create_infer_model(test_model("two_in_two_out.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> a(8), b(8), sum(8), product(8);
    for (int i = 0; i < 8; ++i) a[i] = static_cast<float>(i), b[i] = static_cast<float>(i - 3);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"a", MemoryView::of(a)},
                                                     {"b", MemoryView::of(b)},
                                                     {"sum", MemoryView::of(sum)},
                                                     {"product", MemoryView::of(product)}}));
    ASSERT_OK(configured.run(bindings, std::chrono::seconds(10)));
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(sum[i], static_cast<float>(2 * i - 3));
        EXPECT_EQ(product[i], static_cast<float>(i * (i - 3)));
    }
}

}  // namespace
}  // namespace corun
