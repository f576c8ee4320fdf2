// corun's inference path against a bare ONNX Runtime Session::Run loop on the same model and
// thread count, measured side by side in one process in alternating rounds; "added" is the
// median over rounds of the difference of the round medians.
// Prints a table and, with --json, one JSON object.
//
//   overhead_bench MODEL [MODEL...] [--threads 0,1] [--rounds 7] [--iterations 200] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <onnxruntime_cxx_api.h>
#include <nlohmann/json.hpp>

#include "corun/corun.hpp"
#include "devices/cpu/onnx_element_type.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

double microseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Tensor {
    std::string name;
    corun::FormatType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;
};

void fill(Tensor& tensor, std::mt19937& random) {
    if (tensor.type == corun::FormatType::FLOAT32) {
        std::uniform_real_distribution<float> values(0.f, 1.f);
        auto* floats = reinterpret_cast<float*>(tensor.data.data());
        for (size_t i = 0; i < tensor.data.size() / 4; ++i) floats[i] = values(random);
    } else {
        for (auto& byte : tensor.data) byte = static_cast<uint8_t>(random() % 8);
    }
}

// The baseline: one ORT session, inputs and outputs preallocated, Run in a loop.
class BareSession {
public:
    BareSession(Ort::Env& env, const std::string& path, int threads,
                const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs)
        : session_(nullptr) {
        Ort::SessionOptions options;
        options.SetIntraOpNumThreads(threads);
        options.SetInterOpNumThreads(1);
        options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
        session_ = Ort::Session(env, path.c_str(), options);
        auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
        for (const auto& tensor : inputs) {
            input_names_.push_back(tensor.name.c_str());
            input_values_.push_back(
                Ort::Value::CreateTensor(memory, const_cast<uint8_t*>(tensor.data.data()),
                                         tensor.data.size(), tensor.dims.data(), tensor.dims.size(),
                                         corun::devices::cpu::onnx_type_of(tensor.type)));
        }
        for (auto& tensor : outputs) {
            output_names_.push_back(tensor.name.c_str());
            output_values_.push_back(Ort::Value::CreateTensor(
                memory, tensor.data.data(), tensor.data.size(), tensor.dims.data(),
                tensor.dims.size(), corun::devices::cpu::onnx_type_of(tensor.type)));
        }
    }
    void run() {
        session_.Run(Ort::RunOptions{nullptr}, input_names_.data(), input_values_.data(),
                     input_values_.size(), output_names_.data(), output_values_.data(),
                     output_values_.size());
    }

private:
    Ort::Session session_;
    std::vector<const char*> input_names_, output_names_;
    std::vector<Ort::Value> input_values_, output_values_;
};

struct Measurement {
    std::vector<double> bare_us, corun_us;
};

