// Routed models over npu-sim + cpu with a real zoo model (BlazeFace, models/manifest.json; the
// NPU timing from a profile this test writes): npu-sim saturated -> frames go to cpu; npu-sim
// failing (the fault-injection test double) -> taken out after N failures, probed back in when
// it returns; removed -> everything on cpu, restored -> back; a model npu-sim cannot load runs on
// cpu and the log says why; bad input gets a clear Status. In every case each frame completes
// exactly once, its outputs equal a cpu-only run's byte for byte, and the routing counters match
// the frames exactly. Health decisions read a virtual clock that the test moves.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "corun/routed_model.hpp"
#include "devices/npu_sim/npu_sim_fault_injection.hpp"
#include "router/routed_model_access.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using devices::npu_sim::test_double::NpuSimFaultInjection;
using std::chrono::milliseconds;
using test::WAIT_LIMIT;

const std::string BLAZEFACE = std::string(CORUN_CACHE_DIR) +
                              "/models/blazeface-128/face_detection_front_128x128_barracuda.onnx";
// In the zoo and not in the npu-sim profile below: it stands for a model the NPU compiler
// cannot convert.
const std::string EMOTION = std::string(CORUN_CACHE_DIR) + "/models/emotion/emotion.onnx";
constexpr milliseconds PROBE_INTERVAL{100};
constexpr uint32_t FAILURES_TO_TAKE_OUT = 3;

// One frame: pixels of its own, and room for every output.
struct Frame {
    std::vector<uint8_t> pixels;
    std::map<std::string, std::vector<uint8_t>> outputs;
};

std::vector<Frame> make_frames(RoutedModel& routed, size_t count) {
    std::vector<Frame> frames(count);
    for (size_t f = 0; f < count; ++f) {
        frames[f].pixels.resize(routed.get_frame_size(routed.get_input_names()[0]).value());
        for (size_t i = 0; i < frames[f].pixels.size(); ++i) {
            frames[f].pixels[i] = static_cast<uint8_t>((i * 7 + f * 53 + (i >> 9)) & 0xff);
        }
        for (const auto& name : routed.get_output_names()) {
            frames[f].outputs[name].assign(routed.get_frame_size(name).value(), 0xee);
        }
    }
    return frames;
}

RoutedModel::Bindings bind(RoutedModel& routed, Frame& frame) {
    std::map<std::string, MemoryView> buffers;
    buffers[routed.get_input_names()[0]] = MemoryView::of(frame.pixels);
    for (auto& [name, bytes] : frame.outputs) buffers[name] = MemoryView::of(bytes);
    return routed.create_bindings(buffers).value();
}

// Every frame's completions, sync and async alike.
class FrameLedger {
public:
    explicit FrameLedger(size_t frames) : completions_(frames), infos_(frames) {}

    void record(size_t frame, const RoutedCompletionInfo& info) {
        {
            std::lock_guard lock(mutex_);
            ++completions_[frame];
            infos_[frame] = info;
        }
        done_.add();
    }
    void send_async(RoutedModel& routed, Frame& frame_buffers, size_t frame) {
        auto job = routed.run_async(
            bind(routed, frame_buffers),
            [this, frame](const RoutedCompletionInfo& info) { record(frame, info); });
        ASSERT_TRUE(job.has_value()) << job.status();
        job->detach();
    }
    // With a deadline.
    void send_async_by(RoutedModel& routed, Frame& frame_buffers, size_t frame,
                       std::chrono::steady_clock::time_point deadline) {
        auto job = routed.run_async(
            bind(routed, frame_buffers), deadline,
            [this, frame](const RoutedCompletionInfo& info) { record(frame, info); });
        ASSERT_TRUE(job.has_value()) << job.status();
        job->detach();
    }
    void run_sync(RoutedModel& routed, Frame& frame_buffers, size_t frame) {
        auto info = routed.run(bind(routed, frame_buffers), WAIT_LIMIT);
        ASSERT_TRUE(info.has_value()) << info.status();
        record(frame, *info);
    }
    bool wait_for(int completions) { return done_.wait_for(completions); }
    int completions() const { return done_.count(); }
    RoutedCompletionInfo info(size_t frame) {
        std::lock_guard lock(mutex_);
        return infos_[frame];
    }
    void expect_each_completed_once() {
        std::lock_guard lock(mutex_);
        for (size_t f = 0; f < completions_.size(); ++f) {
            EXPECT_EQ(completions_[f], 1) << "frame " << f;
        }
    }

private:
    std::mutex mutex_;
    std::vector<int> completions_;
    std::vector<RoutedCompletionInfo> infos_;
    test::Counter done_;
};

void expect_ran_on(const RoutedCompletionInfo& info, const std::string& placement,
                   uint32_t attempts, std::optional<StatusCode> refused_by_npu = std::nullopt) {
    EXPECT_OK(info.status);
    std::string trail;
    for (const auto& refusal : info.refused) {
        trail += " refused by " + refusal.placement + ": " + refusal.status.to_string() + ";";
    }
    EXPECT_EQ(info.placement, placement) << trail;
    EXPECT_EQ(info.attempts, attempts);
    if (refused_by_npu) {
        ASSERT_EQ(info.refused.size(), 1u);
        EXPECT_EQ(info.refused[0].placement, "npu");
        EXPECT_EQ(info.refused[0].status.code(), *refused_by_npu) << info.refused[0].status;
    } else {
        EXPECT_TRUE(info.refused.empty()) << info.refused[0].status;
    }
}

