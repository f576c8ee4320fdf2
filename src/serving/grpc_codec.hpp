// The gRPC front's wire format (KServe v2 ModelInferRequest / ModelInferResponse of
// grpc_service.proto) to and from the protocol-neutral InferRequest/InferResponse. No gRPC
// here, so the fuzzer drives exactly this code on parsed messages.
//
// An input's bytes come from one of three places: its typed `contents`, the request's
// `raw_input_contents` (one entry per input that has neither contents nor shared memory, in
// order), or a registered system shared-memory region (parameters shared_memory_region,
// shared_memory_offset, shared_memory_byte_size). Everything is checked before it is used:
// datatype, shape (rank, non-negative, no overflow), element counts and byte sizes against the
// shape, parameter types, shared-memory bounds. Errors are INVALID_ARGUMENT naming the tensor
// and the cause.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "grpc_service.pb.h"
#include "serving/inference_request.hpp"
#include "serving/system_shared_memory.hpp"

namespace corun::serving {

// An output the client wants written into shared memory rather than returned.
struct SharedMemoryOutput {
    std::string name;
    std::shared_ptr<const MappedSharedMemory> region;
    uint64_t offset = 0;
    uint64_t byte_size = 0;
};

struct GrpcInferRequest {
    InferRequest request;
    std::vector<SharedMemoryOutput> shared_memory_outputs;
};

// `regions` may hold no region (the fuzzer's case): a request naming one then fails cleanly.
Expected<GrpcInferRequest> decode_grpc_infer_request(const inference::ModelInferRequest& message,
                                                     const SharedMemoryRegions& regions);

// Fills `message` from the response: every output's bytes in raw_output_contents, except those
// asked for in shared memory, which are written there (an empty raw entry keeps the indices
// aligned). INVALID_ARGUMENT when an output is larger than its shared-memory part.
Status encode_grpc_infer_response(const InferResponse& response,
                                  const std::vector<SharedMemoryOutput>& shared_memory_outputs,
                                  inference::ModelInferResponse& message);

}  // namespace corun::serving
