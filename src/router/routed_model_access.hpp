// The router's door for tests: a RoutedModel whose health and log decisions read a clock the
// test moves (virtual time), so that "taken out, then probed after the interval" is asserted
// exactly rather than timed. Not part of the public API.
#pragma once

#include <chrono>
#include <functional>

#include "corun/routed_model.hpp"
#include "router/router.hpp"

namespace corun::router {

struct RoutedModelAccess {
    // Set it before the first frame: the router reads it from several threads.
    static void set_clock(RoutedModel& model,
                          std::function<std::chrono::steady_clock::time_point()> now) {
        model.router_->set_clock(std::move(now));
    }
};

}  // namespace corun::router
