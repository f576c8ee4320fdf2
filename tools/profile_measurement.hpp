// What `corun benchmark --profile` measures for the capacity model (docs/ROUTER.md), and
// bench/capacity_bench with it: the cpu section of a capacity profile, measured with the
// device's configuration (slots x threads), and an LLM's prefill chunk and decode step.
#pragma once

#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "frame_pump.hpp"
#include "machine_speed.hpp"
#include "router/capacity_profile.hpp"

namespace corun::tools {

// The cpu section, measured on `models` (configured on one cpu VDevice with params `cpu`):
//   1. each model alone with one frame in flight: its slot time per frame (device + format
//      conversion, medians) and the runtime's time outside the slot (run_async() to the device
//      and back to the completion, less both: hand-off and callback), as overhead_us; and
//      how its frame times spread (frame_spread: each over the median at the quantiles 2.5%,
//      7.5%, ..., 97.5%; with at least 20 frames);
//   2. each model alone, pairs of frames: one 20 ms after the last, one right after it: its
//      slot time on a device that had idled is its frame time x the median ratio of the two
//      (cold_frame_us; cold_after_us = 20 ms);
//   3. with two or more models, one client sending each model two frames in turn: the context
//      switch is the mean of what the first (after another model's) takes more than the
//      second (after its own). Phases 2 and 3 compare frames measured moments apart, so the
//      machine's drift between phases does not enter them;
//   4. for k = 2 .. execution_slots: k one-frame clients at once, spread over the models in
//      turn (rotating by a model each window): interference[k - 1] = the device time of their
//      frames / the same models' alone, the two measured in alternation (4 windows of each);
//      and each model's own factors (models.M.interference) where it was measured for every k.
//      With `automatic_sharing`, on a twin of the models on a one-slot-per-core x 1-thread
//      device, each model's factors then multiplied by its time on one core (the twin) over its
//      time alone here, measured in alternation right after phase 1: a frame beside others
//      runs on one core;
//   5. with two or more models, one client per model calling run() in a loop, all at once,
//      recorded: of the bursts after which a client sent its next frame, the share where that
//      frame was queued by the time the device next decided (closed_loop_in_time: the client
//      and the worker race after each completion, and which is first varies); with the first
//      k models for k = 2 .. M (closed_loop_in_time_by_clients), the share for all M the
//      device's.
// Each phase runs `seconds` (the cold one at least 8 frames; every window that times a model at
// least MIN_WINDOW_FRAMES of its frames). The slots measured are at most
// 2 x the models' queue sizes.
// Frames each model runs, one at a time, before anything is measured: beyond a session's first
// slow runs, the cpu device sharing its cores by itself tries every core and one core on a
// model's first frames (devices/cpu/core_count_choice.hpp: 3 warm-up frames and 3 tries each);
// measured during those tries, nanodet's time alone was its one-core time, twice its own.
inline constexpr uint32_t WARM_UP_FRAMES = 16;

// Runs WARM_UP_FRAMES frames of `model`, one at a time, and drops what they measured.
Status warm_up(PreparedModel& model);

// Every window that times a model alone or beside others lasts long enough for at least this
// many of its frames: 0.25 s windows held 3 of nanodet's 70 ms frames on one core, and its
// slowdown beside others came out x1.33 from them where it ran x1.0-1.1 in every mix.
inline constexpr uint64_t MIN_WINDOW_FRAMES = 12;

// `seconds`, or longer where MIN_WINDOW_FRAMES frames of `frame_ms` need it.
double window_seconds(double seconds, double frame_ms);

// `model` alone, one frame in flight, every frame kept: for `seconds`, or as long as
// MIN_WINDOW_FRAMES of its frames take (one frame more first, untimed, to learn how long).
Expected<PumpResult> pump_alone(PreparedModel& model, double seconds);

// A frame's slot time alone as the profile's frame_us counts it: the median device time plus the
// median format conversion of `alone` (a pump with one frame in flight).
double slot_time_ms(const PumpResult& alone);

// `automatic_sharing`: the device was configured to share its cores by itself (execution_slots
// and intra_op_threads 0; `cpu` then holds the slots it picked), recorded as the profile's
// one_burst_per_model.
// `vdevice`: the device the models are configured on (phase 5 records its group).
Expected<router::DeviceProfile> measure_cpu_section(VDevice& vdevice,
                                                    const std::vector<PreparedModel*>& models,
                                                    const CpuDeviceParams& cpu,
                                                    uint32_t machine_cores, double seconds,
                                                    bool automatic_sharing = false,
                                                    MachineSpeed* machine_speed_out = nullptr);

// An LLM on `vdevice` (default parameters): the time to first token of a prompt of one full
// chunk (scaled to a full chunk if the tokenizer could not land on it), and the median gap between
// tokens, over generations of `max_tokens` tokens for about `seconds` (at least two).
Expected<router::GenerativeTiming> measure_llm(VDevice& vdevice, const std::string& path,
                                               uint32_t max_tokens, double seconds);

}  // namespace corun::tools
