#include "net_groups.hpp"

#include "cli_support.hpp"

#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

namespace corun::tools {
namespace {

constexpr uint32_t PRIORITY_MAX = 31;

void add_net_options(CLI::App& app, NetOptions& net, NetSyntax syntax) {
    app.add_option("model", net.path,
                   syntax == NetSyntax::PLAN ? "Model: its file or its name in the profile"
                                             : "ONNX model file")
        ->required();
    app.add_option("--batch-size", net.batch_size, "Burst size (1..256; 0 = auto)");
    app.add_option("--priority", net.priority,
                   "Scheduler priority 0..31 (default 16, higher wins)");
    app.add_option("--scheduler-threshold", net.threshold,
                   "Frames queued before the model is ready (default 1)");
    app.add_option("--scheduler-timeout", net.timeout_ms,
                   "Milliseconds after which a model with a frame queued is ready even below "
                   "its threshold (default 0 = none)");
    app.add_option("--framerate", net.framerate,
                   "Frames per second to send (default: keep the queue full)");
    if (syntax == NetSyntax::RUN) {
        app.add_option("--shape", net.shapes,
                       "Fix dynamic input dims: NAME=D0,D1,... (native order)")
            ->allow_extra_args(false);  // one value per --shape, so a model after it stays
        app.add_option("--slo-ms", net.slo_ms,
                       "Latency SLO in milliseconds: frames predicted to miss it are refused "
                       "(counted by reason) instead of finishing late");
        app.add_option("--placements", net.placements,
                       "Devices in order of preference, e.g. npu-sim,cpu: a routed model whose "
                       "frames fall back to the next device when one refuses or fails them");
        return;
    }
    app.add_flag("--poisson", net.poisson,
                 "--framerate is the mean of independent arrivals, not a fixed period");
    app.add_flag("--waits", net.waits,
                 "--framerate: a frame that finds the queue full waits for room and is sent "
                 "late (as run2's frame pump does) instead of being dropped");
    app.add_option("--phase-ms", net.phase_ms,
                   "--framerate: milliseconds until the first frame (default: a phase of its "
                   "own; cameras started together have 0)");
    app.add_option("--clients", net.clients,
                   "Closed loop: clients, each sending its next frame after its last completed");
    app.add_option("--think-ms", net.think_ms,
                   "Closed loop: milliseconds a client waits after a frame before the next");
    app.add_option("--slo-ms", net.slo_ms, "Latency target in milliseconds (at --slo-percentile)");
    app.add_option("--slo-percentile", net.slo_percentile,
                   "Percentile the SLO applies to (default 95)");
}

void add_llm_options(CLI::App& app, LlmOptions& llm, NetSyntax syntax) {
    app.add_option("model", llm.path, "GGUF model")->required();
    app.add_option("--prompt-tokens", llm.prompt_tokens, "Prompt tokens per generation")
        ->check(CLI::Range(1u, 4000u));
    app.add_option("--max-tokens", llm.max_tokens, "Tokens per generation")
        ->check(CLI::Range(1u, 4000u));
    app.add_option("--priority", llm.priority, "Scheduler priority, 0..31")
        ->check(CLI::Range(0u, 31u));
    if (syntax == NetSyntax::PLAN) {
        app.add_option("--framerate", llm.framerate,
                       "Generations per second (default: one after another)");
        app.add_option("--slo-ms", llm.slo_ms, "Target for the p95 time to first token, ms");
        return;
    }
    app.add_option("--threads", llm.threads, "Engine threads (0 = its default)");
    app.add_option("--prefill-chunk", llm.prefill_chunk, "Prompt tokens per unit")
        ->check(CLI::Range(1u, 4096u));
    app.add_flag("--no-preemption", llm.no_preemption,
                 "Do not pause units for frames of a higher priority");
}

// Parses one group's words with `parser`; the words it does not know are added to `leftovers`.
Status parse_group(CLI::App& parser, const std::vector<std::string>& words,
                   const std::string& label, std::vector<std::string>& leftovers) {
    parser.allow_extras();
    std::vector<std::string> reversed(words.rbegin(), words.rend());
    try {
        parser.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        std::cout << parser.help();
        throw CLI::Success();
    } catch (const CLI::ParseError& error) {
        return Status(StatusCode::INVALID_ARGUMENT, label + ": " + error.what());
    }
    for (auto& word : parser.remaining()) leftovers.push_back(word);
    return Status::ok();
}

}  // namespace

Status parse_net_groups(const std::vector<std::string>& words, const std::string& command,
                        NetSyntax syntax, NetGroups& groups,
                        const std::function<void(CLI::App&)>& add_command_options) {
    if (words.empty() || (words.front() != "set-net" && words.front() != "set-llm")) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      words.empty()
                          ? command + " needs at least one `set-net MODEL`"
                          : command + ": expected `set-net MODEL ...`, got '" + words.front() +
                                "' (" + command + " options go before the first set-net)");
    }
    std::vector<std::vector<std::string>> split;
    std::vector<bool> is_llm;
    for (const auto& word : words) {
        if (word == "set-net" || word == "set-llm") {
            split.emplace_back();
            is_llm.push_back(word == "set-llm");
        } else {
            split.back().push_back(word);
        }
    }
    std::vector<std::string> leftovers;
    for (size_t g = 0; g < split.size(); ++g) {
        if (is_llm[g]) {
            LlmOptions llm;
            CLI::App parser("set-llm MODEL.gguf [options]", "set-llm");
            add_llm_options(parser, llm, syntax);
            CORUN_RETURN_IF_ERROR(parse_group(
                parser, split[g], "set-llm #" + std::to_string(groups.llms.size() + 1), leftovers));
            llm.framerate_given = syntax == NetSyntax::PLAN && parser.count("--framerate") > 0;
            groups.llms.push_back(std::move(llm));
            continue;
        }
        NetOptions net;
        CLI::App parser("set-net MODEL [options]", "set-net");
        add_net_options(parser, net, syntax);
        CORUN_RETURN_IF_ERROR(
            parse_group(parser, split[g], "set-net #" + std::to_string(g + 1), leftovers));
        net.framerate_given = parser.count("--framerate") > 0;
        groups.nets.push_back(std::move(net));
    }
    if (leftovers.empty()) return Status::ok();
    // The command's options after the set-net groups.
    CLI::App parser(command + " options", command);
    add_command_options(parser);
    std::vector<std::string> reversed(leftovers.rbegin(), leftovers.rend());
    try {
        parser.parse(reversed);
    } catch (const CLI::ExtrasError&) {
        std::string words_text;
        for (const auto& word : leftovers) words_text += (words_text.empty() ? "" : " ") + word;
        const std::string plan_options =
            syntax == NetSyntax::PLAN
                ? ", --poisson, --waits, --phase-ms, --clients, --think-ms, --slo-ms and "
                  "--slo-percentile"
                : ", --shape, --slo-ms and --placements";
        return Status(StatusCode::INVALID_ARGUMENT,
                      command + ": '" + words_text + "' is neither a set-net nor a " + command +
                          " option; set-net takes --batch-size, --priority, "
                          "--scheduler-threshold, --scheduler-timeout, --framerate" +
                          plan_options + " (corun " + command + " --help)");
    } catch (const CLI::ParseError& error) {
        return Status(StatusCode::INVALID_ARGUMENT, command + ": " + error.what());
    }
    return Status::ok();
}