int bench_model(Ort::Env& env, const std::string& path, uint32_t threads, int rounds,
                int iterations, bool table, nlohmann::json& report) {
    corun::VDeviceParams params;
    params.group_id = "bench-" + std::to_string(threads);
    params.cpu.intra_op_threads = threads;
    auto vdevice = corun::VDevice::create(params);
    if (!vdevice) return std::cerr << vdevice.status() << "\n", 1;
    auto model = (*vdevice)->create_infer_model(path);
    if (!model) return std::cerr << model.status() << "\n", 1;
    auto configured = (*model)->configure();
    if (!configured) return std::cerr << configured.status() << "\n", 1;
    auto bindings = configured->create_bindings();
    // The threads corun's side runs on; for "threads 0", ONNX Runtime's default count, which
    // tests/cpu_device_test.cpp checks a bare session with default options gets too.
    const auto devices = (*vdevice)->physical_devices();
    const uint32_t threads_used = devices.empty() ? threads : devices.front().threads;

    std::mt19937 random(7);
    std::vector<Tensor> inputs, corun_outputs, bare_outputs;
    for (const auto& stream : (*model)->inputs()) {
        Tensor tensor{stream.name(), stream.format().type, stream.native_shape(),
                      std::vector<uint8_t>(stream.get_frame_size())};
        fill(tensor, random);
        inputs.push_back(std::move(tensor));
        auto bound = bindings->input(stream.name());
        bound->set_buffer(corun::MemoryView::of(inputs.back().data)).ignore();
    }
    auto configured_outputs = (*model)->outputs();
    for (size_t i = 0; i < configured_outputs.size(); ++i) {
        const auto& stream = configured_outputs[i];
        auto bound = bindings->output(stream.name());
        std::vector<int64_t> dims = stream.native_shape();
        corun_outputs.push_back({stream.name(), stream.format().type, dims,
                                 std::vector<uint8_t>(bound->get_frame_size())});
        bound->set_buffer(corun::MemoryView::of(corun_outputs.back().data)).ignore();
    }
    bare_outputs = corun_outputs;
    std::vector<Tensor> twin_outputs = corun_outputs;
    BareSession bare(env, path, static_cast<int>(threads), inputs, bare_outputs);
    // A second bare session measured the same way gives the noise floor: what "added" reads
    // when nothing is added (an A/A comparison).
    BareSession twin(env, path, static_cast<int>(threads), inputs, twin_outputs);

    // Warm all up.
    for (int i = 0; i < 20; ++i) {
        bare.run();
        twin.run();
        configured->run(*bindings, std::chrono::seconds(10)).ignore();
    }
    // Rounds alternate between the three (blocks, not single runs: an idle session's ORT
    // threads spin for a while after each run and would steal the others' cores), and the
    // order rotates so no leg always inherits another's warm caches. "added" is the median over
    // rounds of (round median - bare's round median), so drift between rounds cancels out.
    Measurement measured;
    std::vector<double> added_us, noise_us;
    std::vector<double> twin_all;
    for (int round = 0; round < rounds; ++round) {
        std::vector<double> bare_round, corun_round, twin_round;
        for (int leg = 0; leg < 3; ++leg) {
            const int which = (leg + round) % 3;
            for (int i = 0; i < iterations; ++i) {
                const auto start = Clock::now();
                if (which == 0) {
                    bare.run();
                    bare_round.push_back(microseconds_since(start));
                } else if (which == 1) {
                    twin.run();
                    twin_round.push_back(microseconds_since(start));
                } else {
                    corun::Status status = configured->run(*bindings, std::chrono::seconds(10));
                    corun_round.push_back(microseconds_since(start));
                    if (!status.is_ok()) return std::cerr << status << "\n", 1;
                }
            }
        }
        added_us.push_back(median(corun_round) - median(bare_round));
        noise_us.push_back(median(twin_round) - median(bare_round));
        measured.bare_us.insert(measured.bare_us.end(), bare_round.begin(), bare_round.end());
        measured.corun_us.insert(measured.corun_us.end(), corun_round.begin(), corun_round.end());
        twin_all.insert(twin_all.end(), twin_round.begin(), twin_round.end());
    }
    const bool same = corun_outputs.front().data == bare_outputs.front().data;
    const double bare_median = median(measured.bare_us);
    const double corun_median = median(measured.corun_us);
    const double ratio = corun_median / bare_median;
    const double added_median = median(added_us);
    const double noise_median = median(noise_us);
    const double noise_ratio = median(twin_all) / bare_median;
    if (table)
        std::printf(
            "%-32s threads %-2u (%u) bare p50 %9.1f us  corun p50 %9.1f us  ratio %.3f  "
            "added %+7.1f us  | bare-vs-bare ratio %.3f added %+7.1f us | outputs %s\n",
            path.substr(path.find_last_of('/') + 1).substr(0, 32).c_str(), threads, threads_used,
            bare_median, corun_median, ratio, added_median, noise_ratio, noise_median,
            same ? "identical" : "DIFFER");
    report.push_back({{"model", path},
                      {"threads", threads},
                      {"threads_used", threads_used},
                      {"iterations", measured.bare_us.size()},
                      {"bare_median_us", bare_median},
                      {"corun_median_us", corun_median},
                      {"ratio", ratio},
                      {"added_us", added_median},
                      {"noise_floor_ratio", noise_ratio},
                      {"noise_floor_added_us", noise_median},
                      {"outputs_identical", same}});
    return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> models;
    std::vector<uint32_t> thread_counts = {0, 1};
    int rounds = 7, iterations = 200;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (arg == "--rounds")
            rounds = std::max(1, std::atoi(next().c_str()));
        else if (arg == "--iterations")
            iterations = std::max(1, std::atoi(next().c_str()));
        else if (arg == "--json")
            json = true;
        else if (arg == "--threads") {
            thread_counts.clear();
            std::string list = next();
            for (size_t start = 0; start <= list.size();) {
                size_t comma = list.find(',', start);
                if (comma == std::string::npos) comma = list.size();
                thread_counts.push_back(
                    static_cast<uint32_t>(std::atoi(list.substr(start, comma - start).c_str())));
                start = comma + 1;
            }
        } else
            models.push_back(arg);
    }
    if (models.empty()) {
        std::cerr << "usage: overhead_bench MODEL [MODEL...] [--threads 0,1] [--rounds 7] "
                     "[--iterations 200] [--json]\n";
        return 2;
    }
    {
        // corun first: ONNX Runtime has one environment per process, and corun's carries the
        // shared intra-op pool its cpu device uses by default; created after the bench's own, it
        // would fall back to a pool per model and the bench would not measure what users get.
        auto vdevice = corun::VDevice::create();
        if (vdevice) (*vdevice)->create_infer_model(models.front()).status().ignore();
    }
    Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "bench");
    nlohmann::json report = nlohmann::json::array();
    int failures = 0;
    for (const auto& model : models) {
        for (uint32_t threads : thread_counts) {
            failures += bench_model(env, model, threads, rounds, iterations, !json, report);
        }
    }
    if (json) std::cout << nlohmann::json{{"overhead", report}}.dump(2) << "\n";
    return failures == 0 ? 0 : 1;
}
