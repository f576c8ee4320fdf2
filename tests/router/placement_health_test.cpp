// PlacementHealth in virtual time (the caller passes the time): consecutive failures take a
// placement out, a probe goes through once per interval, its success puts the placement back;
// and how the router reads a placement's status (rejection, failure, caller error).
#include <gtest/gtest.h>

#include "router/placement_health.hpp"
#include "router/routing_outcome.hpp"

namespace corun::router {
namespace {

using Admission = PlacementHealth::Admission;
using std::chrono::milliseconds;

const PlacementHealth::Clock::time_point T0{};

PlacementHealthParams three_failures_probe_every_100ms() {
    PlacementHealthParams params;
    params.failures_to_take_out = 3;
    params.probe_interval = milliseconds(100);
    return params;
}

TEST(PlacementHealthTest, ConsecutiveFailuresTakeItOutAndASuccessResetsTheCount) {
    PlacementHealth health(three_failures_probe_every_100ms());
    EXPECT_EQ(health.admit(T0), Admission::ROUTE);
    EXPECT_FALSE(health.failed(false, T0));
    EXPECT_FALSE(health.failed(false, T0));
    health.ran(false);  // two failures, then a success: not consecutive
    EXPECT_EQ(health.consecutive_failures(), 0u);
    EXPECT_FALSE(health.failed(false, T0));
    EXPECT_FALSE(health.failed(false, T0));
    EXPECT_TRUE(health.in_service());
    EXPECT_TRUE(health.failed(false, T0));  // the third in a row
    EXPECT_FALSE(health.in_service());
    EXPECT_EQ(health.times_taken_out(), 1u);
    EXPECT_EQ(health.admit(T0), Admission::SKIP);
}

TEST(PlacementHealthTest, OneProbePerIntervalAndItsSuccessPutsThePlacementBack) {
    PlacementHealth health(three_failures_probe_every_100ms());
    for (int i = 0; i < 3; ++i) health.failed(false, T0);
    ASSERT_FALSE(health.in_service());
    EXPECT_EQ(health.admit(T0 + milliseconds(99)), Admission::SKIP);
    EXPECT_EQ(health.admit(T0 + milliseconds(100)), Admission::PROBE);
    // One probe at a time: the next frame skips it while the probe is in flight.
    EXPECT_EQ(health.admit(T0 + milliseconds(150)), Admission::SKIP);
    EXPECT_EQ(health.probes(), 1u);
    health.ran(true);
    EXPECT_TRUE(health.in_service());
    EXPECT_EQ(health.consecutive_failures(), 0u);
    EXPECT_EQ(health.admit(T0 + milliseconds(150)), Admission::ROUTE);
}

TEST(PlacementHealthTest, AFailedProbeLeavesItOutForAnotherIntervalFromThen) {
    PlacementHealth health(three_failures_probe_every_100ms());
    for (int i = 0; i < 3; ++i) health.failed(false, T0);
    ASSERT_EQ(health.admit(T0 + milliseconds(100)), Admission::PROBE);
    EXPECT_FALSE(health.failed(true, T0 + milliseconds(120)));  // still out, not "taken out again"
    EXPECT_EQ(health.times_taken_out(), 1u);
    EXPECT_EQ(health.admit(T0 + milliseconds(219)), Admission::SKIP);
    EXPECT_EQ(health.admit(T0 + milliseconds(220)), Admission::PROBE);
    EXPECT_EQ(health.probes(), 2u);
}

TEST(PlacementHealthTest, LateFailuresOfFramesSentBeforeItWasTakenOutDoNotMoveTheInterval) {
    PlacementHealth health(three_failures_probe_every_100ms());
    for (int i = 0; i < 3; ++i) health.failed(false, T0);
    EXPECT_FALSE(health.failed(false, T0 + milliseconds(90)));  // a frame that was in flight
    EXPECT_EQ(health.admit(T0 + milliseconds(100)), Admission::PROBE);
    // A frame sent before it was taken out that ran after does not put it back: only a probe.
    health.ran(false);
    EXPECT_FALSE(health.in_service());
}

TEST(PlacementHealthTest, ARejectedProbeSaysNothingAndTheNextFrameProbesAgain) {
    PlacementHealth health(three_failures_probe_every_100ms());
    for (int i = 0; i < 3; ++i) health.failed(false, T0);
    ASSERT_EQ(health.admit(T0 + milliseconds(100)), Admission::PROBE);
    health.probe_inconclusive();
    EXPECT_EQ(health.admit(T0 + milliseconds(100)), Admission::PROBE);
    EXPECT_FALSE(health.in_service());
}

TEST(PlacementHealthTest, RestorePutsItBackWithACleanRecord) {
    PlacementHealth health(three_failures_probe_every_100ms());
    for (int i = 0; i < 3; ++i) health.failed(false, T0);
    health.restore();
    EXPECT_TRUE(health.in_service());
    EXPECT_EQ(health.consecutive_failures(), 0u);
    EXPECT_EQ(health.admit(T0), Admission::ROUTE);
}

TEST(RoutingOutcomeTest, RejectionsAndFailuresFallBackAndTheCallersErrorsDoNot) {
    EXPECT_EQ(classify_attempt(StatusCode::SUCCESS), AttemptOutcome::RAN);
    for (StatusCode code : {StatusCode::QUEUE_IS_FULL, StatusCode::DEADLINE_EXCEEDED,
                            StatusCode::SHUTDOWN, StatusCode::RESOURCE_LIMIT}) {
        EXPECT_EQ(classify_attempt(code), AttemptOutcome::REJECTED) << code;
    }
    for (StatusCode code : {StatusCode::DEVICE_FAILURE, StatusCode::TIMEOUT, StatusCode::RPC_FAILED,
                            StatusCode::ABORTED, StatusCode::INTERNAL_FAILURE}) {
        EXPECT_EQ(classify_attempt(code), AttemptOutcome::FAILED) << code;
    }
    for (StatusCode code :
         {StatusCode::INVALID_ARGUMENT, StatusCode::INVALID_OPERATION, StatusCode::NOT_FOUND}) {
        EXPECT_EQ(classify_attempt(code), AttemptOutcome::CALLER_ERROR) << code;
        EXPECT_FALSE(falls_back(classify_attempt(code)));
    }
}

}  // namespace
}  // namespace corun::router
