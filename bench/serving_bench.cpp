// Issue 15's serving benchmark, side by side in one run:
//   - added latency (p50) of KServe v2 REST over the in-process API on a small model: one
//     synchronous request at a time over a kept-alive connection, with JSON tensors and with the
//     binary-data extension, and of KServe v2 gRPC (ModelInfer with raw_input_contents over one
//     channel with gRPC's defaults, and over one with retries and BDP pings off: what a client
//     can set), against a synchronous run() of the same model in this process;
//     rotating rounds, added = median over rounds of the difference of the round medians;
//   - throughput: 16 concurrent HTTP clients (binary data, kept-alive connections) spread over
//     the models, against `corun run2` running the same models in-process (its total FPS), in
//     alternating rounds; the ratio is the median of the rounds' ratios.
// It starts its own `corun serve --http 0 --grpc 0` on a temporary socket and repository and
// stops it.
//
//   serving_bench CORUN SMALL_MODEL MODEL... [--rounds 7] [--iterations 300] [--seconds 5]
//                 [--clients 16] [--throughput-rounds 3]
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "corun/corun.hpp"
#include "grpc_service.grpc.pb.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

double microseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// One model as a client sends it: its input name, shape and a zero frame.
struct ModelInput {
    std::string model;
    std::string input;
    std::vector<int64_t> shape;
    std::vector<float> frame;
};

std::string json_body(const ModelInput& m) {
    Json request = {
        {"inputs",
         {{{"name", m.input}, {"datatype", "FP32"}, {"shape", m.shape}, {"data", m.frame}}}}};
    return request.dump();
}

