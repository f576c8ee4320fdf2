#include "router/placement_health.hpp"

namespace corun::router {

PlacementHealth::Admission PlacementHealth::admit(Clock::time_point now) {
    if (in_service_) return Admission::ROUTE;
    if (probe_in_flight_ || now - out_since_ < params_.probe_interval) return Admission::SKIP;
    probe_in_flight_ = true;
    ++probes_;
    return Admission::PROBE;
}

void PlacementHealth::ran(bool probe) {
    consecutive_failures_ = 0;
    if (probe) {
        probe_in_flight_ = false;
        in_service_ = true;
    }
}

bool PlacementHealth::failed(bool probe, Clock::time_point now) {
    ++consecutive_failures_;
    if (probe) {
        probe_in_flight_ = false;
        out_since_ = now;
        return false;
    }
    if (!in_service_ || consecutive_failures_ < params_.failures_to_take_out) return false;
    in_service_ = false;
    out_since_ = now;
    ++times_taken_out_;
    return true;
}

void PlacementHealth::probe_inconclusive() {
    probe_in_flight_ = false;
}

void PlacementHealth::restore() {
    in_service_ = true;
    probe_in_flight_ = false;
    consecutive_failures_ = 0;
}

}  // namespace corun::router
