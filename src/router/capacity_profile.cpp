#include "router/capacity_profile.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

namespace corun::router {
namespace {

using Json = nlohmann::json;
namespace npu_sim = devices::npu_sim;

constexpr const char* WRITE_ONE =
    "`corun benchmark MODEL.onnx... --profile FILE` measures the models and writes one";

Status invalid(const std::string& message) {
    return Status(StatusCode::INVALID_ARGUMENT, "capacity profile: " + message);
}

// A duration in microseconds, > 0, at most an hour.
Expected<std::chrono::nanoseconds> duration_field(const Json& object, const char* key,
                                                  const std::string& where) {
    if (!object.contains(key)) {
        return invalid(where + " has no \"" + key + "\" (microseconds)");
    }
    const Json& value = object.at(key);
    if (!value.is_number() || value.get<double>() <= 0 || value.get<double>() > 3.6e9) {
        return invalid(where + "." + key + " must be a number of microseconds in (0, 3.6e9], got " +
                       value.dump());
    }
    return std::chrono::nanoseconds(static_cast<int64_t>(value.get<double>() * 1000.0));
}

// A duration in microseconds that may be absent (nullopt) or 0.
Expected<std::optional<std::chrono::nanoseconds>> optional_duration(const Json& object,
                                                                    const char* key,
                                                                    const std::string& where) {
    if (!object.contains(key)) return std::optional<std::chrono::nanoseconds>();
    const Json& value = object.at(key);
    if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 3.6e9) {
        return invalid(where + "." + key + " must be a number of microseconds in 0..3.6e9, got " +
                       value.dump());
    }
    return std::optional<std::chrono::nanoseconds>(
        std::chrono::nanoseconds(static_cast<int64_t>(value.get<double>() * 1000.0)));
}

// A share from 0 to 1 that may be absent (nullopt); `what` says what it is a share of.
Expected<std::optional<double>> share_field(const Json& object, const char* key,
                                            const std::string& where, const std::string& what) {
    if (!object.contains(key)) return std::optional<double>();
    const Json& value = object.at(key);
    if (!value.is_number() || !(value.get<double>() >= 0 && value.get<double>() <= 1)) {
        return invalid(where + "." + key + " must be a number from 0 to 1 (" + what + ")");
    }
    return std::optional<double>(value.get<double>());
}

Expected<uint32_t> count_field(const Json& object, const char* key, const std::string& where,
                               uint32_t fallback, uint32_t most) {
    if (!object.contains(key)) return fallback;
    const Json& value = object.at(key);
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > most) {
        return invalid(where + "." + key + " must be an integer in 0.." + std::to_string(most) +
                       ", got " + value.dump());
    }
    return value.get<uint32_t>();
}

// A list of 1..`most` numbers, each from `low` to `high`: `list` says what the list holds
// ("must be a list of 1..N <list>"), `each` what one number is (after "holds X; ").
Expected<std::vector<double>> number_list(const Json& value, const std::string& field, size_t most,
                                          double low, double high, const std::string& list,
                                          const std::string& each) {
    if (!value.is_array() || value.empty() || value.size() > most) {
        return invalid(field + " must be a list of 1.." + std::to_string(most) + " " + list +
                       ", got " + value.dump());
    }
    std::vector<double> numbers;
    for (const Json& number : value) {
        if (!number.is_number() || !(number.get<double>() >= low && number.get<double>() <= high)) {
            return invalid(field + " holds " + number.dump() + "; " + each);
        }
        numbers.push_back(number.get<double>());
    }
    return numbers;
}

// The device's or a model's "interference" (absent: 1 for any number of slots).
Expected<std::vector<double>> interference_field(const Json& object, const std::string& where) {
    if (!object.contains("interference")) return std::vector<double>{1.0};
    return number_list(object.at("interference"), where + ".interference", 256, 0.1, 100,
                       "slowdown factors (the first for one slot busy, usually 1.0)",
                       "each factor is how much longer a frame takes with that many slots busy, "
                       "0.1..100");
}

// A model's "frame_spread" (or an LLM's "prefill_spread", `name`): 1..64 ratios of a frame's
// device time to the median, ascending.
Expected<std::vector<double>> frame_spread_field(const Json& entry, const std::string& where,
                                                 const std::string& name = "frame_spread") {
    const std::string field = where + "." + name;
    CORUN_TRY(const std::vector<double> spread,
              number_list(entry.at(name), field, MOST_SPREAD_POINTS, 0.01, 100,
                          "ratios of a frame's device time to its median at evenly spaced "
                          "quantiles, ascending (`corun benchmark --profile` writes 20)",
                          "each ratio is a frame's device time over the median, 0.01..100"));
    for (size_t i = 1; i < spread.size(); ++i) {
        if (spread[i] < spread[i - 1]) {
            return invalid(field + " must be ascending (the ratios at rising quantiles), but " +
                           Json(spread[i]).dump() + " follows " + Json(spread[i - 1]).dump());
        }
    }
    return spread;
}

