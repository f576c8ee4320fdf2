// `corun run MODEL`: streaming inference on one model with random data or an input file, and
// a summary of throughput and latency (hailortcli run).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "cli_support.hpp"
#include "commands.hpp"
#include "frame_pump.hpp"

namespace corun::tools {
namespace {

struct RunOptions {
    std::string model_path;
    uint64_t frames_count = 0;
    double time_to_run = 0;
    uint16_t batch_size = 0;
    CpuDeviceParams cpu;
    std::string input_file;
    std::vector<std::string> shapes;
    std::string input_format_type = "auto";
    std::string output_format_type = "auto";
    std::string input_format_order = "auto";
    bool json = false;
    ServiceOptions service;
};

Status read_input_file(const std::string& path, std::vector<uint8_t>& buffer) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) return Status(StatusCode::NOT_FOUND, "--input file '" + path + "' cannot be opened");
    const auto size = static_cast<size_t>(file.tellg());
    if (size != buffer.size()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--input file '" + path + "' has " + std::to_string(size) +
                          " bytes; the input takes exactly " + std::to_string(buffer.size()) +
                          " bytes per frame (raw tensor data in the input's format)");
    }
    file.seekg(0);
    file.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(size));
    return Status::ok();
}

Status run(const RunOptions& options) {
    VDeviceParams params;
    params.group_id = "corun-run";
    params.cpu = options.cpu;
    apply_service_options(options.service, params);
    CORUN_TRY(auto vdevice, VDevice::create(params));
    CORUN_TRY(auto model, vdevice->create_infer_model(options.model_path));
    CORUN_RETURN_IF_ERROR(model->set_batch_size(options.batch_size));
    for (const auto& text : options.shapes) {
        CORUN_TRY(auto shape, parse_shape_option(text));
        CORUN_TRY(auto stream, model->input(shape.first));
        CORUN_RETURN_IF_ERROR(stream.set_shape(shape.second));
    }
    CORUN_TRY(FormatType input_type, parse_format_type(options.input_format_type));
    CORUN_TRY(FormatType output_type, parse_format_type(options.output_format_type));
    CORUN_TRY(FormatOrder input_order, parse_format_order(options.input_format_order));
    for (auto stream : model->inputs()) {
        stream.set_format_type(input_type);
        stream.set_format_order(input_order);
    }
    for (auto stream : model->outputs()) stream.set_format_type(output_type);
    CORUN_TRY(auto configured, model->configure());
    CORUN_TRY(size_t queue_size, configured.get_async_queue_size());

    // One set of buffers per queue slot, so frames in flight never share memory.
    std::mt19937 random(1234);
    std::vector<std::vector<uint8_t>> storage;
    std::vector<ConfiguredInferModel::Bindings> slots;
    for (size_t slot = 0; slot < queue_size; ++slot) {
        CORUN_TRY(auto bindings, configured.create_bindings());
        slots.push_back(std::move(bindings));
    }
    if (!options.input_file.empty() && model->inputs().size() != 1) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--input takes one raw tensor file, but the model has " +
                          std::to_string(model->inputs().size()) + " inputs");
    }
    // Sizes are checked before anything is allocated: a model with absurd dimensions is an
    // error naming them, not a std::bad_alloc (or the out-of-memory killer).
    if (slots.empty()) {
        return Status(StatusCode::INTERNAL_FAILURE, "the model reports an async queue of 0");
    }
    CORUN_TRY(const FrameBytes frame, frame_bytes(slots.front(), *model));
    CORUN_RETURN_IF_ERROR(check_frame_memory(frame, queue_size));
    storage.reserve(queue_size * (model->inputs().size() + model->outputs().size()));
    for (auto& bindings : slots) {
        for (const auto& stream : model->inputs()) {
            CORUN_TRY(auto bound, bindings.input(stream.name()));
            CORUN_TRY(auto buffer, allocate_frame_buffer(stream.name(), bound.get_frame_size()));
            storage.push_back(std::move(buffer));
            if (options.input_file.empty()) {
                fill_random(storage.back(), stream.format().type, random);
            } else {
                CORUN_RETURN_IF_ERROR(read_input_file(options.input_file, storage.back()));
            }
            CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(storage.back())));
        }
        for (const auto& stream : model->outputs()) {
            CORUN_TRY(auto bound, bindings.output(stream.name()));
            CORUN_TRY(auto buffer, allocate_frame_buffer(stream.name(), bound.get_frame_size()));
            storage.push_back(std::move(buffer));
            CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(storage.back())));
        }
    }

    PumpOptions pump;
    pump.frames = options.frames_count;
    pump.seconds =
        options.frames_count == 0 && options.time_to_run <= 0 ? 5.0 : options.time_to_run;
    const bool live = !options.json && isatty(STDERR_FILENO);
    if (live) {
        pump.on_progress = [](const PumpProgress& progress) {
            std::fprintf(stderr, "\r[run] %llu frames, %.1f s, %.1f FPS   ",
                         static_cast<unsigned long long>(progress.frames_done), progress.seconds,
                         progress.seconds > 0 ? progress.frames_done / progress.seconds : 0.0);
        };
    }
    CORUN_TRY(PumpResult result, pump_frames(configured, slots, pump));
    if (live) std::fprintf(stderr, "\r%60s\r", "");

    const double fps = result.seconds > 0 ? result.frames / result.seconds : 0;
    const auto overall = LatencySummary::of(result.total);
    const auto device = LatencySummary::of(result.device);
    const auto conversion = LatencySummary::of(result.conversion);
    const auto description = vdevice->physical_devices().front();
    if (options.json) {
        nlohmann::json summary = {{"model", options.model_path},
                                  {"device", description.id},
                                  {"threads", description.threads},
                                  {"batch_size", model->batch_size()},
                                  {"frames", result.frames},
                                  {"seconds", result.seconds},
                                  {"fps", fps},
                                  {"latency", overall.to_json()},
                                  {"device_latency", device.to_json()},
                                  {"conversion", conversion.to_json()}};
        std::cout << summary.dump(2) << "\n";
        return Status::ok();
    }
    std::printf("Model %s on %s (%u threads, batch size %u)\n", options.model_path.c_str(),
                description.id.c_str(), description.threads, model->batch_size());
    std::printf("  frames:            %llu in %.2f s\n",
                static_cast<unsigned long long>(result.frames), result.seconds);
    std::printf("  FPS:               %.1f\n", fps);
    std::printf("  latency (overall): p50 %.3f ms  p95 %.3f ms  p99 %.3f ms\n", overall.p50,
                overall.p95, overall.p99);
    std::printf("  latency (device):  p50 %.3f ms  p95 %.3f ms  p99 %.3f ms\n", device.p50,
                device.p95, device.p99);
    std::printf("  format conversion: mean %.3f ms per frame\n", conversion.mean);
    return Status::ok();
}

}  // namespace

void add_run_command(CLI::App& app) {
    static RunOptions options;
    auto* command = app.add_subcommand("run", "Stream frames through one model and measure it");
    command->add_option("model", options.model_path, "ONNX model file")->required();
    command->add_option("-c,--frames-count", options.frames_count, "Frames to run");
    command->add_option("-t,--time-to-run", options.time_to_run,
                        "Seconds to run (default 5 when no frame count is given)");
    command->add_option("--batch-size", options.batch_size, "Burst size (1..256; 0 = auto)");
    add_cpu_options(*command, options.cpu);
    command->add_option("--input", options.input_file,
                        "Raw tensor file for the single input (default: random data)");
    command->add_option("--shape", options.shapes,
                        "Fix dynamic input dims: NAME=D0,D1,... (native order)");
    command->add_option("--input-format-type", options.input_format_type,
                        "auto, uint8, uint16 or float32");
    command->add_option("--output-format-type", options.output_format_type,
                        "auto, uint8, uint16 or float32");
    command->add_option("--input-format-order", options.input_format_order, "auto, nhwc or nchw");
    command->add_flag("--json", options.json, "Print the summary as JSON");
    add_service_options(*command, options.service);
    command->callback([] {
        Status status = run(options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
