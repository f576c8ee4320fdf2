// The model scheduler in virtual time: the same SchedulingPolicy as the threaded scheduler,
// driven by a discrete-event clock over an npu-sim timing model. No sleeping, exact and
// repeatable: thousands of simulated seconds per real second. Tests assert exact schedules
// with it, and capacity planning (src/router/capacity_model.*) asks it "what if".
//
// What it models, as the threaded scheduler and the devices do it:
//   - arrivals: saturating, periodic (a camera that drops a frame finding the queue full, or
//     waits for room), a list of times, Poisson (seeded), and closed-loop clients with a think
//     time, whose next frame makes the decision after their last for a measured share;
//   - a device with several slots (the cpu device runs `execution_slots` inferences at once,
//     each slot deciding with the same policy), latency slots for models above normal priority,
//     and a slowdown of concurrent slots: a burst's device time is multiplied by
//     interference[k - 1] while k bursts run at once, re-timed whenever k changes;
//   - host pre/post time per frame, overlapped with the device (it adds to the frame's latency
//     but holds no slot), and the runtime's overhead per frame (latency only);
//   - frames that start on an idle device taking longer (cold_frame), as measured on the cpu;
//   - the spread of a model's frame times (frame_spread), drawn per burst from a seeded sequence;
//   - generative models: a job is a chain of units (prefill chunks, then decode steps), one
//     queued at a time, each a preemptible request: bursts of models of a higher priority run
//     at once beside a unit on the device's lent slot, and with preemption on the unit pauses
//     while they run (docs/GENAI.md);
//   - deadlines: a model with a latency SLO gives each frame the deadline queueing + SLO; its
//     frames run earliest deadline first within a priority level, a frame predicted to finish
//     after its deadline is refused when it is queued, and one whose own execution would end
//     after it is dropped before it runs (scheduler/admission.hpp, as the threaded scheduler).
//     The prediction sees the simulation's exact remaining times where the threaded scheduler
//     sees its measured window; a closed-loop client whose frame was refused or dropped sends
//     its next one after its think time, at least REFUSED_RETRY_GAP (as `corun run2` does).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "devices/npu_sim/npu_timing_model.hpp"
#include "scheduler/scheduler_recording.hpp"
#include "scheduler/scheduling_policy.hpp"

namespace corun::scheduler {

// How a simulated client sends frames (or, for a generative model, jobs).
struct ArrivalPattern {
    enum class Kind {
        SATURATE,     // keeps its queue full: a new frame the moment one completes
        PERIODIC,     // one frame every `period`, starting at `start`; dropped if the queue is
                      // full, or with waits_when_full it waits (below)
        LIST,         // frames at the given times
        POISSON,      // exponential gaps of mean `period` from `start`, drawn from `seed`
        CLOSED_LOOP,  // `clients` clients, each sending its next frame `think` after its
                      // previous one completed (all send their first at `start`)
    };
    Kind kind = Kind::SATURATE;
    std::chrono::nanoseconds period{0};
    std::chrono::nanoseconds start{0};
    std::vector<std::chrono::nanoseconds> times;
    uint64_t seed = 0;
    uint32_t clients = 0;
    std::chrono::nanoseconds think{0};
    // PERIODIC: a frame that finds the queue full waits for room, sent the moment a frame
    // leaves, and its latency counts from then (what `corun run2`'s frame pump does, and an
    // application that calls wait_for_async_ready() before run_async()); the next frame is due
    // a period after the late one if that one went out more than a period late (the frames
    // of the schedule in between counted as dropped), else on the schedule. No further frame
    // comes while one waits.
    bool waits_when_full = false;

