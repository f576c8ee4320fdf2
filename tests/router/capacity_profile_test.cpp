// The capacity profile: the npu-sim profile extended additively (an old profile still loads,
// npu-sim still loads a new one), its round trip, and a clear error for each bad field.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "router/capacity_profile.hpp"

namespace corun::router {
namespace {

using std::chrono::microseconds;

const char* OLD_PROFILE = R"({"device": {"context_switch_us": 400},
  "models": {"nanodet": {"frame_us": 8000, "host_pre_us": 900, "host_post_us": 300,
                         "max_in_flight": 4}}})";

const char* EXTENDED_PROFILE = R"({"device": {"context_switch_us": 0},
  "models": {"nanodet": {"frame_us": 21000}},
  "cpu": {"device": {"context_switch_us": 50, "cores": 2, "execution_slots": 2,
                     "intra_op_threads": 1, "interference": [1.0, 1.31],
                     "cold_after_us": 100000, "cold_by_slot": false,
                     "closed_loop_in_time": 0.67,
                     "closed_loop_in_time_by_clients": [0.76, 0.53, 0.67],
                     "closed_loop_gap_us_by_clients": [[0, 40, 90.5], [0, 0, 300]],
                     "one_burst_per_model": true,
                     "speed_share": 0.55, "speed_memory_us": 250000},
          "models": {"nanodet": {"frame_us": 33000, "host_pre_us": 60, "host_post_us": 25,
                                 "max_in_flight": 2, "overhead_us": 85,
                                 "cold_frame_us": 41000, "cold_spread": [1.0, 1.1, 1.6],
                                 "beside_spread": [0.8, 1.0, 1.4],
                                 "frame_spread": [0.9, 1.0, 1.0, 1.4],
                                 "interference": [1.0, 1.52],
                                 "closed_loop_in_time_by_clients": [0.5, 0.48, 0.6],
                                 "closed_loop_gap_us_by_clients": [[0, 1200]]}},
          "generative": {"qwen": {"prefill_chunk_tokens": 32, "prefill_chunk_us": 3700000,
                                  "decode_step_us": 104000,
                                  "prefill_spread": [0.9, 1.0, 1.7]}}}})";

TEST(CapacityProfileTest, AnOldNpuSimProfileLoadsAsTheNpuSimSection) {
    auto profile = parse_capacity_profile(OLD_PROFILE);
    ASSERT_TRUE(profile) << profile.status();
    ASSERT_EQ(profile->devices.size(), 1u);
    auto npu = profile->device(NPU_SIM_SECTION);
    ASSERT_TRUE(npu) << npu.status();
    EXPECT_EQ((*npu)->context_switch, microseconds(400));
    const auto& nanodet = (*npu)->models.at("nanodet");
    EXPECT_EQ(nanodet.frame, microseconds(8000));
    EXPECT_EQ(nanodet.host_pre, microseconds(900));
    EXPECT_EQ(nanodet.host_post, microseconds(300));
    EXPECT_EQ((*npu)->interference, std::vector<double>{1.0});
    // No cpu section: asking for it names the sections there are and the command.
    auto cpu = profile->device(CPU_SECTION);
    ASSERT_FALSE(cpu);
    EXPECT_EQ(cpu.status().code(), StatusCode::NOT_FOUND);
    EXPECT_NE(cpu.status().message().find("it has: npu-sim"), std::string::npos);
    EXPECT_NE(cpu.status().message().find("corun benchmark"), std::string::npos);
}