// A "closed_loop_in_time_by_clients" list, the device's or a model's.
Expected<std::vector<double>> closed_loop_shares_field(const Json& list, const std::string& field) {
    return number_list(list, field, 256, 0, 1, "shares (for 2, 3, ... closed-loop models)",
                       "each is a share of frames from 0 to 1");
}

// A "closed_loop_gap_us_by_clients" list, the device's or a model's: for k = 2, 3, ... closed-loop
// models, gaps in microseconds at evenly spaced quantiles, ascending.
Expected<std::vector<DeviceProfile::ReturnGaps>> closed_loop_gaps_field(const Json& list,
                                                                        const std::string& field) {
    if (!list.is_array() || list.empty() || list.size() > 256) {
        return invalid(field +
                       " must be a list of 1..256 lists (for 2, 3, ... closed-loop models) of a "
                       "client's return gaps in microseconds, got " +
                       list.dump());
    }
    std::vector<DeviceProfile::ReturnGaps> by_clients;
    for (size_t k = 0; k < list.size(); ++k) {
        const std::string at = field + "[" + std::to_string(k) + "]";
        CORUN_TRY(const std::vector<double> gaps_us,
                  number_list(list[k], at, MOST_SPREAD_POINTS, 0, MOST_RETURN_GAP_US,
                              "gaps in microseconds at evenly spaced quantiles, ascending "
                              "(`corun benchmark --profile` writes 20)",
                              "each is how long after the slot's decision a client's next frame "
                              "came, 0..60e6 us (0: before it)"));
        DeviceProfile::ReturnGaps gaps;
        for (size_t i = 0; i < gaps_us.size(); ++i) {
            if (i > 0 && gaps_us[i] < gaps_us[i - 1]) {
                return invalid(at + " must be ascending (gaps at rising quantiles), but " +
                               Json(gaps_us[i]).dump() + " follows " + Json(gaps_us[i - 1]).dump());
            }
            gaps.emplace_back(std::llround(gaps_us[i] * 1000.0));
        }
        by_clients.push_back(std::move(gaps));
    }
    return by_clients;
}

Expected<GenerativeTiming> generative_entry(const Json& entry, const std::string& where) {
    if (!entry.is_object()) return invalid(where + " must be an object");
    GenerativeTiming timing;
    CORUN_TRY(timing.prefill_chunk_tokens,
              count_field(entry, "prefill_chunk_tokens", where, 64, 1u << 20));
    if (timing.prefill_chunk_tokens == 0) {
        return invalid(where + ".prefill_chunk_tokens must be at least 1");
    }
    CORUN_TRY(timing.prefill_chunk, duration_field(entry, "prefill_chunk_us", where));
    CORUN_TRY(timing.decode_step, duration_field(entry, "decode_step_us", where));
    if (entry.contains("prefill_spread")) {
        CORUN_TRY(timing.prefill_spread, frame_spread_field(entry, where, "prefill_spread"));
    }
    return timing;
}