const PlacementStats& stats_of(const RoutedModelStats& stats, const std::string& label) {
    for (const auto& placement : stats.placements) {
        if (placement.label == label) return placement;
    }
    ADD_FAILURE() << "no placement " << label;
    return stats.placements.front();
}

// What the counters must say after the phases a test ran.
struct ExpectedCounters {
    uint64_t npu_run = 0;
    uint64_t cpu_run = 0;
    uint64_t npu_queue_full = 0;
    uint64_t npu_removed = 0;  // SHUTDOWN: queued when the placement was removed
    uint64_t npu_failures = 0;
    uint64_t npu_taken_out = 0;
    uint64_t npu_probes = 0;

    void expect_in(const RoutedModelStats& stats) const {
        const uint64_t frames = npu_run + cpu_run;
        EXPECT_EQ(stats.requests, frames);
        EXPECT_EQ(stats.completed, frames);
        EXPECT_EQ(stats.failed, 0u);
        const PlacementStats& npu = stats_of(stats, "npu");
        const PlacementStats& cpu = stats_of(stats, "cpu");
        EXPECT_EQ(npu.frames_run, npu_run);
        EXPECT_EQ(cpu.frames_run, cpu_run);
        std::map<StatusCode, uint64_t> rejections;
        if (npu_queue_full) rejections[StatusCode::QUEUE_IS_FULL] = npu_queue_full;
        if (npu_removed) rejections[StatusCode::SHUTDOWN] = npu_removed;
        EXPECT_EQ(npu.rejections, rejections);
        EXPECT_EQ(npu.failures, npu_failures);
        // Every frame the npu refused or failed ran on cpu.
        EXPECT_EQ(npu.fallbacks_away, npu_queue_full + npu_removed + npu_failures);
        EXPECT_EQ(npu.times_taken_out, npu_taken_out);
        EXPECT_EQ(npu.probes, npu_probes);
        EXPECT_TRUE(cpu.rejections.empty());
        EXPECT_EQ(cpu.failures, 0u);
        EXPECT_EQ(cpu.fallbacks_away, 0u);
    }
};

size_t count_lines_with(const std::string& text, const std::string& part) {
    std::istringstream lines(text);
    size_t count = 0;
    for (std::string line; std::getline(lines, line);) count += test::contains(line, part);
    return count;
}

class RoutedModelTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(BLAZEFACE) || !std::filesystem::exists(EMOTION)) {
            GTEST_SKIP() << BLAZEFACE << " or " << EMOTION
                         << " is missing; run scripts/fetch_models.sh";
        }
        profile_ = "/tmp/corun-router-profile-" + std::to_string(getpid()) + ".json";
        std::ofstream(profile_) << R"({"device": {"context_switch_us": 0},
            "models": {"face_detection_front_128x128_barracuda": {"frame_us": 1000}}})";
        VDeviceParams npu_params;
        npu_params.device_ids = {"npu-sim:0"};
        npu_params.group_id = npu_group_ = test::unique_group("router-npu");
        npu_params.npu_sim.profile_path = profile_;
        ASSERT_OK_AND_ASSIGN(npu_, VDevice::create_shared(npu_params));
        VDeviceParams cpu_params;
        cpu_params.device_ids = {"cpu:0"};
        cpu_params.group_id = test::unique_group("router-cpu");
        ASSERT_OK_AND_ASSIGN(cpu_, VDevice::create_shared(cpu_params));

        // The router's log lines, for the assertions on what they say.
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
        sink->set_pattern("%l %v");
        previous_logger_ = spdlog::default_logger();
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("router-test", sink));
    }

    void TearDown() override {
        if (!npu_group_.empty()) NpuSimFaultInjection::clear(npu_group_);
        if (previous_logger_) spdlog::set_default_logger(previous_logger_);
        if (!profile_.empty()) unlink(profile_.c_str());
    }

    RoutedModelParams npu_then_cpu() {
        RoutedModelParams params;
        params.placements = {{"npu", npu_}, {"cpu", cpu_}};
        // 8-bit pixels on every placement, where the model takes float32.
        params.formats = {{"input:0", FormatType::UINT8, std::nullopt, {}}};
        params.health.failures_to_take_out = FAILURES_TO_TAKE_OUT;
        params.health.probe_interval = PROBE_INTERVAL;
        return params;
    }

    // A routed model whose health decisions read the test's virtual clock.
    std::shared_ptr<RoutedModel> create_routed(const std::string& path,
                                               const RoutedModelParams& params) {
        auto routed = RoutedModel::create(path, params);
        EXPECT_TRUE(routed.has_value()) << routed.status();
        if (!routed.has_value()) return nullptr;
        router::RoutedModelAccess::set_clock(**routed, [this] {
            return std::chrono::steady_clock::time_point(
                std::chrono::nanoseconds(virtual_ns_.load()));
        });
        return routed.release();
    }

    void advance_clock(milliseconds by) { virtual_ns_ += std::chrono::nanoseconds(by).count(); }

    // npu-sim stalled with frame `frame` taken off its queue and held on the device.
    void stall_npu_running(RoutedModel& routed, std::vector<Frame>& frames, FrameLedger& ledger,
                           size_t frame) {
        NpuSimFaultInjection::stall_bursts(npu_group_);
        ledger.send_async(routed, frames[frame], frame);
        ASSERT_TRUE(test::wait_until(
            [&] { return NpuSimFaultInjection::stalled_bursts(npu_group_) == 1; }));
    }

    // What every test of frames ends with: each completed once, the counters say exactly where
    // they ran, and their outputs are a cpu-only run's.
    void expect_every_frame_accounted(RoutedModel& routed, std::vector<Frame>& frames,
                                      FrameLedger& ledger, const ExpectedCounters& expected) {
        ledger.expect_each_completed_once();
        expected.expect_in(routed.get_stats());
        EXPECT_EQ(expected.npu_run + expected.cpu_run, frames.size());
        expect_outputs_equal_a_cpu_only_run(BLAZEFACE, frames);
    }

    // Phase: npu-sim stalled with one frame running and one queued has its async queue full
    // (2 frames at batch 1), so the next `to_cpu` frames are refused with QUEUE_IS_FULL and run
    // on cpu; then it goes on and runs the two. Uses 2 + to_cpu frames from `first`.
    void saturate_npu(RoutedModel& routed, std::vector<Frame>& frames, FrameLedger& ledger,
                      size_t first, size_t to_cpu, ExpectedCounters& expected) {
        const int before = ledger.completions();
        stall_npu_running(routed, frames, ledger, first);
        ledger.send_async(routed, frames[first + 1], first + 1);
        // One at a time: the cpu placement's queue holds 2 frames too, and a frame that finds
        // every queue full fails (QUEUE_IS_FULL, test NoPlacementTakesAFrameWhenEveryQueueIsFull).
        for (size_t f = first + 2; f < first + 2 + to_cpu; ++f) {
            ledger.send_async(routed, frames[f], f);
            ASSERT_TRUE(ledger.wait_for(before + static_cast<int>(f - first - 1)));
            expect_ran_on(ledger.info(f), "cpu", 2, StatusCode::QUEUE_IS_FULL);
        }
        NpuSimFaultInjection::clear(npu_group_);
        ASSERT_TRUE(ledger.wait_for(before + static_cast<int>(to_cpu) + 2));
        expect_ran_on(ledger.info(first), "npu", 1);
        expect_ran_on(ledger.info(first + 1), "npu", 1);
        expected.npu_run += 2;
        expected.cpu_run += to_cpu;
        expected.npu_queue_full += to_cpu;
    }

    // Phase, one frame at a time: npu-sim fails every burst (it went away), so after
    // FAILURES_TO_TAKE_OUT frames that each failed there and ran on cpu it is taken out; frames
    // then go to cpu straight away; a probe after the interval fails while it is still away;
    // it comes back, and the first frame after the next interval probes it back into service.
    // Uses 10 frames from `first`.
    void fail_npu_and_bring_it_back(RoutedModel& routed, std::vector<Frame>& frames,
                                    FrameLedger& ledger, size_t first, ExpectedCounters& expected) {
        NpuSimFaultInjection::fail_bursts(
            npu_group_, Status(StatusCode::DEVICE_FAILURE, "npu-sim went away (test double)"));
        size_t f = first;
        for (uint32_t i = 0; i < FAILURES_TO_TAKE_OUT; ++i, ++f) {
            ledger.run_sync(routed, frames[f], f);
            expect_ran_on(ledger.info(f), "cpu", 2, StatusCode::DEVICE_FAILURE);
        }
        auto npu = stats_of(routed.get_stats(), "npu");
        EXPECT_EQ(npu.condition, PlacementCondition::TAKEN_OUT);
        EXPECT_TRUE(test::contains(npu.condition_reason, "npu-sim went away"))
            << npu.condition_reason;
        for (int i = 0; i < 2; ++i, ++f) {  // out: not tried at all
            ledger.run_sync(routed, frames[f], f);
            expect_ran_on(ledger.info(f), "cpu", 1);
        }
        advance_clock(PROBE_INTERVAL);  // due for a probe, but still away
        ledger.run_sync(routed, frames[f], f);
        expect_ran_on(ledger.info(f), "cpu", 2, StatusCode::DEVICE_FAILURE);
        ++f;
        EXPECT_EQ(stats_of(routed.get_stats(), "npu").condition, PlacementCondition::TAKEN_OUT);

        NpuSimFaultInjection::clear(npu_group_);  // it is back, but the interval runs again
        advance_clock(PROBE_INTERVAL - milliseconds(1));
        ledger.run_sync(routed, frames[f], f);
        expect_ran_on(ledger.info(f), "cpu", 1);
        ++f;
        advance_clock(milliseconds(1));
        ledger.run_sync(routed, frames[f], f);  // the probe
        expect_ran_on(ledger.info(f), "npu", 1);
        ++f;
        EXPECT_EQ(stats_of(routed.get_stats(), "npu").condition, PlacementCondition::IN_SERVICE);
        for (int i = 0; i < 2; ++i, ++f) {
            ledger.run_sync(routed, frames[f], f);
            expect_ran_on(ledger.info(f), "npu", 1);
        }
        ASSERT_EQ(f, first + 10);
        expected.npu_run += 3;
        expected.cpu_run += 7;
        expected.npu_failures += FAILURES_TO_TAKE_OUT + 1;
        expected.npu_taken_out += 1;
        expected.npu_probes += 2;
    }

    // Phase: npu-sim stalled with frame A running and frame B queued is removed: B falls back to
    // cpu (SHUTDOWN), the next two frames go to cpu straight away, A finishes on npu-sim, and
    // once restored the npu takes frames again. Uses 5 frames from `first`.
    void remove_and_restore_npu(RoutedModel& routed, std::vector<Frame>& frames,
                                FrameLedger& ledger, size_t first, ExpectedCounters& expected) {
        const int before = ledger.completions();
        stall_npu_running(routed, frames, ledger, first);
        ledger.send_async(routed, frames[first + 1], first + 1);
        // remove_placement returns once the frame running there has finished: another thread.
        std::thread remover([&] { EXPECT_OK(routed.remove_placement("npu")); });
        ASSERT_TRUE(ledger.wait_for(before + 1));
        expect_ran_on(ledger.info(first + 1), "cpu", 2, StatusCode::SHUTDOWN);
        EXPECT_EQ(stats_of(routed.get_stats(), "npu").condition, PlacementCondition::REMOVED);
        for (size_t f = first + 2; f < first + 4; ++f) {
            ledger.run_sync(routed, frames[f], f);
            expect_ran_on(ledger.info(f), "cpu", 1);
        }
        NpuSimFaultInjection::clear(npu_group_);
        remover.join();
        ASSERT_TRUE(ledger.wait_for(before + 4));
        expect_ran_on(ledger.info(first), "npu", 1);

        ASSERT_OK(routed.restore_placement("npu"));
        EXPECT_EQ(stats_of(routed.get_stats(), "npu").condition, PlacementCondition::IN_SERVICE);
        ledger.run_sync(routed, frames[first + 4], first + 4);
        expect_ran_on(ledger.info(first + 4), "npu", 1);
        expected.npu_run += 2;
        expected.cpu_run += 3;
        expected.npu_removed += 1;
    }

    // Each frame's outputs from a plain configured model on the cpu VDevice, with the same user
    // formats: what a cpu-only run gives.
    void expect_outputs_equal_a_cpu_only_run(const std::string& path, std::vector<Frame>& frames) {
        ASSERT_OK_AND_ASSIGN(auto model, cpu_->create_infer_model(path));
        model->inputs()[0].set_format_type(FormatType::UINT8);
        ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
        for (size_t f = 0; f < frames.size(); ++f) {
            std::map<std::string, std::vector<uint8_t>> expected;
            std::map<std::string, MemoryView> buffers;
            buffers[model->get_input_names()[0]] = MemoryView::of(frames[f].pixels);
            for (const auto& [name, bytes] : frames[f].outputs) {
                expected[name].assign(bytes.size(), 0);
                buffers[name] = MemoryView::of(expected[name]);
            }
            ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings(buffers));
            ASSERT_OK(configured.run(bindings, WAIT_LIMIT));
            for (const auto& [name, bytes] : frames[f].outputs) {
                EXPECT_TRUE(bytes == expected[name]) << "frame " << f << ", output " << name;
            }
        }
    }

    std::string log() {
        spdlog::default_logger()->flush();
        return log_.str();
    }

    std::string profile_;
    std::string npu_group_;
    std::shared_ptr<VDevice> npu_;
    std::shared_ptr<VDevice> cpu_;
    std::atomic<int64_t> virtual_ns_{1'000'000'000};
    std::ostringstream log_;
    std::shared_ptr<spdlog::logger> previous_logger_;
};