    static ArrivalPattern saturate() { return {}; }
    static ArrivalPattern periodic(std::chrono::nanoseconds period,
                                   std::chrono::nanoseconds start = std::chrono::nanoseconds(0)) {
        return {Kind::PERIODIC, period, start, {}};
    }
    static ArrivalPattern at(std::vector<std::chrono::nanoseconds> times) {
        return {Kind::LIST, {}, {}, std::move(times)};
    }
    static ArrivalPattern poisson(std::chrono::nanoseconds mean_gap, uint64_t seed,
                                  std::chrono::nanoseconds start = std::chrono::nanoseconds(0)) {
        return {Kind::POISSON, mean_gap, start, {}, seed};
    }
    static ArrivalPattern closed_loop(
        uint32_t clients, std::chrono::nanoseconds think,
        std::chrono::nanoseconds start = std::chrono::nanoseconds(0)) {
        return {Kind::CLOSED_LOOP, {}, start, {}, 0, clients, think};
    }
};

// A generative model's job: the prompt in chunks, then one decode step per further token. The
// first token is sampled when the last prefill chunk ends; each decode step ends with one more.
struct GenerationShape {
    uint32_t prompt_tokens = 0;  // 0 with max_tokens 0: not a generative model
    uint32_t prefill_chunk_tokens = 64;
    std::chrono::nanoseconds prefill_chunk{0};  // device time of a full chunk (a shorter last
                                                // chunk takes its share)
    uint32_t max_tokens = 0;
    std::chrono::nanoseconds decode_step{0};
    // A prefill chunk's time over prefill_chunk at evenly spaced quantiles (as
    // SimulatedModel::frame_spread): each chunk draws one; empty, every chunk takes its time.
    std::vector<double> prefill_spread;
    bool preemption = true;  // units pause while bursts of a higher priority run