// One section: the npu-sim format ("device", "models"), plus the cpu configuration in "device"
// and the generative models.
Expected<DeviceProfile> parse_section(const Json& section, const std::string& name) {
    const std::string where = name.empty() ? "" : name + ".";
    DeviceProfile profile;
    if (section.contains("models")) {
        // The npu-sim parser checks the models exactly as npu-sim will read them.
        CORUN_TRY(const npu_sim::NpuTimingModel timing, npu_sim::parse_npu_profile(section.dump()),
                  name.empty() ? "capacity profile" : "capacity profile, \"" + name + "\" section");
        profile.context_switch = timing.context_switch;
        profile.models = timing.models;
        for (const auto& [model, entry] : section["models"].items()) {
            const std::string at = where + "models." + model;
            CORUN_TRY(const auto overhead, optional_duration(entry, "overhead_us", at));
            if (overhead) profile.overhead[model] = *overhead;
            CORUN_TRY(const auto cold, optional_duration(entry, "cold_frame_us", at));
            if (cold) profile.cold_frame[model] = *cold;
            if (entry.contains("beside_spread")) {
                CORUN_TRY(profile.beside_spread[model],
                          frame_spread_field(entry, at, "beside_spread"));
            }
            if (entry.contains("cold_spread")) {
                CORUN_TRY(profile.cold_spread[model], frame_spread_field(entry, at, "cold_spread"));
            }
            if (entry.contains("frame_spread")) {
                CORUN_TRY(profile.frame_spread[model], frame_spread_field(entry, at));
            }
            if (entry.contains("interference")) {
                CORUN_TRY(profile.model_interference[model], interference_field(entry, at));
            }
            if (entry.contains("closed_loop_in_time_by_clients")) {
                CORUN_TRY(profile.model_closed_loop_in_time_by_clients[model],
                          closed_loop_shares_field(entry["closed_loop_in_time_by_clients"],
                                                   at + ".closed_loop_in_time_by_clients"));
            }
            if (entry.contains("closed_loop_gap_us_by_clients")) {
                CORUN_TRY(profile.model_closed_loop_gaps_by_clients[model],
                          closed_loop_gaps_field(entry["closed_loop_gap_us_by_clients"],
                                                 at + ".closed_loop_gap_us_by_clients"));
            }
        }
    }
    if (section.contains("device") && section["device"].is_object()) {
        const Json& device = section["device"];
        const std::string at = where + "device";
        CORUN_TRY(profile.cores, count_field(device, "cores", at, 0, 4096));
        CORUN_TRY(profile.execution_slots, count_field(device, "execution_slots", at, 1, 256));
        CORUN_TRY(profile.intra_op_threads, count_field(device, "intra_op_threads", at, 0, 4096));
        CORUN_TRY(profile.interference, interference_field(device, at));
        CORUN_TRY(const auto cold_after, optional_duration(device, "cold_after_us", at));
        profile.cold_after = cold_after.value_or(std::chrono::nanoseconds(0));
        if (device.contains("cold_by_slot")) {
            if (!device["cold_by_slot"].is_boolean()) {
                return invalid(at + ".cold_by_slot must be true or false");
            }
            profile.cold_by_slot = device["cold_by_slot"].get<bool>();
        }
        if (device.contains("closed_loop_after_decision")) {
            if (!device["closed_loop_after_decision"].is_boolean()) {
                return invalid(at + ".closed_loop_after_decision must be true or false");
            }
            if (device.contains("closed_loop_in_time")) {
                return invalid(at +
                               " has both closed_loop_after_decision and closed_loop_in_time; "
                               "keep closed_loop_in_time (closed_loop_after_decision: true "
                               "is closed_loop_in_time: 0)");
            }
            if (device["closed_loop_after_decision"].get<bool>()) profile.closed_loop_in_time = 0;
        }
        CORUN_TRY(const auto in_time,
                  share_field(device, "closed_loop_in_time", at, "a share of frames"));
        if (in_time) profile.closed_loop_in_time = *in_time;
        if (device.contains("closed_loop_in_time_by_clients")) {
            CORUN_TRY(profile.closed_loop_in_time_by_clients,
                      closed_loop_shares_field(device["closed_loop_in_time_by_clients"],
                                               at + ".closed_loop_in_time_by_clients"));
        }
        if (device.contains("closed_loop_gap_us_by_clients")) {
            CORUN_TRY(profile.closed_loop_gaps_by_clients,
                      closed_loop_gaps_field(device["closed_loop_gap_us_by_clients"],
                                             at + ".closed_loop_gap_us_by_clients"));
        }
        if (device.contains("one_burst_per_model")) {
            if (!device["one_burst_per_model"].is_boolean()) {
                return invalid(at + ".one_burst_per_model must be true or false");
            }
            profile.one_burst_per_model = device["one_burst_per_model"].get<bool>();
        }
        CORUN_TRY(const auto speed_share,
                  share_field(device, "speed_share", at,
                              "the share of a frame time's spread that the machine's speed moves "
                              "for every model"));
        if (speed_share) {
            profile.speed_share = *speed_share;
            CORUN_TRY(const auto memory, optional_duration(device, "speed_memory_us", at));
            profile.speed_memory = memory.value_or(std::chrono::nanoseconds(0));
            if (profile.speed_share > 0 && profile.speed_memory.count() <= 0) {
                return invalid(at +
                               ".speed_share needs speed_memory_us, more than 0: how long the "
                               "machine's speed is remembered");
            }
        }
        if (profile.execution_slots == 0) return invalid(at + ".execution_slots must be >= 1");
    }
    if (section.contains("generative")) {
        if (!section["generative"].is_object()) {
            return invalid(where +
                           "generative must be an object (name -> {\"decode_step_us\": "
                           "...})");
        }
        for (const auto& [model, entry] : section["generative"].items()) {
            if (profile.models.count(model) > 0) {
                return invalid("'" + model + "' is under both " + where + "models and " + where +
                               "generative; keep one");
            }
            CORUN_TRY(profile.generative[model],
                      generative_entry(entry, where + "generative." + model));
        }
    }
    return profile;
}