Status check_net_options(const std::vector<NetOptions>& nets) {
    for (size_t i = 0; i < nets.size(); ++i) {
        const NetOptions& net = nets[i];
        const std::string where = "set-net #" + std::to_string(i + 1) + " (" + net.path + "): ";
        if (net.priority > PRIORITY_MAX) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + "--priority " + std::to_string(net.priority) +
                              " is out of range; use 0..31 (normal 16, higher wins)");
        }
        if (net.framerate_given && !(net.framerate > 0)) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + "--framerate must be more than 0 frames per second, got " +
                              number_text(net.framerate) +
                              " (leave it out to keep the queue full)");
        }
        if (net.timeout_ms < 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + "--scheduler-timeout must be 0 or more milliseconds");
        }
        if (!(net.slo_ms >= 0) || net.slo_ms > 3600000) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + "--slo-ms must be 0 (none) to 3600000 milliseconds, got " +
                              number_text(net.slo_ms));
        }
    }
    return Status::ok();
}

std::string set_net_help(const std::string& command, NetSyntax syntax) {
    if (syntax == NetSyntax::PLAN) {
        return "\nModels: set-net MODEL [--framerate FPS [--poisson | --waits] [--phase-ms MS] | "
               "--clients N\n"
               "        [--think-ms MS]]\n"
               "        [--slo-ms MS] [--slo-percentile P] [--priority P] [--batch-size N]\n"
               "        [--scheduler-threshold T] [--scheduler-timeout MS]\n"
               "  MODEL is a model file or its name in the profile (the file's stem); without\n"
               "  --framerate or --clients the model keeps its queue full, as in run2.\n"
               "LLMs:   set-llm MODEL [--prompt-tokens N] [--max-tokens M] [--priority P]\n"
               "        [--framerate GENERATIONS_PER_S] [--slo-ms TTFT_MS]\n"
               "Example: corun " +
               command +
               " --profile p.json set-net nanodet --framerate 30 --slo-ms 50 --priority 24 "
               "set-net ocr-det --framerate 5\n";
    }
    return "\nModels: set-net MODEL [--batch-size N] [--priority P] [--scheduler-threshold T]\n"
           "        [--scheduler-timeout MS] [--framerate FPS] [--shape NAME=dims]\n"
           "        [--slo-ms MS] [--placements DEVICE,DEVICE...]\n"
           "  one set-net per model (the same file may appear twice); " +
           command +
           " options may come before\n"
           "  the first set-net or after the last.\n"
           "LLMs:   set-llm MODEL.gguf [--prompt-tokens N] [--max-tokens M] [--priority P]\n"
           "        [--threads T] [--prefill-chunk C] [--no-preemption]\n"
           "  generates continuously (prompts of N tokens, M tokens each) beside the models.\n"
           "Example: corun " +
           command +
           " -t 5 set-net det.onnx --priority 24 --framerate 10 set-net "
           "cls.onnx\n"
           "         corun " +
           command + " -t 20 set-net face.onnx --priority 24 --framerate 10 set-llm qwen.gguf\n";
}

}  // namespace corun::tools