TEST_F(RoutedModelTest, ASaturatedNpuSendsWhatItsQueueCannotTakeToCpu) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 10);
    FrameLedger ledger(frames.size());
    ExpectedCounters expected;
    saturate_npu(*routed, frames, ledger, 0, 8, expected);
    expect_every_frame_accounted(*routed, frames, ledger, expected);
    // One line says why; the seven like it in the same second are held back.
    EXPECT_EQ(count_lines_with(log(), "placement 'npu' did not run a frame (QUEUE_IS_FULL"), 1u)
        << log();
    EXPECT_TRUE(test::contains(log(), "routed to 'cpu'")) << log();
}

TEST_F(RoutedModelTest, AFailingNpuIsTakenOutAfterThreeFailuresAndProbedBackInWhenItReturns) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 10);
    FrameLedger ledger(frames.size());
    ExpectedCounters expected;
    fail_npu_and_bring_it_back(*routed, frames, ledger, 0, expected);
    expect_every_frame_accounted(*routed, frames, ledger, expected);
    const std::string text = log();
    EXPECT_EQ(count_lines_with(text,
                               "placement 'npu' taken out of service after 3 consecutive "
                               "failures (the last: DEVICE_FAILURE: npu-sim went away"),
              1u)
        << text;
    EXPECT_EQ(count_lines_with(text, "placement 'npu' ran its probe frame; back in service"), 1u)
        << text;
}

