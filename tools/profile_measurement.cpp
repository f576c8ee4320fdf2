#include "profile_measurement.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>

#include <unistd.h>

#include "cli_support.hpp"
#include "corun/genai/llm.hpp"
#include "llm_prompt.hpp"
#include "machine_speed.hpp"
#include "runtime/monitor/group_recording.hpp"
#include "scheduler/closed_loop_race.hpp"

namespace corun::tools {
namespace {

// The idle gap after which a frame counts as cold: well past ONNX Runtime's spinning threads
// going to sleep and the caches going cold (measured here: a frame 20 ms after the last takes
// about what one 100 ms after does).
constexpr std::chrono::milliseconds COLD_GAP{20};

// Windows of k slots busy and of each model alone, in alternation, per interference factor:
// each round's ratio is of two windows moments apart, and the factor the median of the rounds'
// ratios, so one round the machine disturbed does not decide it (with 4 rounds of pooled
// frames, a bench run measured face_detection x0.69 beside others where every mix ran it at
// x1.0). With four models and k = 2, each model is in 4 of the 8 rounds.
constexpr int INTERFERENCE_ROUNDS = 8;

// Points of a model's frame spread: quantiles 2.5%, 7.5%, ..., 97.5% of its frame times.
constexpr size_t SPREAD_POINTS = 20;

// SPREAD_POINTS ratios at evenly spaced quantiles (each bin's middle), ascending: `values`
// over `unit`. Empty with fewer values than points.
std::vector<double> ratio_spread(const std::vector<double>& values, double unit) {
    if (values.size() < SPREAD_POINTS || !(unit > 0)) return {};
    std::vector<double> spread;
    for (size_t k = 0; k < SPREAD_POINTS; ++k) {
        const double quantile = 100.0 * (static_cast<double>(k) + 0.5) / SPREAD_POINTS;
        const double ratio = std::clamp(percentile(values, quantile) / unit, 0.01, 100.0);
        // Two decimals: the profile stays readable; ascending survives the rounding.
        spread.push_back(std::round(ratio * 100.0) / 100.0);
    }
    return spread;
}

// Each frame time over their median at SPREAD_POINTS evenly spaced quantiles (empty: too few
// frames to say).
std::vector<double> frame_spread(const std::vector<double>& frame_ms) {
    return ratio_spread(frame_ms, percentile(frame_ms, 50));
}

// One frame of `model` alone, waited for: its device time.
Expected<double> one_frame_device_ms(PreparedModel& model) {
    InferTiming timing;
    auto job = model.configured->run_async(
        model.slots[0], [&timing](const AsyncInferCompletionInfo& info) { timing = info.timing; });
    if (!job) return job.status().with_context(model.path);
    CORUN_RETURN_IF_ERROR(job->wait(std::chrono::seconds(60)), model.path);
    return static_cast<double>(timing.device_ns) / 1e6;
}

// Every frame's device time of `model` alone, one frame in flight (pump_alone).
Expected<std::vector<double>> device_ms_alone(PreparedModel& model, double seconds) {
    CORUN_TRY(PumpResult result, pump_alone(model, seconds));
    return std::move(result.device_ms);
}

// What phase 4 measures: interference[k - 1] for the device (over all models) and per model
// (where it was measured in every k), for k = 1 .. `most` clients at once.
struct Interference {
    std::vector<double> device{1.0};
    std::vector<std::vector<double>> per_model;
    // Per model, how its frames beside others spread around their median (with the most
    // slots busy); empty where too few frames ran.
    std::vector<std::vector<double>> beside_spread;
};

// k clients at once: how much longer a frame takes while k slots run than alone. The two are
// measured in alternation, INTERFERENCE_ROUNDS windows of each, so that drift over the seconds
// of the phase falls on both; in round r client c runs model (c + r) % M, so that each model is
// measured beside others where k < M.
Expected<Interference> measure_interference(const std::vector<PreparedModel*>& models,
                                            uint32_t most, double seconds) {
    Interference measured;
    std::vector<std::vector<double>> own_factors(models.size(), std::vector<double>{1.0});
    std::vector<double> frame_ms(models.size());
    for (size_t m = 0; m < models.size(); ++m) {
        CORUN_TRY(frame_ms[m], one_frame_device_ms(*models[m]));
    }
    for (uint32_t k = 2; k <= most; ++k) {
        // Per model, each round's ratio: its frames beside the others over its frames alone.
        std::vector<std::vector<double>> round_ratios(models.size());
        std::vector<double> all_ratios;
        // And each frame beside the others over its round's frames alone (drift cancels).
        std::vector<std::vector<double>> frame_ratios(models.size());
        for (int round = 0; round < INTERFERENCE_ROUNDS; ++round) {
            std::vector<uint32_t> clients(models.size(), 0);
            for (uint32_t c = 0; c < k; ++c) ++clients[(c + round) % models.size()];
            std::vector<size_t> involved;
            double slowest_ms = 0;  // with k slots busy a frame can take up to k times longer
            for (size_t m = 0; m < models.size(); ++m) {
                if (clients[m] == 0) continue;
                involved.push_back(m);
                slowest_ms = std::max(slowest_ms, frame_ms[m] * k);
            }
            std::vector<PumpTask> tasks;
            for (size_t m : involved) {
                PumpTask task;
                task.model = models[m];
                task.options.seconds = window_seconds(seconds / INTERFERENCE_ROUNDS, slowest_ms);
                task.options.in_flight = clients[m];
                task.options.keep_every_frame = true;
                tasks.push_back(std::move(task));
            }
            auto results = pump_together(tasks);
            for (size_t t = 0; t < tasks.size(); ++t) {
                if (!results[t]) return results[t].status().with_context(models[involved[t]]->path);
            }
            for (size_t t = 0; t < tasks.size(); ++t) {
                const size_t m = involved[t];
                CORUN_TRY(
                    const auto frames_ms,
                    device_ms_alone(*models[m], seconds / (INTERFERENCE_ROUNDS *
                                                           static_cast<double>(involved.size()))));
                if (results[t]->device_ms.empty() || frames_ms.empty()) continue;
                const double by_itself = percentile(frames_ms, 50);
                if (!(by_itself > 0)) continue;
                const double ratio = percentile(results[t]->device_ms, 50) / by_itself;
                round_ratios[m].push_back(ratio);
                all_ratios.push_back(ratio);
                for (double frame : results[t]->device_ms)
                    frame_ratios[m].push_back(frame / by_itself);
            }
        }
        for (size_t m = 0; m < models.size(); ++m) {
            if (round_ratios[m].empty()) continue;  // not in this k
            if (own_factors[m].size() == k - 1) {
                own_factors[m].push_back(std::clamp(percentile(round_ratios[m], 50), 0.1, 100.0));
            }
        }
        measured.device.push_back(
            all_ratios.empty() ? 1.0 : std::clamp(percentile(all_ratios, 50), 0.1, 100.0));
        if (k == most) {
            measured.beside_spread.assign(models.size(), {});
            for (size_t m = 0; m < models.size(); ++m) {
                if (frame_ratios[m].empty()) continue;
                measured.beside_spread[m] = frame_spread(frame_ratios[m]);
            }
        }
    }
    for (size_t m = 0; m < models.size(); ++m) {
        if (own_factors[m].size() != measured.device.size() || own_factors[m].size() < 2) {
            own_factors[m].clear();
        }
    }
    measured.per_model = std::move(own_factors);
    return measured;
}

// The cpu device sharing its cores by itself runs a frame alone on every core (or on one, where
// that measured faster) and a frame beside others on one core: a model's slowdown beside others
// is its time on one core over its time alone, times what one-core frames side by side cost
// each other (caches, memory bandwidth; on this VM's two vCPUs much of it). Both are measured
// on a twin of the models on a device of one slot per core x one thread made for it.
// Measured instead on the automatic device itself, a frame's company varied with its partner
// (a partner of 1 ms frames idles between them, and the frame then started alone on every
// core): mobilefacenet's factor came out 0.98-1.57 between runs, where it ran 1.45x its time
// alone in every mix.
struct OneCoreTwin {
    std::unique_ptr<VDevice> device;
    std::vector<std::unique_ptr<PreparedModel>> owned;
    std::vector<PreparedModel*> models;
};

Expected<OneCoreTwin> one_core_twin(const std::vector<PreparedModel*>& models, uint32_t slots) {
    VDeviceParams params;
    params.group_id = "corun-profile-one-core-" + std::to_string(::getpid());
    params.cpu.execution_slots = slots;
    params.cpu.intra_op_threads = 1;
    OneCoreTwin twin;
    CORUN_TRY(twin.device, VDevice::create(params));
    for (PreparedModel* model : models) {
        CORUN_TRY(auto prepared, prepare_model(*twin.device, model->setup), model->path);
        CORUN_RETURN_IF_ERROR(warm_up(*prepared));
        twin.models.push_back(prepared.get());
        twin.owned.push_back(std::move(prepared));
    }
    return twin;
}

// A model's time on one core (its twin) over its time alone here, in INTERFERENCE_ROUNDS
// alternating windows over `seconds`. Taken right after phase 1: the cold frames of phase 2
// (every core after an idle gap, its pool asleep) turn the device's own choice for a frame
// alone to one core for a while, and the ratio is to the time alone that phase 1 measured.
Expected<double> one_core_ratio(PreparedModel& model, PreparedModel& twin, double seconds) {
    std::vector<double> alone_ms, one_core_ms;
    const double window = seconds / (2.0 * INTERFERENCE_ROUNDS);
    for (int round = 0; round < INTERFERENCE_ROUNDS; ++round) {
        CORUN_TRY(const auto here, device_ms_alone(model, window));
        CORUN_TRY(const auto there, device_ms_alone(twin, window));
        alone_ms.insert(alone_ms.end(), here.begin(), here.end());
        one_core_ms.insert(one_core_ms.end(), there.begin(), there.end());
    }
    const double by_itself = percentile(alone_ms, 50);
    if (!(by_itself > 0)) return 1.0;
    return std::clamp(percentile(one_core_ms, 50) / by_itself, 0.1, 100.0);
}

// Each model's own factors: its one-core ratio times the one-core frames' slowdown side by
// side (theirs, or the device's where a model's own was not measured in every k); the device's
// is the mean over the models.
Interference automatic_interference(const std::vector<double>& one_core_ratios,
                                    const Interference& side_by_side) {
    Interference measured;
    measured.per_model.assign(one_core_ratios.size(), {1.0});
    for (size_t k = 2; k <= side_by_side.device.size(); ++k) {
        double sum = 0;
        for (size_t m = 0; m < one_core_ratios.size(); ++m) {
            const auto& own = side_by_side.per_model[m];
            const double factor =
                one_core_ratios[m] * (own.empty() ? side_by_side.device[k - 1] : own[k - 1]);
            measured.per_model[m].push_back(factor);
            sum += factor;
        }
        measured.device.push_back(sum / static_cast<double>(one_core_ratios.size()));
    }
    if (measured.device.size() < 2) measured.per_model.assign(one_core_ratios.size(), {});
    // How one-core frames spread side by side: the shape of a frame's time beside others.
    measured.beside_spread = side_by_side.beside_spread;
    return measured;
}

}  // namespace

Status warm_up(PreparedModel& model) {
    PumpOptions warmup;
    warmup.frames = WARM_UP_FRAMES;
    warmup.in_flight = 1;
    return pump_frames(*model.configured, model.slots, warmup).status().with_context(model.path);
}

double window_seconds(double seconds, double frame_ms) {
    return std::max(seconds, static_cast<double>(MIN_WINDOW_FRAMES) * frame_ms / 1000.0);
}

Expected<PumpResult> pump_alone(PreparedModel& model, double seconds) {
    CORUN_TRY(const double frame_ms, one_frame_device_ms(model));
    PumpOptions alone;
    alone.seconds = window_seconds(seconds, frame_ms);
    alone.in_flight = 1;
    alone.keep_every_frame = true;
    CORUN_TRY(PumpResult result, pump_frames(*model.configured, model.slots, alone), model.path);
    return result;
}

double slot_time_ms(const PumpResult& alone) {
    return LatencySummary::of(alone.device).p50 + LatencySummary::of(alone.conversion).p50;
}

// What phase 5 measures with a group of models: the share over all their frames, and each
// model's own (in the group's order; the group's where none of its frames raced).
struct ClosedLoopShares {
    double all = 1.0;
    std::vector<double> per_model;
    // Where the late frames came (scheduler::closed_loop_gaps_of): over all ([0], in time, when
    // nothing raced), and per model (the group's where fewer than SPREAD_POINTS of its frames
    // raced).
    router::DeviceProfile::ReturnGaps all_gaps;
    std::vector<router::DeviceProfile::ReturnGaps> per_model_gaps;
};

// Phase 5 of measure_cpu_section: every model with one client calling run() in a loop, all at
// once, for `seconds`, recorded.
Expected<std::optional<ClosedLoopShares>> measure_closed_loop_in_time(
    VDevice& vdevice, const std::vector<PreparedModel*>& models, double seconds) {
    auto group = runtime::monitor::group_of(vdevice);
    // The group recorded already (`corun trace --pid` of this process): the share is not
    // measured (nullopt), rather than the whole profile lost.
    const Status recording = runtime::monitor::start_recording(*group, {});
    if (!recording.is_ok()) {
        std::fprintf(stderr,
                     "[profile] closed_loop_in_time not measured (%s); the profile keeps 1\n",
                     recording.to_string().c_str());
        return std::optional<ClosedLoopShares>();
    }
    const auto end = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds));
    std::vector<Status> failures(models.size());
    std::vector<std::thread> clients;
    for (size_t m = 0; m < models.size(); ++m) {
        clients.emplace_back([&, m] {
            for (int frame = 0; frame < 1000000 && std::chrono::steady_clock::now() < end;
                 ++frame) {
                failures[m] =
                    models[m]->configured->run(models[m]->slots[0], std::chrono::seconds(60));
                if (!failures[m].is_ok()) return;
            }
        });
    }
    for (auto& client : clients) client.join();
    const auto traced = runtime::monitor::stop_recording(*group);
    for (size_t m = 0; m < models.size(); ++m) {
        if (!failures[m].is_ok()) return failures[m].with_context(models[m]->path);
    }
    ClosedLoopShares shares;
    shares.all = scheduler::closed_loop_in_time_of(traced.recording);
    const auto by_model = scheduler::closed_loop_in_time_by_model(traced.recording);
    shares.all_gaps = scheduler::closed_loop_gaps_of(traced.recording, SPREAD_POINTS);
    // Nothing raced (as many slots as clients): nothing to place; in time, as the share's 1.
    if (shares.all_gaps.empty()) shares.all_gaps = {std::chrono::nanoseconds(0)};
    const auto gaps_by_model =
        scheduler::closed_loop_gaps_by_model(traced.recording, SPREAD_POINTS);
    for (PreparedModel* model : models) {
        const uint64_t id = model->configured->scheduler_model_id();
        auto own = by_model.find(id);
        shares.per_model.push_back(own != by_model.end() ? own->second : shares.all);
        auto own_gaps = gaps_by_model.find(id);
        const bool enough = own_gaps != gaps_by_model.end() &&
                            own_gaps->second.size() == SPREAD_POINTS;  // 20 frames raced
        shares.per_model_gaps.push_back(enough ? own_gaps->second : shares.all_gaps);
    }
    return std::optional<ClosedLoopShares>(std::move(shares));
}