TEST(CapacityProfileTest, TheCpuSectionCarriesItsConfigurationInterferenceAndLlms) {
    auto profile = parse_capacity_profile(EXTENDED_PROFILE);
    ASSERT_TRUE(profile) << profile.status();
    auto cpu = profile->device(CPU_SECTION);
    ASSERT_TRUE(cpu) << cpu.status();
    EXPECT_EQ((*cpu)->context_switch, microseconds(50));
    EXPECT_EQ((*cpu)->cores, 2u);
    EXPECT_EQ((*cpu)->execution_slots, 2u);
    EXPECT_EQ((*cpu)->intra_op_threads, 1u);
    EXPECT_EQ((*cpu)->interference, (std::vector<double>{1.0, 1.31}));
    EXPECT_EQ((*cpu)->models.at("nanodet").frame, microseconds(33000));
    EXPECT_EQ((*cpu)->overhead.at("nanodet"), microseconds(85));
    EXPECT_EQ((*cpu)->cold_frame.at("nanodet"), microseconds(41000));
    EXPECT_EQ((*cpu)->cold_after, microseconds(100000));
    EXPECT_EQ((*cpu)->frame_spread.at("nanodet"), (std::vector<double>{0.9, 1.0, 1.0, 1.4}));
    EXPECT_EQ((*cpu)->model_interference.at("nanodet"), (std::vector<double>{1.0, 1.52}));
    const GenerativeTiming& qwen = (*cpu)->generative.at("qwen");
    EXPECT_EQ(qwen.prefill_chunk_tokens, 32u);
    EXPECT_EQ(qwen.prefill_chunk, microseconds(3700000));
    EXPECT_EQ(qwen.decode_step, microseconds(104000));
    EXPECT_EQ((*cpu)->model_names(), (std::vector<std::string>{"nanodet", "qwen"}));
    // The top level is still what npu-sim reads, and npu-sim reads the extended file.
    EXPECT_EQ(profile->devices.at(NPU_SIM_SECTION).models.at("nanodet").frame, microseconds(21000));
    auto npu = devices::npu_sim::parse_npu_profile(EXTENDED_PROFILE);
    ASSERT_TRUE(npu) << npu.status();
    EXPECT_EQ(npu->models.at("nanodet").frame, microseconds(21000));
}

TEST(CapacityProfileTest, WritingAndReadingGivesTheSameProfile) {
    auto profile = parse_capacity_profile(EXTENDED_PROFILE);
    ASSERT_TRUE(profile) << profile.status();
    auto again = parse_capacity_profile(capacity_profile_to_json(*profile));
    ASSERT_TRUE(again) << again.status();
    for (const char* section : {NPU_SIM_SECTION, CPU_SECTION}) {
        const DeviceProfile& before = profile->devices.at(section);
        const DeviceProfile& after = again->devices.at(section);
        EXPECT_EQ(after.context_switch, before.context_switch) << section;
        EXPECT_EQ(after.interference, before.interference) << section;
        EXPECT_EQ(after.model_names(), before.model_names()) << section;
        for (const auto& [name, timing] : before.models) {
            EXPECT_EQ(after.models.at(name).frame, timing.frame);
            EXPECT_EQ(after.models.at(name).host_pre, timing.host_pre);
            EXPECT_EQ(after.models.at(name).host_post, timing.host_post);
            EXPECT_EQ(after.models.at(name).max_in_flight, timing.max_in_flight);
        }
    }
    EXPECT_EQ(again->devices.at(CPU_SECTION).generative.at("qwen").decode_step,
              microseconds(104000));
    EXPECT_EQ(again->devices.at(CPU_SECTION).generative.at("qwen").prefill_spread,
              (std::vector<double>{0.9, 1.0, 1.7}));
    EXPECT_EQ(again->devices.at(CPU_SECTION).execution_slots, 2u);
    EXPECT_EQ(again->devices.at(CPU_SECTION).overhead.at("nanodet"), microseconds(85));
    EXPECT_EQ(again->devices.at(CPU_SECTION).cold_frame.at("nanodet"), microseconds(41000));
    EXPECT_EQ(again->devices.at(CPU_SECTION).cold_after, microseconds(100000));
    EXPECT_EQ(again->devices.at(CPU_SECTION).cold_spread.at("nanodet"),
              (std::vector<double>{1.0, 1.1, 1.6}));
    EXPECT_FALSE(again->devices.at(CPU_SECTION).cold_by_slot);
    EXPECT_EQ(again->devices.at(CPU_SECTION).beside_spread.at("nanodet"),
              (std::vector<double>{0.8, 1.0, 1.4}));
    EXPECT_TRUE(again->devices.at(NPU_SIM_SECTION).cold_by_slot);  // the default
    EXPECT_EQ(again->devices.at(CPU_SECTION).speed_share, 0.55);
    EXPECT_EQ(again->devices.at(CPU_SECTION).speed_memory, microseconds(250000));
    EXPECT_EQ(again->devices.at(NPU_SIM_SECTION).speed_share, 0.0);  // the default: independent
    EXPECT_EQ(again->devices.at(CPU_SECTION).frame_spread.at("nanodet"),
              (std::vector<double>{0.9, 1.0, 1.0, 1.4}));
    EXPECT_EQ(again->devices.at(CPU_SECTION).model_interference.at("nanodet"),
              (std::vector<double>{1.0, 1.52}));
    EXPECT_EQ(profile->devices.at(CPU_SECTION).closed_loop_in_time, 0.67);
    EXPECT_EQ(again->devices.at(CPU_SECTION).closed_loop_in_time, 0.67);
    EXPECT_EQ(again->devices.at(NPU_SIM_SECTION).closed_loop_in_time, 1.0);
    EXPECT_EQ(again->devices.at(CPU_SECTION).closed_loop_in_time_by_clients,
              (std::vector<double>{0.76, 0.53, 0.67}));
    EXPECT_TRUE(again->devices.at(NPU_SIM_SECTION).closed_loop_in_time_by_clients.empty());
    EXPECT_EQ(again->devices.at(CPU_SECTION).model_closed_loop_in_time_by_clients.at("nanodet"),
              (std::vector<double>{0.5, 0.48, 0.6}));
    EXPECT_EQ(again->devices.at(CPU_SECTION).closed_loop_gaps_by_clients,
              (std::vector<DeviceProfile::ReturnGaps>{
                  {microseconds(0), microseconds(40), std::chrono::nanoseconds(90500)},
                  {microseconds(0), microseconds(0), microseconds(300)}}));
    EXPECT_EQ(again->devices.at(CPU_SECTION).model_closed_loop_gaps_by_clients.at("nanodet"),
              (std::vector<DeviceProfile::ReturnGaps>{{microseconds(0), microseconds(1200)}}));
    EXPECT_TRUE(again->devices.at(NPU_SIM_SECTION).closed_loop_gaps_by_clients.empty());
    // The older field: "closed_loop_after_decision": true is a share of 0.
    auto older = parse_capacity_profile(
        R"({"cpu": {"device": {"closed_loop_after_decision": true}, "models": {}}})");
    ASSERT_TRUE(older.has_value()) << older.status();
    EXPECT_EQ(older->devices.at(CPU_SECTION).closed_loop_in_time, 0.0);
    EXPECT_TRUE(again->devices.at(CPU_SECTION).one_burst_per_model);
    EXPECT_FALSE(again->devices.at(NPU_SIM_SECTION).one_burst_per_model);
}

