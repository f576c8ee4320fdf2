// libFuzzer target for what corund does with a client's bytes before touching memory: parse a
// ClientMessage, check its session, resolve its InferRequest against a fixed session (two
// models, two mapped regions with guard pages behind them); the same bytes read as a fast-lane
// request page, and as a lane-ring submission entry, are decoded and resolved the same way.
// Fails on any resolved view that leaves its region or does not have the stream's exact frame
// size; touching both ends of each view makes an escape fault even where the check itself were
// wrong. The same bytes parsed as each other request (Hello, RegisterBuffer, LoadModel,
// OutputDims, ConfigureModel) go through their checks; what a check passes must hold what it
// promises (a spec's frame size positive, within the limit and exact, a name of the accepted
// form).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "corun/infer_model.hpp"
#include "fuzz_fail.hpp"
#include "protocol/fast_lane.hpp"
#include "protocol/lane_ring.hpp"
#include "service/daemon/request_validation.hpp"

namespace {

using namespace corun::service;

// A region followed by an inaccessible guard page.
MappedRegion map_region(uint64_t buffer_id, uint64_t size) {
    const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t mapped = (size + page - 1) / page * page;
    void* base =
        mmap(nullptr, mapped + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) fail("mmap failed");
    auto* bytes = static_cast<uint8_t*>(base);
    if (mprotect(bytes + mapped, page, PROT_NONE) != 0) fail("mprotect failed");
    // The region ends exactly where the guard page begins.
    return {buffer_id, bytes + (mapped - size), size};
}

class FakeSession : public RequestScope {
public:
    FakeSession() {
        models_[1] = {1, "add_one", 2, {{"x", 192}}, {{"y", 192}}};
        models_[7] = {7, "two_in_one_out", 4, {{"a", 16}, {"b", 8}}, {{"c", 4}}};
        regions_[1] = map_region(1, 4096);
        regions_[2] = map_region(2, 1000);
    }
    const ModelLayout* find_model(uint64_t model_id) const override {
        auto found = models_.find(model_id);
        return found == models_.end() ? nullptr : &found->second;
    }
    const MappedRegion* find_region(uint64_t buffer_id) const override {
        auto found = regions_.find(buffer_id);
        return found == regions_.end() ? nullptr : &found->second;
    }
    // The region that wholly holds [data, data + size), or nullptr.
    const MappedRegion* holder(const corun::MemoryView& view) const {
        const auto* begin = static_cast<const uint8_t*>(view.data);
        for (const auto& [id, region] : regions_) {
            if (begin >= region.base && view.size <= region.size &&
                static_cast<uint64_t>(begin - region.base) <= region.size - view.size) {
                return &region;
            }
        }
        return nullptr;
    }

private:
    std::map<uint64_t, ModelLayout> models_;
    std::map<uint64_t, MappedRegion> regions_;
};

void check_views(const FakeSession& session, const std::vector<corun::MemoryView>& views,
                 const std::vector<NativeStream>& streams) {
    if (views.size() != streams.size()) fail("a frame resolved to the wrong number of streams");
    for (size_t s = 0; s < views.size(); ++s) {
        if (views[s].size != streams[s].frame_bytes) fail("a view has the wrong size");
        if (session.holder(views[s]) == nullptr) fail("a view leaves its region");
        auto* bytes = static_cast<volatile uint8_t*>(views[s].data);
        bytes[0] = bytes[0];
        bytes[views[s].size - 1] = bytes[views[s].size - 1];
    }
}

void resolve_and_check(const FakeSession& session,
                       const corun::service::v1::InferRequest& request) {
    auto resolved = resolve_infer_request(request, session);
    if (!resolved) {
        if (resolved.status().message().empty()) fail("an error without a message");
        return;
    }
    const ModelLayout& model = *resolved->model;
    if (resolved->frames.empty() || resolved->frames.size() > model.batch_size) {
        fail("a request resolved with a frame count outside 1..batch size");
    }
    for (const auto& frame : resolved->frames) {
        check_views(session, frame.inputs, model.inputs);
        check_views(session, frame.outputs, model.outputs);
    }
}

// An error must say what is wrong; a pass is checked by the caller.
bool passes(const corun::Status& status) {
    if (!status.is_ok() && status.message().empty()) fail("an error without a message");
    return status.is_ok();
}

// Limits small enough that the fuzzer reaches both sides of every bound.
constexpr uint64_t SPEC_LIMIT = 1 << 20;
constexpr uint64_t MODEL_LIMIT = 4096;

void check_spec(const corun::service::v1::TensorSpec& spec) {
    if (!passes(check_tensor_spec(spec, "input '" + spec.name() + "'", SPEC_LIMIT))) return;
    const auto type = static_cast<corun::FormatType>(spec.element_type());
    // The exact size, in 128 bits; every dim is positive once the check passed.
    unsigned __int128 exact = corun::format_type_size(type);
    for (int64_t dim : spec.dims()) {
        if (dim <= 0) fail("a spec with a dim <= 0 passed");
        exact *= static_cast<uint64_t>(dim);
        if (exact > SPEC_LIMIT) fail("a spec over the limit passed");
    }
    const uint64_t bytes = bounded_frame_bytes(spec.dims(), type, SPEC_LIMIT);
    if (bytes == 0 || bytes != exact) fail("a passed spec's frame size is not its exact size");
    passes(check_native_type(spec, "input 'x'", corun::FormatType::FLOAT32));
    passes(check_fixed_shape(spec, "input 'x'", {1, 3, 8, 8}));
    passes(check_configured_frame_size({"x", bytes}, true, 768));
}

void check_specs(const google::protobuf::RepeatedPtrField<corun::service::v1::TensorSpec>& specs) {
    if (passes(check_stream_names(specs, {"a", "b"}, "input", "two_in"))) {
        if (specs.size() != 2 || specs[0].name() != "a" || specs[1].name() != "b") {
            fail("stream names passed that are not the model's");
        }
    }
    for (const auto& spec : specs) check_spec(spec);
}

// The bytes as each request other than a ClientMessage.
void check_other_requests(const uint8_t* data, size_t size) {
    const int length = static_cast<int>(size);
    corun::service::v1::HelloRequest hello;
    if (hello.ParseFromArray(data, length)) {
        DaemonLimits limits;
        limits.max_threads_per_client = 8;
        if (passes(check_hello_request(hello, limits)) &&
            (hello.params().npu_sim_profile_json().size() > MAX_PROFILE_BYTES ||
             hello.params().cpu_intra_op_threads() > 8)) {
            fail("a Hello over its limits passed");
        }
    }
    corun::service::v1::RegisterBufferRequest buffer;
    if (buffer.ParseFromArray(data, length)) {
        if (passes(check_register_buffer_request(buffer.shm_name(), buffer.size())) &&
            (!is_valid_shm_name(buffer.shm_name()) || buffer.size() == 0)) {
            fail("a RegisterBuffer of a bad name or size 0 passed");
        }
        if (passes(check_fast_lane_region(0, buffer.size())) && buffer.size() < FAST_LANE_BYTES) {
            fail("a fast lane on a region smaller than its page passed");
        }
    }
    corun::service::v1::LoadModelRequest model;
    if (model.ParseFromArray(data, length)) {
        if (passes(check_model_size(model, MODEL_LIMIT))) {
            uint64_t bytes = model.onnx().size();
            for (const auto& file : model.external_data()) bytes += file.content().size();
            if (bytes > MODEL_LIMIT) fail("a model over the byte limit passed");
        }
        if (passes(check_model_not_empty(model)) && model.onnx().empty()) {
            fail("an empty model passed");
        }
    }
    corun::service::v1::OutputDimsRequest dims;
    if (dims.ParseFromArray(data, length)) check_specs(dims.inputs());
    corun::service::v1::ConfigureModelRequest configure;
    if (configure.ParseFromArray(data, length)) {
        check_specs(configure.native_inputs());
        check_specs(configure.native_outputs());
        if (passes(check_batch_size(configure.batch_size())) &&
            configure.batch_size() > corun::InferModel::MAX_BATCH_SIZE) {
            fail("a batch size over the maximum passed");
        }
        const uint32_t batch = std::max<uint32_t>(1, configure.batch_size() % 257);
        if (passes(check_queue_size(configure.queue_size(), 2 * batch, batch)) &&
            configure.queue_size() > 2 * batch) {
            fail("a queue size over the daemon's queue passed");
        }
    }
}

}  // namespace