Expected<router::DeviceProfile> measure_cpu_section(VDevice& vdevice,
                                                    const std::vector<PreparedModel*>& models,
                                                    const CpuDeviceParams& cpu,
                                                    uint32_t machine_cores, double seconds,
                                                    bool automatic_sharing,
                                                    MachineSpeed* machine_speed_out) {
    router::DeviceProfile section;
    section.one_burst_per_model = automatic_sharing;
    section.cores = machine_cores;
    section.execution_slots = std::max<uint32_t>(1, cpu.execution_slots);
    section.intra_op_threads = cpu.intra_op_threads;
    section.interference = {1.0};
    // 1. Alone, one frame in flight: what a frame holds the slot for, and what it spends
    // outside it.
    uint32_t most_clients = 0;
    std::vector<FrameSequence> sequences;
    for (PreparedModel* model : models) {
        CORUN_RETURN_IF_ERROR(warm_up(*model));
        CORUN_TRY(const PumpResult result, pump_alone(*model, seconds));
        // Its frames back to back, for the machine's speed where asked: each starts as the one
        // before it completed.
        if (machine_speed_out != nullptr) {
            FrameSequence& sequence = sequences.emplace_back();
            double started_ms = 0;
            for (size_t f = 0; f < result.total_ms.size() && f < result.device_ms.size(); ++f) {
                sequence.start_ms.push_back(started_ms);
                sequence.device_ms.push_back(result.device_ms[f]);
                started_ms += result.total_ms[f];
            }
        }
        const double device = LatencySummary::of(result.device).p50;
        const double slot = slot_time_ms(result);
        // Per frame, then the median: a difference of medians can come out of nothing.
        std::vector<double> outside_ms;
        for (size_t f = 0; f < result.total_ms.size() && f < result.device_ms.size(); ++f) {
            outside_ms.push_back(result.total_ms[f] - result.device_ms[f]);
        }
        const double total = device + percentile(outside_ms, 50);
        devices::npu_sim::ModelTiming timing;
        timing.frame = nanoseconds_from_ms(slot);
        if (timing.frame.count() <= 0) timing.frame = std::chrono::microseconds(1);
        timing.max_in_flight = static_cast<uint32_t>(model->queue_size);
        section.models[model->name()] = timing;
        section.overhead[model->name()] = nanoseconds_from_ms(total - slot);
        const auto spread = frame_spread(result.device_ms);
        if (!spread.empty()) section.frame_spread[model->name()] = spread;
        most_clients += static_cast<uint32_t>(model->queue_size);
    }
    // The machine's speed, for capacity_bench to score: the profile does not carry it, since
    // side by side it did not improve the predictions on this machine (docs/ROUTER.md).
    if (machine_speed_out != nullptr) *machine_speed_out = machine_speed(sequences);
    // 1b. With automatic sharing: each model's time on one core against its time alone.
    OneCoreTwin twin;
    std::vector<double> one_core_ratios(models.size(), 1.0);
    if (automatic_sharing) {
        CORUN_TRY(twin, one_core_twin(models, section.execution_slots));
        for (size_t m = 0; m < models.size(); ++m) {
            CORUN_TRY(one_core_ratios[m], one_core_ratio(*models[m], *twin.models[m], seconds));
        }
    }
    // 2. After the device idled: each model alone, pairs of a frame COLD_GAP after the last
    // and one right after it. On the cpu the first takes longer (the thread pool asleep, the
    // caches cold, an idle vCPU waking); the simulation scales the difference by the idle gap.
    // Each pair is a ratio of two frames a few milliseconds apart, so the machine's drift over
    // the seconds of the profile (this VM's frame times move by 2x between runs) cancels.
    section.cold_after = COLD_GAP;
    for (PreparedModel* model : models) {
        const double pair_seconds = std::chrono::duration<double>(COLD_GAP).count() +
                                    2 * section.models[model->name()].frame.count() / 1e9;
        const int pairs = std::clamp(static_cast<int>(seconds / pair_seconds),
                                     static_cast<int>(SPREAD_POINTS), 1000);
        std::vector<double> ratios, colds_ms, warms_ms;
        for (int pair = 0; pair < pairs; ++pair) {
            std::this_thread::sleep_for(COLD_GAP);
            CORUN_TRY(const double cold_ms, one_frame_device_ms(*model));
            CORUN_TRY(const double warm_ms, one_frame_device_ms(*model));
            if (warm_ms > 0) ratios.push_back(cold_ms / warm_ms);
            colds_ms.push_back(cold_ms);
            warms_ms.push_back(warm_ms);
        }
        const double ratio = std::max(1.0, percentile(ratios, 50));
        section.cold_frame[model->name()] = std::chrono::nanoseconds(static_cast<int64_t>(
            static_cast<double>(section.models[model->name()].frame.count()) * ratio));
        // And how the cold frames spread, over the median of the warm frames between them
        // (the same seconds: drift cancels), as frame_spread is over the median: the
        // simulation places a burst in both with one draw.
        const auto spread = ratio_spread(colds_ms, percentile(warms_ms, 50));
        if (!spread.empty()) section.cold_spread[model->name()] = spread;
    }
    // 3. Models taking turns, two frames each: the first of a pair follows another model's
    // frame, the second its own. The context switch is what the first takes more than the
    // second (caches holding another model's weights), averaged over the models; both are
    // measured in the same seconds, so drift cancels.
    if (models.size() >= 2) {
        std::vector<std::vector<double>> after_other(models.size()), after_own(models.size());
        const auto begin = std::chrono::steady_clock::now();
        for (uint64_t turn = 0; turn < 1000000; ++turn) {
            if (turn >= 4 * models.size() &&
                std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() >=
                    seconds) {
                break;
            }
            const size_t m = (turn / 2) % models.size();
            CORUN_TRY(const double device_ms, one_frame_device_ms(*models[m]));
            if (turn % 2 == 1) {
                after_own[m].push_back(device_ms);
            } else if (turn > 0) {  // the very first frame follows nothing
                after_other[m].push_back(device_ms);
            }
        }
        double extra_ms = 0;
        for (size_t m = 0; m < models.size(); ++m) {
            extra_ms +=
                std::max(0.0, percentile(after_other[m], 50) - percentile(after_own[m], 50));
        }
        section.context_switch = nanoseconds_from_ms(extra_ms / static_cast<double>(models.size()));
    }
    // 4. How much longer a frame takes while k slots run than alone: for the device, over all
    // models, and per model (models slow differently when the device gives a frame alone every
    // core). With automatic sharing, from each model's time on one core.
    const uint32_t most = std::min(section.execution_slots, most_clients);
    CORUN_TRY(Interference interference,
              measure_interference(automatic_sharing ? twin.models : models, most, seconds));
    if (automatic_sharing) interference = automatic_interference(one_core_ratios, interference);
    section.interference = interference.device;
    for (size_t m = 0; m < models.size(); ++m) {
        if (!interference.per_model[m].empty()) {
            section.model_interference[models[m]->name()] = interference.per_model[m];
        }
        // Beside others a frame's time spreads wider than alone (nanodet, two slots x one
        // thread: p95 1.24-1.38x its median in the mixes, about 1.1x alone).
        if (m < interference.beside_spread.size() && !interference.beside_spread[m].empty()) {
            section.beside_spread[models[m]->name()] = interference.beside_spread[m];
        }
    }
    // 5. Closed-loop clients: how often a client's next frame makes the decision after its last.
    if (models.size() >= 2) {
        // With the first k models for every k: the share varies with their number (npu-sim:
        // 76% with two, 53% with three, 64% with four), and the simulation takes the one for
        // the workload's number of closed-loop models.
        for (size_t k = 2; k <= models.size(); ++k) {
            const std::vector<PreparedModel*> first(models.begin(),
                                                    models.begin() + static_cast<ptrdiff_t>(k));
            CORUN_TRY(const auto shares, measure_closed_loop_in_time(vdevice, first, seconds));
            if (!shares) break;  // not recordable now: none of them is measured
            section.closed_loop_in_time_by_clients.push_back(shares->all);
            section.closed_loop_gaps_by_clients.push_back(shares->all_gaps);
            // Each model's own share and gaps; the group's for a model not in it.
            for (size_t m = 0; m < models.size(); ++m) {
                section.model_closed_loop_in_time_by_clients[models[m]->name()].push_back(
                    m < k ? shares->per_model[m] : shares->all);
                section.model_closed_loop_gaps_by_clients[models[m]->name()].push_back(
                    m < k ? shares->per_model_gaps[m] : shares->all_gaps);
            }
        }
        if (section.closed_loop_in_time_by_clients.size() + 1 != models.size()) {
            section.closed_loop_in_time_by_clients.clear();  // 1 for any number (said above)
            section.model_closed_loop_in_time_by_clients.clear();
            section.closed_loop_gaps_by_clients.clear();
            section.model_closed_loop_gaps_by_clients.clear();
        } else {
            section.closed_loop_in_time = section.closed_loop_in_time_by_clients.back();
            if (models.size() == 2) section.closed_loop_in_time_by_clients.clear();
        }
    }
    return section;
}