TEST(CapacityProfileTest, TheClosedLoopShareIsTheOneMeasuredForTheWorkloadsNumberOfModels) {
    DeviceProfile device;
    device.closed_loop_in_time = 0.64;
    EXPECT_EQ(device.closed_loop_share(2), 0.64);  // nothing measured per number
    device.closed_loop_in_time_by_clients = {0.76, 0.53, 0.64};
    EXPECT_EQ(device.closed_loop_share(0), 0.64);  // no closed loop: the device's
    EXPECT_EQ(device.closed_loop_share(1), 0.64);  // alone: nothing races it
    EXPECT_EQ(device.closed_loop_share(2), 0.76);
    EXPECT_EQ(device.closed_loop_share(3), 0.53);
    EXPECT_EQ(device.closed_loop_share(4), 0.64);
    EXPECT_EQ(device.closed_loop_share(9), 0.64);  // beyond what was measured: the most
}

TEST(CapacityProfileTest, AModelsOwnClosedLoopShareComesBeforeTheDevices) {
    DeviceProfile device;
    device.closed_loop_in_time = 0.64;
    device.closed_loop_in_time_by_clients = {0.76, 0.53, 0.64};
    device.model_closed_loop_in_time_by_clients["nanodet"] = {0.5, 0.48};
    EXPECT_EQ(device.closed_loop_share("nanodet", 2), 0.5);
    EXPECT_EQ(device.closed_loop_share("nanodet", 3), 0.48);
    EXPECT_EQ(device.closed_loop_share("nanodet", 4), 0.48);        // its own, the most measured
    EXPECT_EQ(device.closed_loop_share("nanodet", 1), 0.64);        // alone: the device's
    EXPECT_EQ(device.closed_loop_share("mobilefacenet", 2), 0.76);  // none of its own
}