// Random bytes parsed as a message with string fields are mostly invalid UTF-8, which protobuf
// logs on every parse; a line per input would cost more than the checks.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    google::protobuf::SetLogHandler(nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const FakeSession session;
    is_valid_shm_name(std::string(reinterpret_cast<const char*>(data), size));
    // The page of a fast lane: any bytes at all (the client writes it freely).
    FastLaneRequest lane_request{};
    std::memcpy(&lane_request, data, std::min(size, sizeof lane_request));
    if (auto decoded = decode_fast_lane_request(lane_request)) {
        if (decoded->frames_size() != 1) fail("a lane request decoded to other than one frame");
        resolve_and_check(session, *decoded);
    } else if (decoded.status().message().empty()) {
        fail("a lane error without a message");
    }
    // A lane-ring entry: any bytes, expected in its place or not (the input's length decides).
    LaneRingSubmission ring_entry{};
    std::memcpy(&ring_entry, data, std::min(size, sizeof ring_entry));
    const uint32_t expected = ring_entry.sequence + static_cast<uint32_t>(size % 2);
    if (auto decoded = decode_lane_ring_submission(ring_entry, expected)) {
        if (ring_entry.sequence != expected) fail("a torn ring entry decoded");
        if (static_cast<uint64_t>(decoded->frames_size()) != ring_entry.frame_count) {
            fail("a ring entry decoded to another frame count");
        }
        resolve_and_check(session, *decoded);
    } else if (decoded.status().message().empty()) {
        fail("a ring error without a message");
    }
    check_other_requests(data, size);
    corun::service::v1::ClientMessage message;
    if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
    check_message_session(message, 42, true).ignore();
    check_message_session(message, 42, false).ignore();
    resolve_and_check(session, message.infer());
    return 0;
}
