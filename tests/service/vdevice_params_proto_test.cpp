// A VDevice's params as they travel to corund: what the client sets is what corund opens, and
// a field a client older than it does not send takes its default (not protobuf's zero).
#include <gtest/gtest.h>

#include <chrono>

#include "protocol/proto_conversion.hpp"

namespace corun::service {
namespace {

using namespace std::chrono_literals;

TEST(VDeviceParamsProtoTest, TheSchedulersParamsArriveAsSet) {
    VDeviceParams params;
    params.group_id = "proto-test";
    params.scheduler.fair_device_time = false;
    params.scheduler.aging_step = 40ms;
    params.scheduler.anticipation = 120us;
    v1::VDeviceParams message;
    to_proto(params, message);
    const VDeviceParams received = from_proto(message);
    EXPECT_EQ(received.group_id, "proto-test");
    EXPECT_FALSE(received.scheduler.fair_device_time);
    EXPECT_EQ(received.scheduler.aging_step, 40ms);
    EXPECT_EQ(received.scheduler.anticipation, 120us);
    // 0 (decide at once) is a value like any other, not "unset".
    params.scheduler.anticipation = 0us;
    to_proto(params, message);
    EXPECT_EQ(from_proto(message).scheduler.anticipation, 0us);
}

TEST(VDeviceParamsProtoTest, AClientThatSendsNoAnticipationGetsTheDefault) {
    v1::VDeviceParams message;
    message.set_group_id("old-client");
    ASSERT_FALSE(message.has_anticipation_us());
    EXPECT_EQ(from_proto(message).scheduler.anticipation, SchedulerParams{}.anticipation);
    EXPECT_EQ(SchedulerParams{}.anticipation, 250us);
}

}  // namespace
}  // namespace corun::service