TEST(CapacityProfileTest, TheReturnGapsAreTheModelsOwnElseTheDevicesForTheWorkloadsNumber) {
    using Gaps = DeviceProfile::ReturnGaps;
    DeviceProfile device;
    EXPECT_TRUE(device.closed_loop_gaps(3).empty());  // none measured: the shares say
    EXPECT_TRUE(device.closed_loop_gaps("nanodet", 3).empty());
    device.closed_loop_gaps_by_clients = {Gaps{microseconds(10)}, Gaps{microseconds(20)},
                                          Gaps{microseconds(30)}};
    device.model_closed_loop_gaps_by_clients["nanodet"] = {Gaps{microseconds(400)},
                                                           Gaps{microseconds(500)}};
    EXPECT_EQ(device.closed_loop_gaps(2), Gaps{microseconds(10)});
    EXPECT_EQ(device.closed_loop_gaps(4), Gaps{microseconds(30)});
    EXPECT_EQ(device.closed_loop_gaps(9), Gaps{microseconds(30)});  // beyond: the most measured
    EXPECT_EQ(device.closed_loop_gaps(1), Gaps{microseconds(30)});  // fewer than two: the same
    EXPECT_EQ(device.closed_loop_gaps("nanodet", 2), Gaps{microseconds(400)});
    EXPECT_EQ(device.closed_loop_gaps("nanodet", 4), Gaps{microseconds(500)});
    EXPECT_EQ(device.closed_loop_gaps("mobilefacenet", 3), Gaps{microseconds(20)});
}

void expect_invalid(const std::string& json, const std::string& expected) {
    auto profile = parse_capacity_profile(json);
    ASSERT_FALSE(profile) << json;
    EXPECT_EQ(profile.status().code(), StatusCode::INVALID_ARGUMENT) << json;
    EXPECT_NE(profile.status().message().find(expected), std::string::npos)
        << profile.status().message();
}

