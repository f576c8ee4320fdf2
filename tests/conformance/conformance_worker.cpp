// A long-lived worker of the conformance driver (run_conformance.py): reads commands from
// stdin, one per line, "SIDES TEST_FOLDER" with SIDES "corun,ort", "ort" or "corun" (run in
// that order), and answers each with JSON lines on its result channel: {"event":"case",...}
// (tensor-only or not), then one {"event":"result","side":...} per side run, then
// {"event":"done"}. Each result line is written and flushed before the next side starts, so
// when a test crashes the process the driver knows which side did it.
//
// corun's side goes first: its first model creates the process's ONNX Runtime environment with
// corun's own settings, as in an application (docs/API.md: ONNX Runtime allows one per process;
// the reference sessions then share it).
//
// The result channel is the original stdout; fd 1 is pointed at stderr at start, so that
// nothing ONNX Runtime or a model prints can break the protocol.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "corun/corun.hpp"
#include "corun_runner.hpp"
#include "node_test_case.hpp"
#include "ort_reference_runner.hpp"

namespace {

FILE* results = nullptr;

void send(const nlohmann::json& line) {
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), results);
    std::fflush(results);
}

nlohmann::json result_json(const std::string& side, const corun::conformance::SideResult& result) {
    return {{"event", "result"},     {"side", side},        {"passed", result.passed},
            {"stage", result.stage}, {"code", result.code}, {"message", result.message},
            {"note", result.note}};
}

}  // namespace

int main() {
    const int channel = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    results = fdopen(channel, "w");
    if (results == nullptr) return 2;

    // One thread per inference: two workers share two cores (ONNX Runtime's side does the same).
    corun::VDeviceParams params;
    params.group_id = "conformance";
    params.cpu.intra_op_threads = 1;
    auto vdevice = corun::VDevice::create(params);
    if (!vdevice) {
        std::fprintf(stderr, "conformance_worker: %s\n", vdevice.status().to_string().c_str());
        return 2;
    }

    std::string line;
    while (std::getline(std::cin, line)) {
        const size_t space = line.find(' ');
        if (space == std::string::npos) continue;
        const std::string sides = line.substr(0, space);
        const std::string folder = line.substr(space + 1);
        auto test = corun::conformance::read_node_test_case(folder);
        if (!test) {
            send({{"event", "case"}, {"error", test.status().to_string()}});
            send({{"event", "done"}});
            continue;
        }
        const auto& node_test = test.value();
        send({{"event", "case"},
              {"tensor_only", node_test.not_tensor_reason.empty()},
              {"reason", node_test.not_tensor_reason},
              {"data_sets", node_test.data_sets.size()}});
        for (size_t start = 0; node_test.not_tensor_reason.empty() && start < sides.size();) {
            size_t end = sides.find(',', start);
            if (end == std::string::npos) end = sides.size();
            const std::string side = sides.substr(start, end - start);
            start = end + 1;
            if (side == "corun") {
                send(result_json("corun",
                                 corun::conformance::run_on_corun(*vdevice.value(), node_test)));
            } else if (side == "ort") {
                send(result_json("ort", corun::conformance::run_on_onnx_runtime(node_test)));
            }
        }
        send({{"event", "done"}});
    }
    return 0;
}