    bool generative() const { return prompt_tokens > 0 || max_tokens > 0; }
    uint32_t prefill_units() const {
        return (prompt_tokens + prefill_chunk_tokens - 1) /
               std::max<uint32_t>(1, prefill_chunk_tokens);
    }
    // Prefill chunks, then max_tokens - 1 decode steps.
    uint32_t units() const { return prefill_units() + (max_tokens > 0 ? max_tokens - 1 : 0); }
    std::chrono::nanoseconds unit_time(uint32_t unit) const;
};

struct SimulatedModel {
    std::string name;
    ModelSchedulingParams params;
    devices::npu_sim::ModelTiming timing;  // host_pre and host_post are used too
    ArrivalPattern arrivals;
    uint32_t queue_capacity = 2;  // frames queued or running at once (the async queue); for a
                                  // generative model, jobs waiting for the one that runs
    GenerationShape generation;   // a generative model when generation.generative()
    // Added to every latency but to no schedule: the runtime's own time per frame outside the
    // slot (handing the frame to a worker, delivering its completion). A client that sends its
    // next frame on completion has it queued before the slot decides again (it runs on another
    // core while the worker finishes), so it does not delay the next frame as host time does.
    std::chrono::nanoseconds latency_overhead{0};
    // A frame's device time when the device had been idle for SimulatedDevice::cold_after or
    // longer (its threads asleep, its caches cold); after a shorter idle gap the extra time is
    // that share of (cold_frame - frame), once per burst. 0: every frame takes timing.frame.
    std::chrono::nanoseconds cold_frame{0};
    // How a cold frame's device time spreads: ratios to timing.frame at evenly spaced
    // quantiles, ascending (the profile's "cold_spread": frames after an idle gap over the
    // median of frames right after them). With it, a burst's one draw from frame_spread
    // places it in this distribution too, and its cold share of the difference is added (the
    // first frame only); cold_frame is then unused. Empty: cold_frame.
    std::vector<double> cold_spread;
    // How a frame's device time spreads around timing.frame: the ratio (device time / median)
    // at evenly spaced quantiles, ascending (the profile's "frame_spread"). Each burst draws one
    // ratio, interpolated between the points, from the model's own seeded sequence, so a
    // simulation stays exact and repeatable while its p95 sees the jitter a real device has.
    // Empty: every burst takes exactly timing.burst(frames).
    std::vector<double> frame_spread;
    // The same for a burst that starts while another slot runs: beside others a frame's time
    // spreads wider than alone (cpu, nanodet: p95 1.24-1.38x its median in mixes, about 1.1x
    // alone); its median stays 1, the slowdown being `interference`'s. Empty: frame_spread.
    std::vector<double> beside_spread;
    // This model's own slowdown while k bursts run at once (as SimulatedDevice::interference),
    // where models slow differently: on a cpu device sharing its cores by itself, a frame alone
    // runs on every core and one beside another on one core, so a model that gains much from a
    // second core slows much more than one that gains little. Empty: the device's.
    std::vector<double> interference;
    // This model's own share of closed-loop frames in time (as SimulatedDevice::
    // closed_loop_in_time), where the race differs by model: a client of fast frames is back
    // sooner than one of slow frames. Negative: the device's.
    double closed_loop_in_time = -1;
    // Where this model's closed-loop client's next frame comes after the decisions made as its
    // last completes (scheduler/closed_loop_race.hpp, measured by `corun benchmark --profile`):
    // gaps at evenly spaced quantiles, ascending, 0 for in time. Each completion draws one,
    // linear between the points, from the device's race sequence. With an anticipation window,
    // a gap within it is caught by a slot holding for the model, and one beyond it is not,
    // which a share in time cannot say. Empty: closed_loop_in_time.
    std::vector<std::chrono::nanoseconds> closed_loop_gaps;
};

// The device the models share.
struct SimulatedDevice {
    std::chrono::nanoseconds context_switch{0};  // charged when a slot changes model
    uint32_t slots = 1;                          // bursts of any model at once
    uint32_t latency_slots = 0;  // further slots for models above normal priority only
    // interference[k - 1]: how much longer a burst takes while k bursts run at once (beyond
    // the end, the last factor holds). Empty: 1 for any k.
    std::vector<double> interference;
    // The idle gap after which a frame takes its model's cold_frame time (0: no cold frames).
    std::chrono::nanoseconds cold_after{0};
    // Whose idling makes a frame cold: its slot's (true: on the cpu device each slot is a
    // worker thread whose core may sleep between its frames, whatever the other slots run) or
    // only the whole device's (false: a burst starting while another slot runs is never cold).
    bool cold_by_slot = true;
    // The share of a closed-loop client's next frames that reach the scheduler before the slot
    // that ran its last one decides again (1, the default: always; 0: never, so two such
    // clients alternate frame by frame). In the threaded scheduler the job completes, waking
    // the client, and the worker then charges the burst and decides: the two race, and which
    // is first varies frame by frame (npu-sim, four closed-loop clients: the client 67% of the
    // time; two: 86%). Between 0 and 1 each completion draws from a seeded sequence: exact and
    // repeatable (router::DeviceProfile::closed_loop_in_time, measured by `corun benchmark
    // --profile`; docs/ROUTER.md).
    double closed_loop_in_time = 1.0;
    // The same gaps as SimulatedModel::closed_loop_gaps for a model with neither its own gaps
    // nor its own share. Empty: closed_loop_in_time.
    std::vector<std::chrono::nanoseconds> closed_loop_gaps;
    // One burst of a model at a time (the threaded scheduler's DeviceSlots::one_burst_per_model,
    // the cpu device sharing its cores by itself): a model with a burst running waits for it
    // rather than taking a second slot.
    bool one_burst_per_model = false;
    // The machine's speed, which moves for every model at once: the share (0..1, in normal
    // scores) of each spread draw that is the device's speed at the burst's start rather than
    // the burst's own, and how long that speed is remembered (the correlation of two bursts' draws
    // falls as speed_share x exp(-gap / speed_memory)). Measured on this VM in a mix: the device
    // times of bursts starting within 20 ms of each other correlate by 0.4-0.7, across models
    // as within one, falling to 0 over about a second, so that slow frames come together and
    // queues (and p95s) grow beyond what independent draws give. Each draw keeps its model's
    // spread exactly (a Gaussian copula); 0, the default: independent draws.
    double speed_share = 0;
    std::chrono::nanoseconds speed_memory{0};

