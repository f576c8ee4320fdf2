#include "profile_measurement.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cli_support.hpp"
#include "corun/genai/llm.hpp"

namespace corun::tools {
namespace {

// The idle gap after which a frame counts as cold: well past ONNX Runtime's spinning threads
// going to sleep.
// going to sleep and the caches going cold (measured here: a frame 20 ms after the last takes
// about what one 100 ms after does).
constexpr std::chrono::milliseconds COLD_GAP{20};

// Points of a model's frame spread: quantiles 2.5%, 7.5%, ..., 97.5% of its frame times.
constexpr size_t SPREAD_POINTS = 20;

// Each frame time over their median at SPREAD_POINTS evenly spaced quantiles (empty: too few
// frames to say).
std::vector<double> frame_spread(const std::vector<double>& frame_ms) {
    const double median = percentile(frame_ms, 50);
    if (frame_ms.size() < SPREAD_POINTS || !(median > 0)) return {};
    std::vector<double> spread;
    for (size_t k = 0; k < SPREAD_POINTS; ++k) {
        const double quantile = 100.0 * (static_cast<double>(k) + 0.5) / SPREAD_POINTS;
        const double ratio = std::clamp(percentile(frame_ms, quantile) / median, 0.01, 100.0);
        // Two decimals: the profile stays readable; ascending survives the rounding.
        spread.push_back(std::round(ratio * 100.0) / 100.0);
    }
    return spread;
}

std::chrono::nanoseconds from_milliseconds(double milliseconds) {
    return std::chrono::nanoseconds(static_cast<int64_t>(std::max(0.0, milliseconds) * 1e6));
}

// About `tokens` tokens of plain prose for this LLM's tokenizer (at least that many).
Expected<std::string> prompt_of_about(genai::LLM& llm, uint32_t tokens) {
    static const char* words[] = {"a ",     "ship ",  "sailed ", "past ", "the ", "harbour ",
                                  "light ", "while ", "gulls ",  "rode ", "the ", "wind "};
    std::string prompt;
    for (size_t i = 0; i < 4 * tokens; ++i) {
        prompt += words[i % std::size(words)];
        if (i % 4 != 3) continue;
        CORUN_TRY(const auto counted, llm.tokenize(prompt));
        if (counted.size() >= tokens) break;
    }
    return prompt;
}

}  // namespace

Expected<router::DeviceProfile> measure_cpu_section(const std::vector<PreparedModel*>& models,
                                                    const CpuDeviceParams& cpu,
                                                    uint32_t machine_cores, double seconds) {
    router::DeviceProfile section;
    section.cores = machine_cores;
    section.execution_slots = std::max<uint32_t>(1, cpu.execution_slots);
    section.intra_op_threads = cpu.intra_op_threads;
    section.interference = {1.0};
    // 1. Alone, one frame in flight: what a frame holds the slot for, and what it spends
    // outside it.
    std::vector<double> alone_device_ms;
    uint32_t most_clients = 0;
    for (PreparedModel* model : models) {
        PumpOptions warmup;
        warmup.frames = 4;
        warmup.in_flight = 1;
        CORUN_TRY(auto ignored, pump_frames(*model->configured, model->slots, warmup), model->path);
        (void)ignored;
        PumpOptions alone;
        alone.seconds = seconds;
        alone.in_flight = 1;
        alone.keep_every_frame = true;
        CORUN_TRY(const PumpResult result, pump_frames(*model->configured, model->slots, alone),
                  model->path);
        const double device = LatencySummary::of(result.device).p50;
        const double conversion = LatencySummary::of(result.conversion).p50;
        // Per frame, then the median: a difference of medians can come out of nothing.
        std::vector<double> outside_ms;
        for (size_t f = 0; f < result.total_ms.size() && f < result.device_ms.size(); ++f) {
            outside_ms.push_back(result.total_ms[f] - result.device_ms[f]);
        }
        const double total = device + percentile(outside_ms, 50);
        devices::npu_sim::ModelTiming timing;
        timing.frame = from_milliseconds(device + conversion);
        if (timing.frame.count() <= 0) timing.frame = std::chrono::microseconds(1);
        timing.max_in_flight = static_cast<uint32_t>(model->queue_size);
        section.models[model->name()] = timing;
        section.overhead[model->name()] = from_milliseconds(total - device - conversion);
        const auto spread = frame_spread(result.device_ms);
        if (!spread.empty()) section.frame_spread[model->name()] = spread;
        alone_device_ms.push_back(device);
        most_clients += static_cast<uint32_t>(model->queue_size);
    }
    // 2. After the device idled: each model alone, one frame every COLD_GAP plus its frame
    // time. On the cpu the frame takes longer than back to back (the thread pool asleep, the
    // caches cold); the simulation scales the difference by the idle gap.
    section.cold_after = COLD_GAP;
    for (size_t m = 0; m < models.size(); ++m) {
        PreparedModel* model = models[m];
        const double period = std::chrono::duration<double>(COLD_GAP).count() +
                              section.models[model->name()].frame.count() / 1e9;
        PumpOptions cold;
        cold.seconds = std::max(seconds, 8 * period);
        cold.framerate = 1.0 / period;
        cold.in_flight = 1;
        CORUN_TRY(const PumpResult result, pump_frames(*model->configured, model->slots, cold),
                  model->path);
        section.cold_frame[model->name()] = from_milliseconds(
            LatencySummary::of(result.device).p50 + LatencySummary::of(result.conversion).p50);
    }
    // 3. Models taking turns: one client sending each model's frame in turn, so that every
    // frame follows another model's. The context switch is what a frame takes more than back
    // to back after its own (caches holding another model's weights), averaged over the models.
    if (models.size() >= 2) {
        std::vector<std::vector<double>> device_ms(models.size());
        const auto begin = std::chrono::steady_clock::now();
        for (uint64_t turn = 0; turn < 1000000; ++turn) {
            if (turn >= 2 * models.size() &&
                std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() >=
                    seconds) {
                break;
            }
            PreparedModel& model = *models[turn % models.size()];
            InferTiming timing;
            auto job = model.configured->run_async(
                model.slots[0],
                [&timing](const AsyncInferCompletionInfo& info) { timing = info.timing; });
            if (!job) return job.status().with_context(model.path);
            CORUN_RETURN_IF_ERROR(job->wait(std::chrono::seconds(60)), model.path);
            if (turn >= models.size()) {  // the first round follows nothing
                device_ms[turn % models.size()].push_back(timing.device_ns / 1e6);
            }
        }
        double extra_ms = 0;
        for (size_t m = 0; m < models.size(); ++m) {
            extra_ms += std::max(0.0, percentile(device_ms[m], 50) - alone_device_ms[m]);
        }
        section.context_switch = from_milliseconds(extra_ms / static_cast<double>(models.size()));
    }
    // 4. k clients at once, client c on model c % M: how much longer a frame takes while k
    // slots run.
    const uint32_t most = std::min(section.execution_slots, most_clients);
    for (uint32_t k = 2; k <= most; ++k) {
        std::vector<uint32_t> clients(models.size(), 0);
        for (uint32_t c = 0; c < k; ++c) ++clients[c % models.size()];
        std::vector<PumpTask> tasks;
        std::vector<size_t> task_model;
        for (size_t m = 0; m < models.size(); ++m) {
            if (clients[m] == 0) continue;
            PumpTask task;
            task.model = models[m];
            task.options.seconds = seconds;
            task.options.in_flight = clients[m];
            tasks.push_back(std::move(task));
            task_model.push_back(m);
        }
        auto results = pump_together(tasks);
        double slowed = 0, alone = 0;
        for (size_t t = 0; t < tasks.size(); ++t) {
            if (!results[t]) return results[t].status().with_context(models[task_model[t]]->path);
            const double weight = clients[task_model[t]];
            slowed += weight * LatencySummary::of(results[t]->device).p50;
            alone += weight * alone_device_ms[task_model[t]];
        }
        section.interference.push_back(alone > 0 ? std::max(0.1, slowed / alone) : 1.0);
    }
    return section;
}

Expected<router::GenerativeTiming> measure_llm(VDevice& vdevice, const std::string& path,
                                               uint32_t max_tokens, double seconds) {
    genai::LLMParams params;
    CORUN_TRY(auto llm, genai::LLM::create(vdevice, path, params));
    router::GenerativeTiming timing;
    timing.prefill_chunk_tokens = params.prefill_chunk_tokens;
    CORUN_TRY(const std::string prompt, prompt_of_about(*llm, timing.prefill_chunk_tokens));
    CORUN_TRY(const auto prompt_tokens, llm->tokenize(prompt));
    genai::LLMGeneratorParams generation;
    generation.max_generated_tokens = std::max<uint32_t>(2, max_tokens);
    std::vector<double> ttft_ms, inter_token_ms;
    const auto started = std::chrono::steady_clock::now();
    for (int round = 0; round < 1000; ++round) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (round >= 2 && elapsed >= seconds) break;
        CORUN_RETURN_IF_ERROR(llm->clear_context());
        CORUN_TRY(auto completion, llm->generate(generation, prompt));
        while (completion.read(std::chrono::minutes(10)).has_value()) {
        }
        const auto timings = completion.timings();
        if (timings.generated_tokens > 0) ttft_ms.push_back(timings.time_to_first_token_ms);
        inter_token_ms.insert(inter_token_ms.end(), timings.inter_token_ms.begin(),
                              timings.inter_token_ms.end());
    }
    if (ttft_ms.empty() || inter_token_ms.empty()) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      path + " generated fewer than two tokens; cannot time its decode steps");
    }
    // The prompt took ceil(tokens / chunk) chunks; the time scales with its tokens.
    timing.prefill_chunk = from_milliseconds(percentile(ttft_ms, 50) * timing.prefill_chunk_tokens /
                                             static_cast<double>(prompt_tokens.size()));
    timing.decode_step = from_milliseconds(percentile(inter_token_ms, 50));
    return timing;
}

}  // namespace corun::tools