Json section_to_json(const DeviceProfile& profile, bool with_configuration) {
    npu_sim::NpuTimingModel timing;
    timing.context_switch = profile.context_switch;
    timing.models = profile.models;
    Json section = Json::parse(npu_sim::npu_profile_to_json(timing));
    for (const auto& [name, overhead] : profile.overhead) {
        if (section["models"].contains(name)) {
            section["models"][name]["overhead_us"] = overhead.count() / 1000.0;
        }
    }
    for (const auto& [name, cold] : profile.cold_frame) {
        if (section["models"].contains(name)) {
            section["models"][name]["cold_frame_us"] = cold.count() / 1000.0;
        }
    }
    for (const auto& [name, spread] : profile.beside_spread) {
        if (section["models"].contains(name)) section["models"][name]["beside_spread"] = spread;
    }
    for (const auto& [name, spread] : profile.cold_spread) {
        if (section["models"].contains(name)) section["models"][name]["cold_spread"] = spread;
    }
    for (const auto& [name, spread] : profile.frame_spread) {
        if (section["models"].contains(name)) section["models"][name]["frame_spread"] = spread;
    }
    for (const auto& [name, factors] : profile.model_interference) {
        if (section["models"].contains(name)) section["models"][name]["interference"] = factors;
    }
    for (const auto& [name, shares] : profile.model_closed_loop_in_time_by_clients) {
        if (section["models"].contains(name)) {
            section["models"][name]["closed_loop_in_time_by_clients"] = shares;
        }
    }
    for (const auto& [name, gaps] : profile.model_closed_loop_gaps_by_clients) {
        if (section["models"].contains(name)) {
            section["models"][name]["closed_loop_gap_us_by_clients"] =
                DeviceProfile::gaps_in_microseconds(gaps);
        }
    }
    if (with_configuration) {
        section["device"]["cores"] = profile.cores;
        section["device"]["execution_slots"] = profile.execution_slots;
        section["device"]["intra_op_threads"] = profile.intra_op_threads;
        section["device"]["interference"] = profile.interference;
        section["device"]["cold_after_us"] = profile.cold_after.count() / 1000.0;
    }
    if (!profile.closed_loop_in_time_by_clients.empty()) {
        section["device"]["closed_loop_in_time_by_clients"] =
            profile.closed_loop_in_time_by_clients;
    }
    if (!profile.closed_loop_gaps_by_clients.empty()) {
        section["device"]["closed_loop_gap_us_by_clients"] =
            DeviceProfile::gaps_in_microseconds(profile.closed_loop_gaps_by_clients);
    }
    if (profile.closed_loop_in_time < 1) {
        section["device"]["closed_loop_in_time"] = profile.closed_loop_in_time;
    }
    if (profile.one_burst_per_model) section["device"]["one_burst_per_model"] = true;
    if (!profile.cold_by_slot) section["device"]["cold_by_slot"] = false;
    if (profile.speed_share > 0) {
        section["device"]["speed_share"] = profile.speed_share;
        section["device"]["speed_memory_us"] = profile.speed_memory.count() / 1000.0;
    }
    if (!profile.generative.empty()) {
        Json generative = Json::object();
        for (const auto& [name, model] : profile.generative) {
            generative[name] = {{"prefill_chunk_tokens", model.prefill_chunk_tokens},
                                {"prefill_chunk_us", model.prefill_chunk.count() / 1000.0},
                                {"decode_step_us", model.decode_step.count() / 1000.0}};
            if (!model.prefill_spread.empty()) {
                generative[name]["prefill_spread"] = model.prefill_spread;
            }
        }
        section["generative"] = generative;
    }
    return section;
}

}  // namespace

std::vector<std::string> DeviceProfile::model_names() const {
    std::vector<std::string> names;
    for (const auto& [name, timing] : models) names.push_back(name);
    for (const auto& [name, timing] : generative) names.push_back(name);
    return names;
}

Expected<const DeviceProfile*> CapacityProfile::device(const std::string& kind) const {
    if (auto found = devices.find(kind); found != devices.end()) return &found->second;
    std::string sections;
    for (const auto& [name, section] : devices) {
        sections += (sections.empty() ? "" : ", ") + name;
    }
    const std::string command = kind == CPU_SECTION
                                    ? "`corun benchmark MODEL.onnx... --profile FILE` (on the cpu "
                                      "device) writes one"
                                    : "`corun benchmark MODEL.onnx... --profile FILE` writes its "
                                      "top level, which npu-sim uses";
    return Status(StatusCode::NOT_FOUND, "the profile has no " + kind + " section (it has: " +
                                             (sections.empty() ? std::string("none") : sections) +
                                             "); " + command);
}

