// The set-net / set-llm groups of `corun run2` and `corun plan` (hailortcli run2's syntax): after
// the command's own options, one `set-net MODEL [NET OPTIONS]` per model and one
// `set-llm MODEL.gguf [LLM OPTIONS]` per LLM; the command's options may also follow the last
// group. `corun plan` takes the same groups plus what a plan needs (SLO, closed-loop clients).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "corun/status.hpp"

namespace CLI {
class App;
}

namespace corun::tools {

// Which command the groups are for: plan's groups take more options.
enum class NetSyntax { RUN, PLAN };

struct NetOptions {
    std::string path;
    uint16_t batch_size = 0;
    uint32_t priority = 16;
    uint32_t threshold = 0;  // 0 = the default (1)
    double timeout_ms = 0;
    double framerate = 0;  // 0 = keep the queue full
    bool framerate_given = false;
    std::vector<std::string> shapes;
    // run2: each frame must complete within it (ConfiguredInferModel::set_latency_slo, frames
    // predicted to miss it are refused); plan: the target at slo_percentile. 0 = none.
    double slo_ms = 0;
    // run2 only: devices in order of preference ("npu-sim,cpu"): a routed model.
    std::string placements;
    // plan only.
    double slo_percentile = 95;
    uint32_t clients = 0;  // closed loop; 0 = one per queue entry
    double think_ms = 0;
    bool poisson = false;  // --framerate is a Poisson rate, not a fixed one
    double phase_ms = -1;  // --framerate: when the first frame comes (-1 = a phase of its own)
    bool waits = false;    // --framerate: a frame finding the queue full waits, not dropped
};

// set-llm: an LLM generating beside the models (issue 12).
struct LlmOptions {
    std::string path;
    uint32_t prompt_tokens = 64;
    uint32_t max_tokens = 64;
    uint32_t priority = 16;
    uint32_t threads = 0;
    uint32_t prefill_chunk = 64;
    bool no_preemption = false;
    // plan only: generations arrive at --framerate per second, else back to back.
    double framerate = 0;
    bool framerate_given = false;
    double slo_ms = 0;  // on the time to first token
};

struct NetGroups {
    std::vector<NetOptions> nets;
    std::vector<LlmOptions> llms;
};

// Splits `words` (what follows the command's own options) into set-net and set-llm groups and
// parses each into `groups`. Words left after the groups are parsed as the command's options,
// which `add_command_options` declares. INVALID_ARGUMENT names the group and the fix.
Status parse_net_groups(const std::vector<std::string>& words, const std::string& command,
                        NetSyntax syntax, NetGroups& groups,
                        const std::function<void(CLI::App&)>& add_command_options);

// Per set-net: priority, frame rate and timeout in range. INVALID_ARGUMENT naming the group.
Status check_net_options(const std::vector<NetOptions>& nets);

// The "Models:" part of the command's --help.
std::string set_net_help(const std::string& command, NetSyntax syntax);

}  // namespace corun::tools
