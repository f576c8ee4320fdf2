// Every check of a client's request fields, before corund acts on them: an inference request
// against what its session owns (the model, the frame count, one reference per native stream,
// every reference inside a registered shared-memory region with the stream's exact frame size),
// and the sizes, ids and ranges of the other requests (Hello, RegisterBuffer, LoadModel,
// OutputDims, ConfigureModel, OpenFastLane). Pure functions, so that the fuzzer
// (tests/fuzz/request_validation_fuzz.cpp) drives exactly the code the daemon runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "corun/expected.hpp"
#include "corun/format.hpp"
#include "corun_service.pb.h"
#include "service/daemon/daemon_config.hpp"

namespace corun::service {

// One stream of a configured model as requests reference it: exactly frame_bytes per frame.
struct NativeStream {
    std::string name;
    uint64_t frame_bytes = 0;
};

// What validation needs to know of a configured model.
struct ModelLayout {
    uint64_t model_id = 0;
    std::string name;
    uint32_t batch_size = 1;
    std::vector<NativeStream> inputs;
    std::vector<NativeStream> outputs;
};

// A registered shared-memory region, mapped at `base` for `size` bytes.
struct MappedRegion {
    uint64_t buffer_id = 0;
    uint8_t* base = nullptr;
    uint64_t size = 0;
};

// Lookups over one session's models and regions (the daemon answers them under the session's
// lock; the fuzzer from fixed tables). nullptr = not this session's.
class RequestScope {
public:
    virtual ~RequestScope() = default;
    virtual const ModelLayout* find_model(uint64_t model_id) const = 0;
    virtual const MappedRegion* find_region(uint64_t buffer_id) const = 0;
};

struct ResolvedFrame {
    std::vector<MemoryView> inputs;  // in the model's native input order
    std::vector<MemoryView> outputs;
};

struct ResolvedRequest {
    const ModelLayout* model = nullptr;
    std::vector<ResolvedFrame> frames;
    std::vector<uint64_t> buffer_ids;  // every region the request touches, each once
};

// The request's frames as memory inside the session's regions, or INVALID_ARGUMENT /
// NOT_FOUND naming the frame, the stream and the fix. Every returned view lies inside its
// region: [base + offset, base + offset + size) with offset + size <= region size.
Expected<ResolvedRequest> resolve_infer_request(const v1::InferRequest& request,
                                                const RequestScope& scope);

// A stream's first message must name its session; later ones may omit it (0) but may not
// name another.
Status check_message_session(const v1::ClientMessage& message, uint64_t session_id,
                             bool first_message);

// Shared-memory names the daemon opens: "/corun.<pid>.<n>" and nothing else, so a client
// cannot make the daemon open another process's region or a path.
bool is_valid_shm_name(std::string_view name);

// ---- Hello ----

// The npu-sim profile text a client may send (corund parses it; it opens no path).
constexpr size_t MAX_PROFILE_BYTES = size_t{1} << 20;

// Hello's sizes: the profile text at most MAX_PROFILE_BYTES, the intra-op threads one model
// asks for within what the user may run at all. (The protocol version is checked first, by
// the handler, which answers with its own version.)
Status check_hello_request(const v1::HelloRequest& request, const DaemonLimits& limits);

// ---- Shared memory ----

// RegisterBuffer: a name of the form is_valid_shm_name() accepts and a size above 0.
Status check_register_buffer_request(const std::string& shm_name, uint64_t size);

// OpenFastLane: the region `buffer_id` (of `region_bytes`) holds a whole FastLane page.
Status check_fast_lane_region(uint64_t buffer_id, uint64_t region_bytes);

// ---- LoadModel ----

// The ONNX bytes and every external-data file together within max_model_bytes
// (RESOURCE_LIMIT).
Status check_model_size(const v1::LoadModelRequest& request, uint64_t max_model_bytes);
// Some ONNX bytes at all (INVALID_MODEL).
Status check_model_not_empty(const v1::LoadModelRequest& request);

// ---- OutputDims and ConfigureModel ----

// The request lists one spec per stream of the model, by name and in the model's order
// (`kind`: "input" or "output").
Status check_stream_names(const google::protobuf::RepeatedPtrField<v1::TensorSpec>& specs,
                          const std::vector<std::string>& stream_names, const std::string& kind,
                          const std::string& model_name);

// Bytes of one frame of `dims` x `type`, or 0 when a dim is not positive or the size exceeds
// `limit` (checked without overflow, so huge dims cannot make the daemon allocate).
uint64_t bounded_frame_bytes(const google::protobuf::RepeatedField<int64_t>& dims, FormatType type,
                             uint64_t limit);

// A native tensor spec from the client: a fixed-size type (UINT8 .. UINT64) and positive dims
// whose frame fits in `limit` (the client's shared-memory limit). `what`: "input 'x'".
// When it passes, bounded_frame_bytes(spec.dims(), type, limit) is that frame's size (> 0).
Status check_tensor_spec(const v1::TensorSpec& spec, const std::string& what, uint64_t limit);

// The spec's element type is the stream's native one: the client converts, corund never does.
Status check_native_type(const v1::TensorSpec& spec, const std::string& what, FormatType native);

// An input of fixed shape takes exactly that shape.
Status check_fixed_shape(const v1::TensorSpec& spec, const std::string& what,
                         const std::vector<int64_t>& native_shape);

// ConfigureModel's batch_size within 1..InferModel::MAX_BATCH_SIZE (0 = corun picks).
Status check_batch_size(uint32_t batch_size);

// The frame size the configured model binds for `stream` is what the request's native spec
// gives, so that every later reference of exactly stream.frame_bytes fits it.
Status check_configured_frame_size(const NativeStream& stream, bool input,
                                   uint64_t configured_bytes);

// ConfigureModel's queue_size (0 = the daemon's) within the daemon's queue for the batch size.
Status check_queue_size(uint32_t asked, size_t capacity, uint32_t batch_size);

}  // namespace corun::service
