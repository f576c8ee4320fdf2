// Timelines of a device group (docs/TRACING.md): three test models on npu-sim recorded while
// they share its scheduler, written as a Chrome trace. The trace is checked against the Trace
// Event Format (chrome_trace_checks.hpp), and its bursts against the scheduler's decision
// records, one to one. A group that is not recorded records nothing; a full recording counts
// what it dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "chrome_trace_checks.hpp"
#include "corun/corun.hpp"
#include "runtime/device_group.hpp"
#include "runtime/local_backend.hpp"
#include "runtime/monitor/chrome_trace_writer.hpp"
#include "runtime/monitor/group_recording.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using runtime::monitor::TracedGroup;
using scheduler::DecisionRecord;
using scheduler::FrameOutcome;

constexpr int kFramesPerModel = 12;
const std::vector<std::string> kModels = {"add_one", "slow_matmul", "conv_nchw"};

// One model with two sets of buffers (frames in flight never share memory).
struct PumpedModel {
    std::shared_ptr<InferModel> model;
    std::optional<ConfiguredInferModel> configured;
    std::vector<std::vector<uint8_t>> buffers;
    std::vector<ConfiguredInferModel::Bindings> bindings;
};

class ChromeTraceTest : public ::testing::Test {
protected:
    void SetUp() override {
        profile_ = "/tmp/corun-trace-profile-" + std::to_string(getpid()) + ".json";
        // Timing only: the trace is about the schedule, not the outputs.
        std::ofstream(profile_) << R"({"device": {"context_switch_us": 50},
            "models": {"add_one": {"frame_us": 300}, "slow_matmul": {"frame_us": 700},
                       "conv_nchw": {"frame_us": 500}}})";
        VDeviceParams params;
        params.device_ids = {"npu-sim:0"};
        params.group_id = test::unique_group("trace");
        params.npu_sim.profile_path = profile_;
        params.npu_sim.compute_outputs = false;
        ASSERT_OK_AND_ASSIGN(vdevice_, VDevice::create(params));
        group_ = runtime::monitor::group_of(*vdevice_);
    }
    void TearDown() override {
        models_.clear();
        vdevice_.reset();
        unlink(profile_.c_str());
    }

    scheduler::Scheduler& scheduler() {
        return dynamic_cast<runtime::LocalBackend&>(group_->backend()).scheduler();
    }

    void configure(const std::vector<std::string>& names) {
        for (const auto& name : names) {
            PumpedModel pumped;
            ASSERT_OK_AND_ASSIGN(pumped.model,
                                 vdevice_->create_infer_model(test::test_model(name + ".onnx")));
            ASSERT_OK_AND_ASSIGN(auto configured, pumped.model->configure());
            pumped.configured.emplace(std::move(configured));
            for (int set = 0; set < 2; ++set) {
                std::map<std::string, MemoryView> views;
                for (const auto* streams : {&pumped.model->inputs(), &pumped.model->outputs()}) {
                    for (const auto& stream : *streams) {
                        pumped.buffers.emplace_back(stream.get_frame_size());
                        views[stream.name()] =
                            MemoryView(pumped.buffers.back().data(), pumped.buffers.back().size());
                    }
                }
                ASSERT_OK_AND_ASSIGN(auto bindings, pumped.configured->create_bindings(views));
                pumped.bindings.push_back(std::move(bindings));
            }
            models_.push_back(std::move(pumped));
        }
    }

    // Every model sends `frames` frames at once from its own thread, its async queue full.
    void pump(int frames) {
        std::vector<std::thread> threads;
        std::vector<Status> failures(models_.size());
        for (size_t m = 0; m < models_.size(); ++m) {
            threads.emplace_back([&, m] {
                PumpedModel& pumped = models_[m];
                std::vector<AsyncInferJob> jobs;
                for (int i = 0; i < frames; ++i) {
                    Status ready = pumped.configured->wait_for_async_ready(test::WAIT_LIMIT, 1);
                    if (!ready) {
                        failures[m] = ready;
                        break;
                    }
                    auto job = pumped.configured->run_async(pumped.bindings[i % 2],
                                                            [](const AsyncInferCompletionInfo&) {});
                    if (!job) {
                        failures[m] = job.status();
                        break;
                    }
                    jobs.push_back(job.release());
                }
                for (auto& job : jobs) {
                    Status done = job.wait(test::WAIT_LIMIT);
                    if (!done && failures[m]) failures[m] = done;
                }
            });
        }
        for (auto& thread : threads) thread.join();
        for (const auto& failure : failures) ASSERT_OK(failure);
        // A job completes (its callback returns) just before the scheduler ends its burst:
        // wait for that too, so that the recording holds every frame as completed.
        ASSERT_TRUE(test::wait_until([&] {
            for (const auto& stats : vdevice_->get_scheduler_stats()) {
                if (stats.frames_running > 0 || stats.frames_queued > 0) return false;
            }
            return true;
        }));
    }

    std::string profile_;
    std::unique_ptr<VDevice> vdevice_;
    std::shared_ptr<DeviceGroup> group_;
    std::vector<PumpedModel> models_;
};