Expected<router::GenerativeTiming> measure_llm(VDevice& vdevice, const std::string& path,
                                               uint32_t max_tokens, double seconds) {
    genai::LLMParams params;
    CORUN_TRY(auto llm, genai::LLM::create(vdevice, path, params));
    router::GenerativeTiming timing;
    timing.prefill_chunk_tokens = params.prefill_chunk_tokens;
    // One full chunk exactly: a prompt a few tokens over takes a second chunk, and on a CPU a
    // chunk's time is far from proportional to its tokens (llama.cpp's matrix kernels favour
    // whole tiles: measured here, 60 tokens took twice as long as 64).
    CORUN_TRY(const TokenPrompt prompt, prompt_of_tokens(*llm, timing.prefill_chunk_tokens));
    if (prompt.tokens == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      path +
                          ": its tokenizer makes no token of plain English words; cannot time "
                          "a prefill chunk");
    }
    genai::LLMGeneratorParams generation;
    generation.max_generated_tokens = std::max<uint32_t>(2, max_tokens);
    std::vector<double> ttft_ms, inter_token_ms;
    const auto started = std::chrono::steady_clock::now();
    for (int round = 0; round < 1000; ++round) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (round >= 2 && elapsed >= seconds) break;
        CORUN_RETURN_IF_ERROR(llm->clear_context());
        CORUN_TRY(auto completion, llm->generate(generation, prompt.text));
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
    timing.prefill_chunk = nanoseconds_from_ms(
        percentile(ttft_ms, 50) * timing.prefill_chunk_tokens / static_cast<double>(prompt.tokens));
    timing.decode_step = nanoseconds_from_ms(percentile(inter_token_ms, 50));
    // Its spread (empty below SPREAD_POINTS generations): a TTFT's tail, a few milliseconds
    // long for a small model, is the OS's scheduling on a busy CPU as much as the model's.
    timing.prefill_spread = frame_spread(ttft_ms);
    return timing;
}

}  // namespace corun::tools