TEST_F(RoutedModelTest, ARemovedNpuPassesItsQueuedFrameToCpuAndRunsAgainOnceRestored) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 5);
    FrameLedger ledger(frames.size());
    ExpectedCounters expected;
    remove_and_restore_npu(*routed, frames, ledger, 0, expected);
    expect_every_frame_accounted(*routed, frames, ledger, expected);
    EXPECT_TRUE(test::contains(log(), "placement 'npu' did not run a frame (SHUTDOWN")) << log();
}

// The issue's acceptance run: saturated, then failing and back, then removed and restored, in
// one routed model; the counters add up over all of it.
TEST_F(RoutedModelTest, FallbackAcceptanceRun) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 25);
    FrameLedger ledger(frames.size());
    ExpectedCounters expected;
    saturate_npu(*routed, frames, ledger, 0, 8, expected);
    fail_npu_and_bring_it_back(*routed, frames, ledger, 10, expected);
    remove_and_restore_npu(*routed, frames, ledger, 20, expected);
    expect_every_frame_accounted(*routed, frames, ledger, expected);
    EXPECT_FALSE(test::contains(log(), "second time")) << log();
}

TEST_F(RoutedModelTest, AModelNpuSimCannotLoadRunsOnCpuAndTheLogSaysWhy) {
    auto params = npu_then_cpu();
    params.formats = {{"input_1", FormatType::UINT8, std::nullopt, {}}};
    auto routed = create_routed(EMOTION, params);
    ASSERT_NE(routed, nullptr);
    const auto npu = stats_of(routed->get_stats(), "npu");
    EXPECT_EQ(npu.condition, PlacementCondition::NOT_LOADED);
    EXPECT_TRUE(test::contains(npu.condition_reason, "emotion")) << npu.condition_reason;
    EXPECT_TRUE(test::contains(log(), "routed model 'emotion': placement 'npu' cannot run it"))
        << log();
    EXPECT_TRUE(test::contains(log(), npu.condition_reason)) << log();

    auto frames = make_frames(*routed, 4);
    FrameLedger ledger(frames.size());
    for (size_t f = 0; f < frames.size(); ++f) {
        ledger.run_sync(*routed, frames[f], f);
        expect_ran_on(ledger.info(f), "cpu", 1);
    }
    ledger.expect_each_completed_once();
    const auto stats = routed->get_stats();
    EXPECT_EQ(stats_of(stats, "cpu").frames_run, 4u);
    EXPECT_EQ(stats_of(stats, "npu").frames_run, 0u);
    EXPECT_EQ(stats_of(stats, "npu").fallbacks_away, 0u);  // never tried
    expect_outputs_equal_a_cpu_only_run(EMOTION, frames);
    // Restoring tries the load again, and says again why it cannot.
    EXPECT_STATUS(routed->restore_placement("npu"), StatusCode::NOT_FOUND);
}

TEST_F(RoutedModelTest, PlacementsWithoutALabelAreNamedAfterTheirDevice) {
    RoutedModelParams params = npu_then_cpu();
    params.placements = {{"", npu_}, {"", cpu_}};
    auto routed = create_routed(BLAZEFACE, params);
    ASSERT_NE(routed, nullptr);
    EXPECT_EQ(routed->placement_labels(), (std::vector<std::string>{"npu-sim:0", "cpu:0"}));
    EXPECT_EQ(routed->name(), "face_detection_front_128x128_barracuda");
}

// Shut down while npu-sim holds a frame and has one queued: the queued frame completes with
// SHUTDOWN (no fallback once the routed model is shut down), the running one finishes there.
TEST_F(RoutedModelTest, ShutdownCompletesEveryFrameOnce) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 2);
    FrameLedger ledger(frames.size());
    stall_npu_running(*routed, frames, ledger, 0);
    ledger.send_async(*routed, frames[1], 1);
    std::thread stopper([&] { EXPECT_OK(routed->shutdown()); });
    ASSERT_TRUE(ledger.wait_for(1));
    EXPECT_EQ(ledger.info(1).status.code(), StatusCode::SHUTDOWN) << ledger.info(1).status;
    NpuSimFaultInjection::clear(npu_group_);
    stopper.join();
    ASSERT_TRUE(ledger.wait_for(2));
    expect_ran_on(ledger.info(0), "npu", 1);
    ledger.expect_each_completed_once();
    EXPECT_STATUS(routed->run_async(bind(*routed, frames[0])), StatusCode::SHUTDOWN);
    const auto stats = routed->get_stats();
    EXPECT_EQ(stats.requests, 2u);
    EXPECT_EQ(stats.completed, 1u);
    EXPECT_EQ(stats.failed, 1u);
}