TEST_F(ChromeTraceTest, ThreeModelsOnNpuSimGiveAValidTraceWhoseBurstsAreTheDecisions) {
    configure(kModels);
    std::mutex decisions_mutex;
    std::vector<DecisionRecord> decisions;
    scheduler().set_decision_sink([&](const DecisionRecord& record) {
        std::lock_guard lock(decisions_mutex);
        decisions.push_back(record);
    });
    ASSERT_OK(runtime::monitor::start_recording(*group_, {}));
    pump(kFramesPerModel);
    const TracedGroup traced = runtime::monitor::stop_recording(*group_);
    scheduler().set_decision_sink(nullptr);
    std::lock_guard lock(decisions_mutex);

    // The recording: one burst per decision, the same decision, in the same order.
    const auto& recording = traced.recording;
    ASSERT_EQ(recording.bursts.size(), decisions.size());
    ASSERT_GE(decisions.size(), 3u);
    for (size_t i = 0; i < decisions.size(); ++i) {
        const auto& burst = recording.bursts[i];
        EXPECT_EQ(burst.start, decisions[i].time) << "burst " << i;
        EXPECT_EQ(burst.device_index, decisions[i].device_index) << "burst " << i;
        EXPECT_EQ(burst.model_id, decisions[i].model_id) << "burst " << i;
        EXPECT_EQ(burst.frames, decisions[i].frames) << "burst " << i;
        EXPECT_EQ(burst.reason, decisions[i].reason) << "burst " << i;
        EXPECT_NE(burst.end, scheduler::NOT_ENDED) << "burst " << i;
        EXPECT_GE(burst.end, burst.start) << "burst " << i;
    }
    // Every frame: submitted, then run inside the burst that ran it, then completed.
    std::map<uint64_t, int> frames_per_model, burst_frames_per_model;
    for (const auto& frame : recording.frames) {
        ++frames_per_model[frame.model_id];
        ASSERT_EQ(frame.outcome, FrameOutcome::COMPLETED) << "frame " << frame.id;
        ASSERT_GE(frame.burst, 0) << "frame " << frame.id;
        const auto& burst = recording.bursts[static_cast<size_t>(frame.burst)];
        EXPECT_EQ(burst.model_id, frame.model_id);
        EXPECT_LE(frame.submitted, burst.start);
        EXPECT_LE(burst.start, frame.started);
        EXPECT_LE(frame.started, frame.ended);
        EXPECT_LE(frame.ended, burst.end);
    }
    for (const auto& burst : recording.bursts)
        burst_frames_per_model[burst.model_id] += burst.frames;
    ASSERT_EQ(frames_per_model.size(), kModels.size());
    for (const auto& [model, frames] : frames_per_model) {
        EXPECT_EQ(frames, kFramesPerModel);
        EXPECT_EQ(burst_frames_per_model[model], kFramesPerModel);
    }
    // Queue depths: every queue is sampled at the start and is empty at the end.
    std::map<uint64_t, uint32_t> last_depth;
    for (const auto& sample : recording.queue_depths)
        last_depth[sample.model_id] = sample.frames_queued;
    EXPECT_EQ(last_depth.size(), kModels.size());
    for (const auto& [model, depth] : last_depth) EXPECT_EQ(depth, 0u);
    EXPECT_EQ(recording.dropped_events, 0u);

    // The Chrome trace: valid, one X per burst on the device's slot track in decision order,
    // one flow per frame.
    const auto trace = nlohmann::json::parse(runtime::monitor::chrome_trace_json({traced}));
    EXPECT_EQ(test::chrome_trace_problems(trace), std::vector<std::string>{});
    std::vector<const nlohmann::json*> bursts;
    std::set<std::string> flows, named_processes;
    std::map<std::string, int> model_tracks;  // thread_name -> count, in the models process
    for (const auto& event : trace["traceEvents"]) {
        if (event["ph"] == "X" && event.value("cat", "") == "burst") bursts.push_back(&event);
        if (event["ph"] == "s") flows.insert(event["id"].dump());
        if (event["ph"] == "M" && event["name"] == "process_name") {
            named_processes.insert(event["args"]["name"].get<std::string>());
        }
        if (event["ph"] == "M" && event["name"] == "thread_name") {
            ++model_tracks[event["args"]["name"].get<std::string>()];
        }
    }
    ASSERT_EQ(bursts.size(), decisions.size());
    for (size_t i = 0; i < bursts.size(); ++i) {
        const auto& args = (*bursts[i])["args"];
        EXPECT_EQ(args["decision"].get<size_t>(), i);
        EXPECT_EQ(args["model_id"].get<uint64_t>(), decisions[i].model_id);
        EXPECT_EQ(args["frames"].get<uint32_t>(), decisions[i].frames);
        EXPECT_EQ(args["reason"].get<std::string>(),
                  scheduler::decision_reason_name(decisions[i].reason));
        EXPECT_EQ((*bursts[i])["tid"].get<int>(), 1);  // npu-sim: one slot
    }
    EXPECT_EQ(flows.size(), kModels.size() * kFramesPerModel);
    EXPECT_TRUE(named_processes.count("npu-sim:0 (group " + vdevice_->group_id() + ")"));
    for (const auto& name : kModels) EXPECT_EQ(model_tracks[name], 1) << name;
    EXPECT_EQ(trace["otherData"]["dropped_events"].get<uint64_t>(), 0u);
}

