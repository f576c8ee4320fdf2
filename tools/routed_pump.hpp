// `run2 set-net MODEL --placements npu-sim,cpu`: a routed model (docs/ROUTER.md) with random
// input buffers for its frames in flight, driven by the frame pump like a configured model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "corun/routed_model.hpp"
#include "frame_pump.hpp"

namespace corun::tools {

// A routed model with one set of buffers per frame in flight.
class PreparedRoutedModel : public FrameTarget {
public:
    // Loads `setup.path` on every placement (a placement that cannot load it stays NOT_LOADED,
    // as RoutedModel::create says) with `params`' placements, SLO and priority.
    static Expected<std::unique_ptr<PreparedRoutedModel>> create(const ModelSetup& setup,
                                                                 RoutedModelParams params);

    size_t slot_count() const override { return slots_.size(); }
    // The routed model has no async queue of its own: the slots bound the frames in flight.
    Status wait_until_ready() override { return Status::ok(); }
    Expected<std::function<void()>> submit(size_t slot,
                                           std::function<void(const PumpedFrame&)> done) override;

    RoutedModel& routed() { return *routed_; }
    const std::string& name() const { return routed_->name(); }

private:
    PreparedRoutedModel() = default;
    std::shared_ptr<RoutedModel> routed_;
    std::vector<RoutedModel::Bindings> slots_;
    std::vector<std::vector<uint8_t>> storage_;  // never resized after the bindings point into it
};

// "npu-sim,cpu" → ["npu-sim", "cpu"]: device ids or kinds, in order of preference, no
// duplicates. INVALID_ARGUMENT naming the fix for an empty list or an unknown kind.
Expected<std::vector<std::string>> parse_placement_list(const std::string& text);

}  // namespace corun::tools