TEST_F(RoutedModelTest, BadInputGetsAClearStatus) {
    RoutedModelParams none = npu_then_cpu();
    none.placements.clear();
    auto status = RoutedModel::create(BLAZEFACE, none).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "at least one placement")) << status;

    RoutedModelParams null_device = npu_then_cpu();
    null_device.placements[1].vdevice = nullptr;
    status = RoutedModel::create(BLAZEFACE, null_device).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "placement 1 ('cpu') has no VDevice")) << status;

    RoutedModelParams twice = npu_then_cpu();
    twice.placements[1].label = "npu";
    status = RoutedModel::create(BLAZEFACE, twice).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "two placements are labelled 'npu'")) << status;

    RoutedModelParams no_failures = npu_then_cpu();
    no_failures.health.failures_to_take_out = 0;
    EXPECT_STATUS(RoutedModel::create(BLAZEFACE, no_failures), StatusCode::INVALID_ARGUMENT);

    RoutedModelParams unknown_stream = npu_then_cpu();
    unknown_stream.formats[0].stream = "pixels";
    status = RoutedModel::create(BLAZEFACE, unknown_stream).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "stream 'pixels'")) << status;
    EXPECT_TRUE(test::contains(status.message(), "'input:0'")) << status;

    status = RoutedModel::create("/nonexistent/model.onnx", npu_then_cpu()).status();
    EXPECT_FALSE(status.is_ok());
    EXPECT_TRUE(test::contains(status.message(), "no placement could load it")) << status;

    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    status = routed->remove_placement("gpu");
    EXPECT_EQ(status.code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(test::contains(status.message(),
                               "no placement 'gpu'; its placements are 'npu', "
                               "'cpu'"))
        << status;
    EXPECT_STATUS(routed->restore_placement("gpu"), StatusCode::NOT_FOUND);

    std::vector<uint8_t> too_small(10);
    status = routed->create_bindings({{"input:0", MemoryView::of(too_small)}}).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(),
                               "stream 'input:0' takes 49152 bytes per frame, "
                               "got 10"))
        << status;
    EXPECT_STATUS(routed->create_bindings({{"pixels", MemoryView::of(too_small)}}),
                  StatusCode::NOT_FOUND);

    // A frame without its input is the caller's error, the same on every placement: no fallback.
    auto frames = make_frames(*routed, 1);
    ASSERT_OK_AND_ASSIGN(auto no_input, routed->create_bindings());
    for (auto& [name, bytes] : frames[0].outputs) {
        ASSERT_OK(no_input.set_buffer(name, MemoryView::of(bytes)));
    }
    status = routed->run(no_input, WAIT_LIMIT).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT) << status;
    auto stats = routed->get_stats();
    EXPECT_EQ(stats.failed, 1u);
    EXPECT_EQ(stats_of(stats, "npu").fallbacks_away, 0u);
    EXPECT_EQ(stats_of(stats, "cpu").frames_run, 0u);

    auto other = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(other, nullptr);
    status = other->run(bind(*routed, frames[0]), WAIT_LIMIT).status();
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "made by another routed model")) << status;
}

// Back-pressure: when every placement's queue is full the frame fails with QUEUE_IS_FULL, and
// its callback runs before run_async returns, on the caller's thread.
TEST_F(RoutedModelTest, NoPlacementTakesAFrameWhenEveryQueueIsFull) {
    RoutedModelParams params = npu_then_cpu();
    params.placements = {{"npu", npu_}};
    auto routed = create_routed(BLAZEFACE, params);
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 3);
    FrameLedger ledger(frames.size());
    stall_npu_running(*routed, frames, ledger, 0);
    ledger.send_async(*routed, frames[1], 1);
    ledger.send_async(*routed, frames[2], 2);
    ASSERT_EQ(ledger.completions(), 1);  // already, inside run_async
    const auto refused = ledger.info(2);
    EXPECT_EQ(refused.status.code(), StatusCode::QUEUE_IS_FULL) << refused.status;
    EXPECT_TRUE(test::contains(refused.status.message(), "no placement of routed model"))
        << refused.status;
    EXPECT_EQ(refused.attempts, 1u);
    EXPECT_EQ(refused.placement, "");
    NpuSimFaultInjection::clear(npu_group_);
    ASSERT_TRUE(ledger.wait_for(3));
    ledger.expect_each_completed_once();
    const auto stats = routed->get_stats();
    EXPECT_EQ(stats.completed, 2u);
    EXPECT_EQ(stats.failed, 1u);
    EXPECT_EQ(stats_of(stats, "npu").rejections.at(StatusCode::QUEUE_IS_FULL), 1u);
    EXPECT_EQ(stats_of(stats, "npu").fallbacks_away, 0u);
    EXPECT_TRUE(test::contains(log(), "and no placement after it could")) << log();
}