Expected<CapacityProfile> parse_capacity_profile(const std::string& json_text) {
    Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object()) {
        return invalid(std::string("not a JSON object; ") + WRITE_ONE);
    }
    CapacityProfile profile;
    if (root.contains("models")) {
        CORUN_TRY(profile.devices[NPU_SIM_SECTION], parse_section(root, ""));
    }
    if (root.contains(CPU_SECTION)) {
        if (!root[CPU_SECTION].is_object()) return invalid("\"cpu\" must be an object");
        CORUN_TRY(profile.devices[CPU_SECTION], parse_section(root[CPU_SECTION], CPU_SECTION));
    }
    if (profile.devices.empty()) {
        return invalid(std::string("has neither \"models\" (npu-sim) nor a \"cpu\" section; ") +
                       WRITE_ONE);
    }
    return profile;
}

Expected<CapacityProfile> load_capacity_profile(const std::string& path) {
    // The npu-sim reader: a regular file of bounded size, a FIFO refused instead of waited on.
    auto text = npu_sim::read_npu_profile_text(path);
    if (!text && text.status().code() == StatusCode::NOT_FOUND) {
        return Status(StatusCode::NOT_FOUND,
                      "the capacity profile '" + path + "' cannot be opened; " + WRITE_ONE);
    }
    if (!text) return text.status();
    CORUN_TRY(auto profile, parse_capacity_profile(*text), "reading '" + path + "'");
    return profile;
}

std::string capacity_profile_to_json(const CapacityProfile& profile) {
    Json root = Json::object();
    if (auto npu = profile.devices.find(NPU_SIM_SECTION); npu != profile.devices.end()) {
        root = section_to_json(npu->second, false);
    }
    if (auto cpu = profile.devices.find(CPU_SECTION); cpu != profile.devices.end()) {
        root[CPU_SECTION] = section_to_json(cpu->second, true);
    }
    return root.dump(2);
}

namespace {

// shares[k - 2] for k closed-loop models, the last one beyond; `fallback` for fewer than two.
double share_for(const std::vector<double>& shares, size_t closed_loop_models, double fallback) {
    if (shares.empty() || closed_loop_models < 2) return fallback;
    return shares[std::min(closed_loop_models - 2, shares.size() - 1)];
}

// gaps[k - 2] for k closed-loop models, the last one beyond and for fewer than two.
const DeviceProfile::ReturnGaps& gaps_for(const std::vector<DeviceProfile::ReturnGaps>& gaps,
                                          size_t closed_loop_models) {
    static const DeviceProfile::ReturnGaps none;
    if (gaps.empty()) return none;
    if (closed_loop_models < 2) return gaps.back();
    return gaps[std::min(closed_loop_models - 2, gaps.size() - 1)];
}

}  // namespace

std::vector<std::vector<double>> DeviceProfile::gaps_in_microseconds(
    const std::vector<ReturnGaps>& by_clients) {
    std::vector<std::vector<double>> lists;
    for (const auto& gaps : by_clients) {
        std::vector<double>& gaps_us = lists.emplace_back();
        for (auto gap : gaps) gaps_us.push_back(static_cast<double>(gap.count()) / 1000.0);
    }
    return lists;
}

const DeviceProfile::ReturnGaps& DeviceProfile::closed_loop_gaps(size_t closed_loop_models) const {
    return gaps_for(closed_loop_gaps_by_clients, closed_loop_models);
}

const DeviceProfile::ReturnGaps& DeviceProfile::closed_loop_gaps(const std::string& model,
                                                                 size_t closed_loop_models) const {
    auto own = model_closed_loop_gaps_by_clients.find(model);
    if (own == model_closed_loop_gaps_by_clients.end()) return closed_loop_gaps(closed_loop_models);
    return gaps_for(own->second, closed_loop_models);
}

double DeviceProfile::closed_loop_share(size_t closed_loop_models) const {
    return share_for(closed_loop_in_time_by_clients, closed_loop_models, closed_loop_in_time);
}

double DeviceProfile::closed_loop_share(const std::string& model, size_t closed_loop_models) const {
    const double device = closed_loop_share(closed_loop_models);
    auto own = model_closed_loop_in_time_by_clients.find(model);
    if (own == model_closed_loop_in_time_by_clients.end()) return device;
    return share_for(own->second, closed_loop_models, device);
}

}  // namespace corun::router
