// Whether frames go to one placement: consecutive failures take it out of service, and after
// the probe interval one frame is let through as a probe, whose success puts it back. Pure: the
// caller passes the time, so tests drive it in virtual time.
#pragma once

#include <chrono>
#include <cstdint>

#include "corun/routed_model.hpp"

namespace corun::router {

class PlacementHealth {
public:
    using Clock = std::chrono::steady_clock;

    explicit PlacementHealth(const PlacementHealthParams& params) : params_(params) {}

    enum class Admission {
        ROUTE,  // in service
        PROBE,  // taken out, and this frame is its probe (one at a time)
        SKIP,   // taken out, not yet due for a probe, or its probe is still in flight
    };
    // Asked once per frame that reaches this placement; PROBE marks the probe as in flight.
    Admission admit(Clock::time_point now);

    // What became of a frame sent here. A probe that ran puts the placement back in service; a
    // frame that ran resets the consecutive failures.
    void ran(bool probe);
    // A failed frame; true when this failure took the placement out. A failed probe leaves it
    // out for another interval, from `now`. Failures of frames sent before it was taken out do
    // not move the interval.
    bool failed(bool probe, Clock::time_point now);
    // A probe the placement rejected (queue full, removed) says nothing about its health: the
    // next frame may probe again.
    void probe_inconclusive();
    // Back in service with a clean record (restore_placement).
    void restore();

    bool in_service() const { return in_service_; }
    uint32_t consecutive_failures() const { return consecutive_failures_; }
    uint64_t times_taken_out() const { return times_taken_out_; }
    uint64_t probes() const { return probes_; }

private:
    PlacementHealthParams params_;
    bool in_service_ = true;
    bool probe_in_flight_ = false;
    uint32_t consecutive_failures_ = 0;
    uint64_t times_taken_out_ = 0;
    uint64_t probes_ = 0;
    Clock::time_point out_since_{};  // taken out, or its last probe failed
};

}  // namespace corun::router