// A synchronous run() whose timeout passes while its frame waits on a placement: TIMEOUT, the
// frame is cancelled there, and no further placement is tried (the caller's timeout is not the
// placement's failure).
TEST_F(RoutedModelTest, ARunWhoseTimeoutPassesTriesNoFurtherPlacement) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 2);
    FrameLedger ledger(frames.size());
    stall_npu_running(*routed, frames, ledger, 0);
    const Status status = routed->run(bind(*routed, frames[1]), milliseconds(20)).status();
    EXPECT_EQ(status.code(), StatusCode::TIMEOUT) << status;
    NpuSimFaultInjection::clear(npu_group_);
    ASSERT_TRUE(ledger.wait_for(1));
    const auto stats = routed->get_stats();
    EXPECT_EQ(stats.failed, 1u);
    EXPECT_EQ(stats_of(stats, "npu").failures, 0u);
    EXPECT_EQ(stats_of(stats, "npu").fallbacks_away, 0u);
    EXPECT_EQ(stats_of(stats, "cpu").frames_run, 0u);
}

// Deadlines. The npu-sim here takes 1 s a frame; the cpu placement has run no frame (so it
// cannot predict, and is tried) unless a test runs one there first.
class RoutedModelDeadlineTest : public RoutedModelTest {
protected:
    void SetUp() override {
        RoutedModelTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        slow_profile_ = profile_ + ".slow";
        std::ofstream(slow_profile_) << R"({"device": {"context_switch_us": 0},
            "models": {"face_detection_front_128x128_barracuda": {"frame_us": 1000000}}})";
        VDeviceParams params;
        params.device_ids = {"npu-sim:0"};
        params.group_id = test::unique_group("router-slow-npu");
        params.npu_sim.profile_path = slow_profile_;
        ASSERT_OK_AND_ASSIGN(npu_, VDevice::create_shared(params));  // replaces the fast one
    }
    void TearDown() override {
        if (!slow_profile_.empty()) unlink(slow_profile_.c_str());
        RoutedModelTest::TearDown();
    }
    // One frame on the npu, so that it predicts from then on.
    void measure_npu(RoutedModel& routed, Frame& frame, FrameLedger& ledger, size_t index) {
        ledger.run_sync(routed, frame, index);
        expect_ran_on(ledger.info(index), "npu", 1);
        ASSERT_TRUE(predicts(*npu_));
    }
    // A frame completes (its callback, run() returning) just before the scheduler records how
    // long it took: wait for that, on the group of one placement.
    static bool predicts(VDevice& vdevice) {
        return test::wait_until([&] {
            const auto stats = vdevice.get_scheduler_stats();
            return !stats.empty() && stats.front().predicted_latency_ms >= 0;
        });
    }
    std::string slow_profile_;
};

TEST_F(RoutedModelDeadlineTest, APlacementPredictedToMissTheDeadlineIsPassedOver) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 3);
    FrameLedger ledger(frames.size());
    measure_npu(*routed, frames[0], ledger, 0);
    // 800 ms away: the npu predicts at least its 1 s device time; the cpu cannot predict yet,
    // and its own admission, which refuses a frame whose deadline has passed, has 800 ms to take
    // it (far more than a loaded machine needs).
    const auto soon = std::chrono::steady_clock::now() + milliseconds(800);
    auto job = routed->run_async(bind(*routed, frames[1]), soon,
                                 [&](const RoutedCompletionInfo& info) { ledger.record(1, info); });
    ASSERT_TRUE(job.has_value()) << job.status();
    ASSERT_TRUE(ledger.wait_for(2));
    const auto passed_over = ledger.info(1);
    EXPECT_EQ(passed_over.placement, "cpu");
    EXPECT_EQ(passed_over.attempts, 1u);  // sent to the cpu only
    ASSERT_EQ(passed_over.refused.size(), 1u);
    EXPECT_EQ(passed_over.refused[0].placement, "npu");
    EXPECT_EQ(passed_over.refused[0].status.code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_TRUE(
        test::contains(passed_over.refused[0].status.message(), "the router passed it over"))
        << passed_over.refused[0].status;
    // A deadline an hour away: the npu, first in order, is predicted to meet it.
    const auto later = std::chrono::steady_clock::now() + std::chrono::hours(1);
    auto far = routed->run_async(bind(*routed, frames[2]), later,
                                 [&](const RoutedCompletionInfo& info) { ledger.record(2, info); });
    ASSERT_TRUE(far.has_value()) << far.status();
    ASSERT_TRUE(ledger.wait_for(3));
    expect_ran_on(ledger.info(2), "npu", 1);
    ledger.expect_each_completed_once();
    const auto stats = routed->get_stats();
    EXPECT_EQ(stats_of(stats, "npu").frames_run, 2u);
    EXPECT_EQ(stats_of(stats, "npu").rejections,
              (std::map<StatusCode, uint64_t>{{StatusCode::DEADLINE_EXCEEDED, 1}}));
    EXPECT_EQ(stats_of(stats, "npu").fallbacks_away, 1u);
    EXPECT_EQ(stats_of(stats, "cpu").frames_run, 1u);
    expect_outputs_equal_a_cpu_only_run(BLAZEFACE, frames);
}