    // How much longer a burst of `model` takes while `running` bursts run: its own interference
    // if it has one, else the device's.
    double slowdown(const SimulatedModel& model, size_t running) const;
};

// One burst on the device.
// A dispatch's end while it has none: a paused unit's, or one still running when the run ends.
inline constexpr std::chrono::nanoseconds DISPATCH_NEVER_ENDS{std::numeric_limits<int64_t>::max()};

struct SimulatedDispatch {
    std::chrono::nanoseconds start{0};  // decision time (switch cost runs first)
    std::chrono::nanoseconds end{0};    // DISPATCH_NEVER_ENDS without one
    size_t model = 0;                   // index into the simulated models
    uint32_t frames = 0;
    bool switched = false;  // a context switch preceded it
    DecisionReason reason = DecisionReason::ROUND_ROBIN;
    ReadyReason ready = ReadyReason::THRESHOLD;
    size_t slot = 0;  // shared slots first, then latency slots, then the lent slot
};

// A closed-loop client whose frame was refused waits this long before its next (at least):
// what `corun run2`'s frame pump does, and what keeps a refusing device from spinning a client.
inline constexpr std::chrono::nanoseconds REFUSED_RETRY_GAP = std::chrono::milliseconds(1);

struct SimulatedModelResult {
    uint64_t frames_done = 0;  // frames (for a generative model: units) completed
    // Arrivals that found the queue full; for a camera that waits for room, the frames of its
    // schedule it never sent because it fell more than a period behind.
    uint64_t frames_dropped = 0;
    // With a latency SLO: frames refused when queued (predicted late), dropped before they ran
    // (late in the queue), and completed after their deadline. Neither refused nor dropped
    // frames have a latency in latency_ms.
    uint64_t frames_refused = 0;
    uint64_t frames_dropped_late = 0;
    uint64_t frames_late = 0;
    // Slot time of its bursts, slowdown included; a paused unit's pause excluded.
    std::chrono::nanoseconds device_time{0};
    std::vector<double> latency_ms;  // arrival to completion (host time included), per frame;
                                     // for a generative model per job
    uint64_t switches_in = 0;
    // Generative models: per job, arrival to its first token; tokens produced in all.
    std::vector<double> ttft_ms;
    uint64_t tokens = 0;
};

// One frame (of a generative model: one job) that reached the scheduler, as a recording of the
// threaded scheduler holds it (scheduler/simulation_recording.hpp turns these into one).
struct SimulatedFrame {
    size_t model = 0;                    // index into the simulated models
    std::chrono::nanoseconds queued{0};  // reached the scheduler (after host pre-processing)
    std::chrono::nanoseconds started = NOT_ENDED;  // its (first) burst began
    std::chrono::nanoseconds ended = NOT_ENDED;    // left the device, or was refused or dropped
    FrameOutcome outcome = FrameOutcome::PENDING;  // COMPLETED, REFUSED, DROPPED or PENDING
    int64_t dispatch = -1;  // index into the result's dispatches of its (first) burst
};

struct SimulationResult {
    std::vector<SimulatedDispatch> dispatches;
    // With record_frames, in the order they reached the scheduler. Frames dropped because the
    // model's queue was full never reach it (the caller gets QUEUE_IS_FULL), and are only
    // counted.
    std::vector<SimulatedFrame> frames;
    std::vector<SimulatedModelResult> models;
    std::chrono::nanoseconds switch_time{0};
    std::chrono::nanoseconds busy_time{0};  // slot time of all bursts (switches included,
                                            // pauses not)
    std::chrono::nanoseconds duration{0};
};

// Runs `models` on one simulated single-context device for `duration` of virtual time.
SimulationResult simulate(const std::vector<SimulatedModel>& models,
                          std::chrono::nanoseconds context_switch, PolicyOptions policy,
                          std::chrono::nanoseconds duration);
// As above on a device with several slots; with `record_frames`, SimulationResult::frames holds
// every frame (for a trace: scheduler/simulation_recording.hpp), else it stays empty.
SimulationResult simulate(const std::vector<SimulatedModel>& models, const SimulatedDevice& device,
                          PolicyOptions policy, std::chrono::nanoseconds duration,
                          bool record_frames = false);

}  // namespace corun::scheduler
