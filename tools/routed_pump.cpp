#include "routed_pump.hpp"

#include <algorithm>
#include <random>
#include <sstream>

namespace corun::tools {

// Frames in flight: as many as the placements' async queues hold together (2 x the burst size
// each, corun's default queue), so the first placement's queue fills and frames fall back to
// the next. A frame that finds every queue full (a slot is reused as soon as its frame
// completed, a moment before its placement frees the queue entry) is refused with
// QUEUE_IS_FULL and counted.
size_t frames_in_flight(size_t placements, uint16_t batch_size) {
    return placements * 2 * std::max<size_t>(1, batch_size);
}

Expected<std::unique_ptr<PreparedRoutedModel>> PreparedRoutedModel::create(
    const ModelSetup& setup, RoutedModelParams params) {
    if (params.placements.empty() || !params.placements.front().vdevice) {
        return Status(StatusCode::INVALID_ARGUMENT, "a routed model needs at least one placement");
    }
    if (!setup.shapes.empty()) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "--shape is not supported with --placements (routed models take the "
                      "model's own shapes); fix the shapes in the model or drop --placements");
    }
    params.batch_size = setup.batch_size;
    CORUN_TRY(auto routed, RoutedModel::create(setup.path, params));
    // The element types of the inputs, for plausible random data (the user formats, which
    // are the model's defaults, are the same on every placement), from a placement that
    // loads the model.
    Expected<std::shared_ptr<InferModel>> model =
        Status(StatusCode::NOT_FOUND, "no placement loads the model");
    for (const auto& placement : params.placements) {
        model = placement.vdevice->create_infer_model(setup.path);
        if (model) break;
    }
    if (!model) return model.status();
    std::unique_ptr<PreparedRoutedModel> prepared(new PreparedRoutedModel());
    prepared->routed_ = std::move(routed);
    RoutedModel& routed_model = *prepared->routed_;

    const size_t slots = frames_in_flight(params.placements.size(), setup.batch_size);
    std::mt19937 random(1234);
    const size_t streams =
        routed_model.get_input_names().size() + routed_model.get_output_names().size();
    prepared->storage_.reserve(slots * streams);
    for (size_t slot = 0; slot < slots; ++slot) {
        std::map<std::string, MemoryView> buffers;
        for (const auto& name : routed_model.get_input_names()) {
            CORUN_TRY(const size_t bytes, routed_model.get_frame_size(name));
            CORUN_TRY(auto buffer, allocate_frame_buffer(name, bytes));
            prepared->storage_.push_back(std::move(buffer));
            CORUN_TRY(auto stream, (*model)->input(name));
            fill_random(prepared->storage_.back(), stream.format().type, random);
            buffers[name] = MemoryView::of(prepared->storage_.back());
        }
        for (const auto& name : routed_model.get_output_names()) {
            CORUN_TRY(const size_t bytes, routed_model.get_frame_size(name));
            CORUN_TRY(auto buffer, allocate_frame_buffer(name, bytes));
            prepared->storage_.push_back(std::move(buffer));
            buffers[name] = MemoryView::of(prepared->storage_.back());
        }
        CORUN_TRY(auto bindings, routed_model.create_bindings(buffers));
        prepared->slots_.push_back(std::move(bindings));
    }
    return prepared;
}

Expected<std::function<void()>> PreparedRoutedModel::submit(
    size_t slot, std::function<void(const PumpedFrame&)> done) {
    auto job = routed_->run_async(slots_[slot],
                                  [done = std::move(done)](const RoutedCompletionInfo& info) {
                                      done(PumpedFrame{info.status, info.timing});
                                  });
    if (!job) return job.status();
    auto waiting = std::make_shared<RoutedInferJob>(job.release());
    return std::function<void()>(
        [waiting] { waiting->wait(std::chrono::milliseconds::max()).ignore(); });
}

Expected<std::vector<std::string>> parse_placement_list(const std::string& text) {
    std::vector<std::string> placements;
    std::stringstream words(text);
    std::string word;
    while (std::getline(words, word, ',')) {
        if (word.empty()) continue;
        const std::string kind = word.substr(0, word.find(':'));
        if (kind != "cpu" && kind != "npu-sim") {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "--placements: unknown device '" + word +
                              "'; give devices in order of preference, e.g. npu-sim,cpu");
        }
        const std::string id = word.find(':') == std::string::npos ? word + ":0" : word;
        if (std::find(placements.begin(), placements.end(), id) != placements.end()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "--placements names '" + id + "' twice; name each device once");
        }
        placements.push_back(id);
    }
    if (placements.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--placements is empty; give devices in order of preference, e.g. "
                      "npu-sim,cpu");
    }
    return placements;
}

}  // namespace corun::tools