std::pair<std::string, std::string> binary_body(const ModelInput& m) {
    Json header = {{"inputs",
                    {{{"name", m.input},
                      {"datatype", "FP32"},
                      {"shape", m.shape},
                      {"parameters", {{"binary_data_size", m.frame.size() * 4}}}}}},
                   {"parameters", {{"binary_data_output", true}}}};
    std::string body = header.dump();
    const std::string length = std::to_string(body.size());
    body.append(reinterpret_cast<const char*>(m.frame.data()), m.frame.size() * 4);
    return {body, length};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr,
                     "usage: serving_bench CORUN SMALL_MODEL MODEL... [--rounds N] "
                     "[--iterations N] [--seconds S] [--clients N] [--throughput-rounds N]\n");
        return 2;
    }
    const std::string corun = argv[1];
    std::vector<std::string> models;
    int rounds = 7, iterations = 300, seconds = 5, clients = 16, throughput_rounds = 3;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--rounds" && i + 1 < argc)
            rounds = std::stoi(argv[++i]);
        else if (arg == "--iterations" && i + 1 < argc)
            iterations = std::stoi(argv[++i]);
        else if (arg == "--seconds" && i + 1 < argc)
            seconds = std::stoi(argv[++i]);
        else if (arg == "--clients" && i + 1 < argc)
            clients = std::stoi(argv[++i]);
        else if (arg == "--throughput-rounds" && i + 1 < argc)
            throughput_rounds = std::stoi(argv[++i]);
        else
            models.push_back(arg);
    }
    const fs::path work =
        fs::temp_directory_path() / ("corun_serving_bench_" + std::to_string(getpid()));
    fs::create_directories(work / "repository");
    std::vector<std::string> names;
    for (const auto& model : models) {
        std::string name = fs::path(model).stem().string();
        while (std::find(names.begin(), names.end(), name) != names.end()) name += "_";
        names.push_back(name);
        fs::create_directories(work / "repository" / name / "1");
        fs::copy_file(model, work / "repository" / name / "1" / "model.onnx");
    }
    const std::string log = (work / "serve.log").string();
    const pid_t server = corun::bench::spawn(
        {"/bin/sh", "-c",
         "exec " + corun + " serve --socket " + (work / "corund.sock").string() +
             " --http 0 --grpc 0 --model-repository " + (work / "repository").string() + " > " +
             log + " 2>&1"});
    int port = 0, grpc_port = 0;
    const auto start_deadline = Clock::now() + std::chrono::seconds(120);
    while ((port == 0 || grpc_port == 0) && Clock::now() < start_deadline) {
        std::smatch found, grpc_found;
        const std::string text = read_file(log);
        if (std::regex_search(text, found, std::regex(R"(REST on http://127\.0\.0\.1:(\d+)/v2)")) &&
            std::regex_search(text, grpc_found, std::regex(R"(gRPC on 127\.0\.0\.1:(\d+))"))) {
            port = std::stoi(found[1].str());
            grpc_port = std::stoi(grpc_found[1].str());
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    auto finish = [&](int code) {
        kill(server, SIGTERM);
        corun::bench::wait_for(server);
        fs::remove_all(work);
        return code;
    };
    if (port == 0 || grpc_port == 0) {
        std::fprintf(stderr, "corun serve did not start:\n%s\n", read_file(log).c_str());
        return finish(1);
    }
    httplib::Client control("127.0.0.1", port);
    while (Clock::now() < start_deadline) {
        auto ready = control.Get("/v2/health/ready");
        if (ready && ready->status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::vector<ModelInput> inputs;
    for (const auto& name : names) {
        auto reply = control.Get("/v2/models/" + name);
        if (!reply || reply->status != 200) {
            std::fprintf(stderr, "no metadata for %s\n", name.c_str());
            return finish(1);
        }
        const Json metadata = Json::parse(reply->body);
        ModelInput input{name, metadata["inputs"][0]["name"], metadata["inputs"][0]["shape"], {}};
        size_t count = 1;
        for (int64_t dim : input.shape) count *= static_cast<size_t>(dim);
        input.frame.assign(count, 0.5f);
        inputs.push_back(std::move(input));
    }

    // Latency: the small model, in-process sync run() against REST JSON and REST binary.
    auto vdevice = corun::VDevice::create().release();
    auto model = vdevice->create_infer_model(models[0]).release();
    auto configured = model->configure().release();
    auto bindings = configured.create_bindings().release();
    std::vector<std::vector<uint8_t>> buffers;
    for (const auto& name : model->get_input_names()) {
        auto stream = bindings.input(name).release();
        buffers.emplace_back(stream.get_frame_size());
        stream.set_buffer(corun::MemoryView(buffers.back().data(), buffers.back().size())).ignore();
    }
    for (const auto& name : model->get_output_names()) {
        auto stream = bindings.output(name).release();
        buffers.emplace_back(stream.get_frame_size());
        stream.set_buffer(corun::MemoryView(buffers.back().data(), buffers.back().size())).ignore();
    }
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    const ModelInput& small = inputs[0];
    const std::string json = json_body(small);
    const auto [binary, binary_length] = binary_body(small);
    const std::string path = "/v2/models/" + small.model + "/infer";
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                       grpc::InsecureChannelCredentials());
    auto stub = inference::GRPCInferenceService::NewStub(channel);
    // The same calls on a channel tuned for one small call at a time: no retry machinery (on by
    // default; it buffers each call's messages), no BDP pings.
    grpc::ChannelArguments tuned_arguments;
    tuned_arguments.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    tuned_arguments.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    auto tuned_channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(grpc_port),
                                  grpc::InsecureChannelCredentials(), tuned_arguments);
    auto tuned_stub = inference::GRPCInferenceService::NewStub(tuned_channel);
    inference::ModelInferRequest grpc_request;
    grpc_request.set_model_name(small.model);
    auto* grpc_input = grpc_request.add_inputs();
    grpc_input->set_name(small.input);
    grpc_input->set_datatype("FP32");
    for (int64_t dim : small.shape) grpc_input->add_shape(dim);
    grpc_request.add_raw_input_contents(reinterpret_cast<const char*>(small.frame.data()),
                                        small.frame.size() * 4);
    std::vector<double> in_process_p50, json_added, binary_added, json_p50, binary_p50;
    std::vector<double> grpc_added, grpc_p50, tuned_added, tuned_p50;
    for (int round = 0; round < rounds; ++round) {
        std::vector<double> local, over_json, over_binary, over_grpc, over_tuned;
        for (int i = 0; i < iterations; ++i) {
            auto start = Clock::now();
            if (!configured.run(bindings, std::chrono::seconds(10)).is_ok()) return finish(1);
            local.push_back(microseconds_since(start));
            start = Clock::now();
            auto reply = client.Post(path, json, "application/json");
            if (!reply || reply->status != 200) return finish(1);
            over_json.push_back(microseconds_since(start));
            start = Clock::now();
            reply = client.Post(path, {{"Inference-Header-Content-Length", binary_length}}, binary,
                                "application/octet-stream");
            if (!reply || reply->status != 200) return finish(1);
            over_binary.push_back(microseconds_since(start));
            start = Clock::now();
            grpc::ClientContext context;
            inference::ModelInferResponse grpc_reply;
            if (auto status = stub->ModelInfer(&context, grpc_request, &grpc_reply); !status.ok()) {
                std::fprintf(stderr, "gRPC ModelInfer failed: %s\n",
                             status.error_message().c_str());
                return finish(1);
            }
            over_grpc.push_back(microseconds_since(start));
            start = Clock::now();
            grpc::ClientContext tuned_context;
            if (!tuned_stub->ModelInfer(&tuned_context, grpc_request, &grpc_reply).ok()) {
                return finish(1);
            }
            over_tuned.push_back(microseconds_since(start));
        }
        in_process_p50.push_back(median(local));
        json_p50.push_back(median(over_json));
        binary_p50.push_back(median(over_binary));
        json_added.push_back(median(over_json) - median(local));
        binary_added.push_back(median(over_binary) - median(local));
        grpc_p50.push_back(median(over_grpc));
        grpc_added.push_back(median(over_grpc) - median(local));
        tuned_p50.push_back(median(over_tuned));
        tuned_added.push_back(median(over_tuned) - median(local));
    }
    configured.shutdown().ignore();
    // The transport's floor: an empty gRPC call (ServerLive) on the same channel, p50.
    std::vector<double> empty_calls;
    for (int i = 0; i < iterations; ++i) {
        const auto start = Clock::now();
        grpc::ClientContext context;
        inference::ServerLiveResponse live;
        if (!stub->ServerLive(&context, inference::ServerLiveRequest(), &live).ok()) {
            return finish(1);
        }
        empty_calls.push_back(microseconds_since(start));
    }
    // ModelInfer back to back (not interleaved with the other paths, so its threads stay warm).
    std::vector<double> back_to_back;
    for (int i = 0; i < iterations; ++i) {
        const auto start = Clock::now();
        grpc::ClientContext context;
        inference::ModelInferResponse grpc_reply;
        if (!stub->ModelInfer(&context, grpc_request, &grpc_reply).ok()) return finish(1);
        back_to_back.push_back(microseconds_since(start));
    }
    std::printf("gRPC empty call (ServerLive) p50: %.1f us; ModelInfer back to back p50: %.1f us\n",
                median(empty_calls), median(back_to_back));
    std::printf(
        "latency on %s (p50 over %d rounds of %d): in-process %.1f us, REST JSON %.1f us "
        "(added %.1f us), REST binary %.1f us (added %.1f us), gRPC %.1f us (added %.1f us), "
        "gRPC tuned channel %.1f us (added %.1f us)\n",
        small.model.c_str(), rounds, iterations, median(in_process_p50), median(json_p50),
        median(json_added), median(binary_p50), median(binary_added), median(grpc_p50),
        median(grpc_added), median(tuned_p50), median(tuned_added));

    // Throughput, in alternating rounds (the machine's other load changes between phases): in
    // each, `clients` HTTP clients over the models after the first (binary data) for `seconds`,
    // then `corun run2` with the same models in-process for as long (the server idle meanwhile).
    std::vector<const ModelInput*> loaded;
    for (size_t i = inputs.size() > 1 ? 1 : 0; i < inputs.size(); ++i) loaded.push_back(&inputs[i]);
    std::string command = corun + " run2 --json -t " + std::to_string(seconds);
    for (size_t i = inputs.size() > 1 ? 1 : 0; i < models.size(); ++i) {
        command += " set-net " + models[i];
    }
    std::vector<double> http_rates, run2_rates, ratios;
    uint64_t failed_total = 0;
    for (int round = 0; round < throughput_rounds; ++round) {
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> done{0}, failed{0};
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c) {
            threads.emplace_back([&, c] {
                const ModelInput& m = *loaded[static_cast<size_t>(c) % loaded.size()];
                const auto [body, length] = binary_body(m);
                httplib::Client http("127.0.0.1", port);
                http.set_keep_alive(true);
                http.set_tcp_nodelay(true);
                const std::string infer = "/v2/models/" + m.model + "/infer";
                while (!stop.load()) {
                    auto reply = http.Post(infer, {{"Inference-Header-Content-Length", length}},
                                           body, "application/octet-stream");
                    (reply && reply->status == 200 ? done : failed).fetch_add(1);
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up
        const uint64_t before = done.load();
        const auto measured_from = Clock::now();
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        const double http_fps = static_cast<double>(done.load() - before) /
                                std::chrono::duration<double>(Clock::now() - measured_from).count();
        stop = true;
        for (auto& thread : threads) thread.join();
        failed_total += failed.load();

        FILE* pipe = popen(command.c_str(), "r");
        std::string output;
        char chunk[4096];
        while (pipe && fgets(chunk, sizeof(chunk), pipe)) output += chunk;
        if (pipe) pclose(pipe);
        double run2_fps = 0;
        try {
            const Json summary = Json::parse(output);
            for (const auto& m : summary["models"]) run2_fps += m["fps"].get<double>();
        } catch (const Json::exception&) {
        }
        if (run2_fps <= 0) {
            std::fprintf(stderr, "`%s` printed no FPS:\n%s\n", command.c_str(), output.c_str());
            return finish(1);
        }
        http_rates.push_back(http_fps);
        run2_rates.push_back(run2_fps);
        ratios.push_back(http_fps / run2_fps);
        std::printf("  round %d: HTTP %.1f FPS, run2 %.1f FPS, ratio %.3f\n", round + 1, http_fps,
                    run2_fps, http_fps / run2_fps);
    }
    std::printf(
        "throughput, %d HTTP clients on %zu models (median of %d rounds): %.1f FPS (%lu "
        "failed); in-process run2: %.1f FPS; ratio %.3f\n",
        clients, loaded.size(), throughput_rounds, median(http_rates),
        static_cast<unsigned long>(failed_total), median(run2_rates), median(ratios));
    return finish(0);
}