// No placement predicted to make it: DEADLINE_EXCEEDED at once, naming each prediction, so the
// caller can skip the frame instead of learning it too late.
TEST_F(RoutedModelDeadlineTest, AFrameNoPlacementCanMakeInTimeFailsAtOnce) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 3);
    FrameLedger ledger(frames.size());
    measure_npu(*routed, frames[0], ledger, 0);
    // One frame on the cpu too, so that it predicts: one the npu cannot make in time.
    ledger.send_async_by(*routed, frames[1], 1,
                         std::chrono::steady_clock::now() + milliseconds(800));
    ASSERT_TRUE(ledger.wait_for(2));
    expect_ran_on(ledger.info(1), "cpu", 1, StatusCode::DEADLINE_EXCEEDED);
    ASSERT_TRUE(predicts(*cpu_));
    ledger.send_async_by(*routed, frames[2], 2, std::chrono::steady_clock::now());
    ASSERT_EQ(ledger.completions(), 3);  // before run_async returned
    const auto late = ledger.info(2);
    EXPECT_EQ(late.status.code(), StatusCode::DEADLINE_EXCEEDED) << late.status;
    EXPECT_EQ(late.attempts, 0u);
    ASSERT_EQ(late.refused.size(), 2u);
    EXPECT_TRUE(test::contains(late.status.message(), "'npu' DEADLINE_EXCEEDED: predicted to take"))
        << late.status;
    EXPECT_TRUE(test::contains(late.status.message(), "'cpu' DEADLINE_EXCEEDED: predicted to take"))
        << late.status;
    const auto stats = routed->get_stats();
    EXPECT_EQ(stats.failed, 1u);
    EXPECT_EQ(stats_of(stats, "npu").rejections.at(StatusCode::DEADLINE_EXCEEDED), 2u);
    EXPECT_EQ(stats_of(stats, "cpu").rejections.at(StatusCode::DEADLINE_EXCEEDED), 1u);
    EXPECT_EQ(stats_of(stats, "npu").fallbacks_away, 2u);
    EXPECT_EQ(stats_of(stats, "cpu").fallbacks_away, 0u);
    EXPECT_EQ(stats_of(stats, "cpu").frames_run, 1u);
}

// A latency SLO on the routed model holds for run() too: once the npu has shown it takes 1 s,
// a frame with an 800 ms SLO goes to the cpu.
TEST_F(RoutedModelDeadlineTest, ALatencySloPassesOverAPlacementPredictedToTakeLonger) {
    RoutedModelParams params = npu_then_cpu();
    params.latency_slo = milliseconds(800);
    auto routed = create_routed(BLAZEFACE, params);
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 2);
    FrameLedger ledger(frames.size());
    measure_npu(*routed, frames[0], ledger, 0);  // no prediction yet: it runs there (late)
    ledger.run_sync(*routed, frames[1], 1);
    expect_ran_on(ledger.info(1), "cpu", 1, StatusCode::DEADLINE_EXCEEDED);
    expect_outputs_equal_a_cpu_only_run(BLAZEFACE, frames);
}

// What each placement predicted for the frames sent to it, beside what they took.
TEST_F(RoutedModelDeadlineTest, PredictedAndMeasuredLatencyAreCountedPerPlacement) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    auto frames = make_frames(*routed, 3);
    FrameLedger ledger(frames.size());
    for (size_t f = 0; f < frames.size(); ++f) measure_npu(*routed, frames[f], ledger, f);
    const auto npu = stats_of(routed->get_stats(), "npu");
    EXPECT_EQ(npu.frames_run, 3u);
    EXPECT_EQ(npu.predicted_frames, 2u);  // the first frame had nothing to predict from
    EXPECT_GE(npu.predicted_latency_mean_ms, 1000.0);
    EXPECT_GE(npu.measured_latency_mean_ms, 1000.0);
    EXPECT_GE(npu.prediction_error_mean_ms, 0.0);
}

// Every placement removed: the frame fails at once, saying which placements there are and why
// none took it.
TEST_F(RoutedModelTest, NoPlacementInServiceFailsTheFrameNamingEachPlacement) {
    auto routed = create_routed(BLAZEFACE, npu_then_cpu());
    ASSERT_NE(routed, nullptr);
    ASSERT_OK(routed->remove_placement("npu"));
    ASSERT_OK(routed->remove_placement("cpu"));
    auto frames = make_frames(*routed, 1);
    const Status status = routed->run(bind(*routed, frames[0]), WAIT_LIMIT).status();
    EXPECT_EQ(status.code(), StatusCode::OUT_OF_PHYSICAL_DEVICES);
    EXPECT_TRUE(test::contains(status.message(), "'npu' REMOVED")) << status;
    EXPECT_TRUE(test::contains(status.message(), "'cpu' REMOVED")) << status;
    EXPECT_TRUE(test::contains(status.message(), "restore_placement()")) << status;
    ASSERT_OK(routed->restore_placement("cpu"));
    FrameLedger ledger(1);
    ledger.run_sync(*routed, frames[0], 0);
    expect_ran_on(ledger.info(0), "cpu", 1);
}

}  // namespace
}  // namespace corun
