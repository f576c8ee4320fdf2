// `corun run MODEL`: streaming inference on one model with random data or input files, and
// a summary of throughput and latency (hailortcli run). With --output-dir, one frame instead,
// whose outputs are written to files (docs/CLI.md).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "cli_support.hpp"
#include "commands.hpp"
#include "frame_pump.hpp"
#include "input_tensor_file.hpp"
#include "output_files.hpp"

namespace corun::tools {
namespace {

struct RunOptions {
    std::string model_path;
    uint64_t frames_count = 0;
    double time_to_run = 0;
    uint16_t batch_size = 0;
    CpuDeviceParams cpu;
    std::vector<std::string> inputs;  // [NAME=]FILE
    std::string output_dir;
    std::vector<std::string> shapes;
    std::string input_format_type = "auto";
    std::string output_format_type = "auto";
    std::string input_format_order = "auto";
    bool json = false;
    ServiceOptions service;
};

// The shape of an output frame: the stream's, or where the model leaves a dimension dynamic,
// what the frame's size says (one unknown dimension), else flat.
std::vector<int64_t> output_frame_shape(const InferModel::InferStream& stream, size_t bytes) {
    std::vector<int64_t> shape = stream.shape();
    const size_t element_size = format_type_size(stream.format().type);
    if (element_size == 0) return {static_cast<int64_t>(bytes)};
    const int64_t count = static_cast<int64_t>(bytes / element_size);
    int64_t known = 1;
    int unknown = 0;
    for (const int64_t dim : shape) {
        if (dim < 0) {
            ++unknown;
        } else {
            known *= dim;
        }
    }
    if (unknown == 0 && known == count) return shape;
    if (unknown == 1 && known > 0 && count % known == 0) {
        for (auto& dim : shape) {
            if (dim < 0) dim = count / known;
        }
        return shape;
    }
    return {count};
}

// --output-dir: one frame with the given (or random) inputs; each output written to files.
Status run_one_frame_to_files(const RunOptions& options, InferModel& model,
                              ConfiguredInferModel& configured,
                              const std::vector<InputTensorFile>& files) {
    CORUN_TRY(auto bindings, configured.create_bindings());
    CORUN_TRY(const FrameBytes frame, frame_bytes(bindings, model));
    CORUN_RETURN_IF_ERROR(check_frame_memory(frame, 1));
    std::mt19937 random(1234);
    std::vector<std::vector<uint8_t>> inputs;
    inputs.reserve(model.inputs().size());
    for (const auto& stream : model.inputs()) {
        CORUN_TRY(auto bound, bindings.input(stream.name()));
        const auto file = std::find_if(files.begin(), files.end(),
                                       [&](const auto& f) { return f.stream == stream.name(); });
        if (file != files.end()) {
            CORUN_TRY(auto data, input_frame(*file, stream, bound.get_frame_size()));
            inputs.push_back(std::move(data));
        } else {
            CORUN_TRY(auto buffer, allocate_frame_buffer(stream.name(), buffer_bytes(bound, true)));
            fill_random(buffer, stream.format().type, random);
            inputs.push_back(std::move(buffer));
            std::fprintf(stderr, "corun: input '%s' has no --input file: random data (seed 1234)\n",
                         stream.name().c_str());
        }
        CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(inputs.back())));
    }
    std::vector<std::vector<uint8_t>> outputs;
    outputs.reserve(model.outputs().size());
    for (const auto& stream : model.outputs()) {
        CORUN_TRY(auto bound, bindings.output(stream.name()));
        CORUN_TRY(auto buffer, allocate_frame_buffer(stream.name(), buffer_bytes(bound, false)));
        outputs.push_back(std::move(buffer));
        CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(outputs.back())));
    }
    // The frame time limit bounds the frame; the wait itself need not.
    CORUN_RETURN_IF_ERROR(configured.run(bindings, INFINITE_TIMEOUT), "running the frame");

    std::vector<OutputTensor> tensors;
    for (size_t i = 0; i < model.outputs().size(); ++i) {
        const auto& stream = model.outputs()[i];
        tensors.push_back({stream.name(), stream.format().type,
                           output_frame_shape(stream, outputs[i].size()), outputs[i]});
    }
    CORUN_TRY(nlohmann::json manifest, write_output_files(options.output_dir, tensors));
    if (options.json) {
        std::cout << nlohmann::json{{"model", options.model_path},
                                    {"output_dir", options.output_dir},
                                    {"outputs", manifest}}
                         .dump(2)
                  << "\n";
        return Status::ok();
    }
    for (const auto& entry : manifest) {
        std::printf(
            "%s: %s %s -> %s/%s%s\n", entry["name"].get<std::string>().c_str(),
            entry["type"].get<std::string>().c_str(),
            shape_text(entry["shape"].get<std::vector<int64_t>>()).c_str(),
            options.output_dir.c_str(), entry["bin"].get<std::string>().c_str(),
            entry["npy"].is_null() ? "" : (" and " + entry["npy"].get<std::string>()).c_str());
    }
    return Status::ok();
}