TEST(CapacityProfileTest, EachBadFieldIsNamed) {
    expect_invalid("[1, 2]", "not a JSON object");
    expect_invalid("{\"cpu\": ", "not a JSON object");
    expect_invalid("{}", "neither \"models\" (npu-sim) nor a \"cpu\" section");
    expect_invalid(R"({"cpu": 3})", "\"cpu\" must be an object");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": -1}}}})", "\"cpu\" section");
    expect_invalid(R"({"cpu": {"device": {"interference": []}, "models": {}}})",
                   "cpu.device.interference must be a list");
    expect_invalid(R"({"cpu": {"device": {"interference": [1.0, 0]}, "models": {}}})", "0.1..100");
    expect_invalid(R"({"cpu": {"device": {"execution_slots": 0}, "models": {}}})",
                   "execution_slots must be >= 1");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "cold_frame_us": -1}}}})",
                   "cpu.models.a.cold_frame_us must be a number");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "frame_spread": 1.2}}}})",
                   "cpu.models.a.frame_spread must be a list of 1..64 ratios");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "frame_spread": []}}}})",
                   "cpu.models.a.frame_spread must be a list of 1..64 ratios");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "frame_spread": [1, 0]}}}})",
                   "cpu.models.a.frame_spread holds 0; each ratio is");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "frame_spread": [1.2, 1.1]}}}})",
                   "cpu.models.a.frame_spread must be ascending");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "interference": [1, 0.01]}}}})",
                   "cpu.models.a.interference holds 0.01");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "cold_spread": [1.3, 1.2]}}}})",
                   "cpu.models.a.cold_spread must be ascending");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5, "beside_spread": [0]}}}})",
                   "cpu.models.a.beside_spread holds 0");
    expect_invalid(R"({"cpu": {"device": {"cold_by_slot": "yes"}, "models": {}}})",
                   "cpu.device.cold_by_slot must be true or false");
    expect_invalid(R"({"cpu": {"device": {"speed_share": 1.5}, "models": {}}})",
                   "cpu.device.speed_share must be a number from 0 to 1");
    expect_invalid(R"({"cpu": {"device": {"speed_share": 0.5}, "models": {}}})",
                   "cpu.device.speed_share needs speed_memory_us, more than 0");
    expect_invalid(R"({"cpu": {"device": {"speed_share": 0.5, "speed_memory_us": "x"}}})",
                   "cpu.device.speed_memory_us must be a number");
    expect_invalid(R"({"cpu": {"device": {"cold_after_us": "x"}, "models": {}}})",
                   "cpu.device.cold_after_us must be a number");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_after_decision": 1}, "models": {}}})",
                   "cpu.device.closed_loop_after_decision must be true or false");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_in_time": 1.5}, "models": {}}})",
                   "cpu.device.closed_loop_in_time must be a number from 0 to 1");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_in_time_by_clients": 0.5}}})",
                   "cpu.device.closed_loop_in_time_by_clients must be a list of 1..256 shares");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_in_time_by_clients": []}}})",
                   "must be a list of 1..256 shares");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_gap_us_by_clients": [10, 20]}}})",
                   "cpu.device.closed_loop_gap_us_by_clients[0] must be a list of 1..64 gaps");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_gap_us_by_clients": []}}})",
                   "cpu.device.closed_loop_gap_us_by_clients must be a list of 1..256 lists");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_gap_us_by_clients": [[0, -5]]}}})",
                   "closed_loop_gap_us_by_clients[0] holds -5; each is how long after");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_gap_us_by_clients": [[0, 90, 40]]}}})",
                   "closed_loop_gap_us_by_clients[0] must be ascending");
    expect_invalid(R"({"cpu": {"models": {"a": {"frame_us": 5,
                       "closed_loop_gap_us_by_clients": [[0], [1e9]]}}}})",
                   "cpu.models.a.closed_loop_gap_us_by_clients[1] holds 1000000000.0");
    expect_invalid(R"({"cpu": {"device": {}, "models": {}, "generative": {"q": {
                       "prefill_chunk_us": 1000, "decode_step_us": 100,
                       "prefill_spread": [1.2, 0.9]}}}})",
                   "cpu.generative.q.prefill_spread must be ascending");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_in_time_by_clients": [0.5, -0.1]}}})",
                   "closed_loop_in_time_by_clients holds -0.1; each is a share of frames");
    expect_invalid(R"({"cpu": {"device": {}, "models": {"m": {"frame_us": 1000,
                       "closed_loop_in_time_by_clients": [1.2]}}}})",
                   "cpu.models.m.closed_loop_in_time_by_clients holds 1.2; each is a share of "
                   "frames from 0 to 1");
    expect_invalid(R"({"cpu": {"device": {"closed_loop_in_time": 0.5,
                       "closed_loop_after_decision": false}, "models": {}}})",
                   "has both closed_loop_after_decision and closed_loop_in_time");
    expect_invalid(R"({"cpu": {"device": {"one_burst_per_model": "yes"}, "models": {}}})",
                   "cpu.device.one_burst_per_model must be true or false");
    expect_invalid(R"({"cpu": {"device": {"cores": -2}, "models": {}}})",
                   "cpu.device.cores must be an integer");
    expect_invalid(R"({"cpu": {"generative": {"q": {"prefill_chunk_us": 10}}}})",
                   "cpu.generative.q has no \"decode_step_us\"");
    expect_invalid(R"({"cpu": {"generative": {"q": {"prefill_chunk_us": 10,
                    "decode_step_us": 0}}}})",
                   "cpu.generative.q.decode_step_us must be a number");
    expect_invalid(R"({"cpu": {"models": {"q": {"frame_us": 5}},
                    "generative": {"q": {"prefill_chunk_us": 10, "decode_step_us": 1}}}})",
                   "'q' is under both cpu.models and cpu.generative");
}

TEST(CapacityProfileTest, AMissingFileNamesTheCommandThatWritesOne) {
    auto profile = load_capacity_profile("/nonexistent/profile.json");
    ASSERT_FALSE(profile);
    EXPECT_EQ(profile.status().code(), StatusCode::NOT_FOUND);
    EXPECT_NE(profile.status().message().find("/nonexistent/profile.json"), std::string::npos);
    EXPECT_NE(profile.status().message().find("corun benchmark"), std::string::npos);

    const std::string path =
        testing::TempDir() + "capacity_profile_" + std::to_string(getpid()) + ".json";
    std::ofstream(path) << EXTENDED_PROFILE;
    auto loaded = load_capacity_profile(path);
    std::remove(path.c_str());
    ASSERT_TRUE(loaded) << loaded.status();
    EXPECT_EQ(loaded->devices.size(), 2u);
}

}  // namespace
}  // namespace corun::router