TEST_F(ChromeTraceTest, AGroupNotBeingRecordedRecordsNothing) {
    configure({"add_one"});
    pump(4);  // recording never started
    const TracedGroup never = runtime::monitor::stop_recording(*group_);
    EXPECT_TRUE(never.recording.empty());
    EXPECT_EQ(never.recording.started.count(), 0);

    ASSERT_OK(runtime::monitor::start_recording(*group_, {}));
    const TracedGroup idle = runtime::monitor::stop_recording(*group_);
    pump(4);  // after the recording stopped
    EXPECT_TRUE(idle.recording.bursts.empty());
    EXPECT_TRUE(idle.recording.frames.empty());
    ASSERT_EQ(idle.recording.queue_depths.size(), 1u);  // where the queue stood at the start
    EXPECT_EQ(idle.recording.queue_depths[0].frames_queued, 0u);
    EXPECT_TRUE(runtime::monitor::stop_recording(*group_).recording.empty());

    // And a trace of nothing is still a trace.
    const auto trace = nlohmann::json::parse(runtime::monitor::chrome_trace_json({}));
    EXPECT_EQ(test::chrome_trace_problems(trace), std::vector<std::string>{});
    EXPECT_TRUE(trace["traceEvents"].empty());
}

TEST_F(ChromeTraceTest, AFullRecordingCountsWhatItDroppedAndStaysValid) {
    configure({"add_one"});
    ASSERT_OK(runtime::monitor::start_recording(*group_, {.max_events = 10}));
    EXPECT_STATUS(runtime::monitor::start_recording(*group_, {}), StatusCode::INVALID_OPERATION);
    pump(8);
    const TracedGroup traced = runtime::monitor::stop_recording(*group_);
    const auto& recording = traced.recording;
    EXPECT_EQ(recording.bursts.size() + recording.frames.size() + recording.queue_depths.size(),
              10u);
    // 8 submits, 8 bursts and 1 + 16 depth samples were offered; 10 kept.
    EXPECT_EQ(recording.dropped_events, 8u + 8u + 17u - 10u);
    const auto trace = nlohmann::json::parse(runtime::monitor::chrome_trace_json({traced}));
    EXPECT_EQ(test::chrome_trace_problems(trace), std::vector<std::string>{});
    EXPECT_EQ(trace["otherData"]["dropped_events"].get<uint64_t>(), recording.dropped_events);
    EXPECT_EQ(trace["otherData"]["recordings"][0]["max_events"].get<uint64_t>(), 10u);

    EXPECT_STATUS(runtime::monitor::start_recording(*group_, {.max_events = 0}),
                  StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace corun