Status run(const RunOptions& options) {
    if (!options.output_dir.empty() && (options.frames_count != 0 || options.time_to_run > 0)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--output-dir runs exactly one frame and writes its outputs; drop "
                      "-c/--frames-count and -t/--time-to-run, or drop --output-dir to measure");
    }
    VDeviceParams params;
    params.group_id = "corun-run";
    params.cpu = options.cpu;
    apply_service_options(options.service, params);
    CORUN_TRY(auto vdevice, VDevice::create(params));
    CORUN_TRY(auto model, vdevice->create_infer_model(options.model_path));
    CORUN_RETURN_IF_ERROR(model->set_batch_size(options.batch_size));
    std::vector<std::string> shaped;
    for (const auto& text : options.shapes) {
        CORUN_TRY(auto shape, parse_shape_option(text));
        CORUN_TRY(auto stream, model->input(shape.first));
        CORUN_RETURN_IF_ERROR(stream.set_shape(shape.second));
        shaped.push_back(shape.first);
    }
    CORUN_TRY(const auto files, read_input_tensor_files(options.inputs, *model));
    // A dimension the model leaves dynamic takes the size an .npy file gives it (native order:
    // only when the user order is the model's own), unless --shape fixed it.
    for (const auto& file : files) {
        if (!file.npy || options.input_format_order != "auto" ||
            std::find(shaped.begin(), shaped.end(), file.stream) != shaped.end()) {
            continue;
        }
        CORUN_TRY(auto stream, model->input(file.stream));
        const auto native = stream.native_shape();
        if (std::none_of(native.begin(), native.end(), [](int64_t d) { return d < 0; })) continue;
        CORUN_RETURN_IF_ERROR(stream.set_shape(file.npy->shape),
                              "--input '" + file.stream + "' file '" + file.path + "'");
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
    if (!options.output_dir.empty()) {
        return run_one_frame_to_files(options, *model, configured, files);
    }
    CORUN_TRY(size_t queue_size, configured.get_async_queue_size());

    // One set of buffers per queue slot, so frames in flight never share memory.
    std::mt19937 random(1234);
    std::vector<std::vector<uint8_t>> storage;
    std::vector<ConfiguredInferModel::Bindings> slots;
    for (size_t slot = 0; slot < queue_size; ++slot) {
        CORUN_TRY(auto bindings, configured.create_bindings());
        slots.push_back(std::move(bindings));
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
            const auto file = std::find_if(files.begin(), files.end(), [&](const auto& f) {
                return f.stream == stream.name();
            });
            if (file != files.end()) {
                CORUN_TRY(auto data, input_frame(*file, stream, bound.get_frame_size()));
                storage.push_back(std::move(data));
            } else {
                CORUN_TRY(auto buffer,
                          allocate_frame_buffer(stream.name(), buffer_bytes(bound, true)));
                storage.push_back(std::move(buffer));
                fill_random(storage.back(), stream.format().type, random);
            }
            CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(storage.back())));
        }
        for (const auto& stream : model->outputs()) {
            CORUN_TRY(auto bound, bindings.output(stream.name()));
            CORUN_TRY(auto buffer,
                      allocate_frame_buffer(stream.name(), buffer_bytes(bound, false)));
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
    command->add_option("--input", options.inputs,
                        "[NAME=]FILE: one frame for an input, raw bytes or an .npy file (dtype "
                        "and shape checked); repeat per input (default: random data)");
    command->add_option("--output-dir", options.output_dir,
                        "Run one frame and write each output to DIR as NAME.bin and NAME.npy, "
                        "with outputs.json listing them");
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
