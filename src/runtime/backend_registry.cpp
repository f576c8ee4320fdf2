#include "runtime/backend_registry.hpp"

#include "runtime/local_backend.hpp"

namespace corun::runtime {
namespace {

// Written once during static initialisation, read afterwards: no lock needed.
const BackendKind*& multi_process_kind() {
    static const BackendKind* kind = nullptr;
    return kind;
}

const BackendKind& local_kind() {
    static const BackendKind kind{
        [](const VDeviceParams& params) { return params.group_id; },
        [](const VDeviceParams&) { return std::string(); },
        [](const VDeviceParams& params) { return LocalBackend::create(params); },
    };
    return kind;
}

}  // namespace

Expected<const BackendKind*> backend_kind_for(const VDeviceParams& params) {
    if (!params.multi_process_service) return &local_kind();
    if (multi_process_kind() == nullptr) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "multi_process_service is set, but this program was linked without "
                      "corun's remote backend; link corun_runtime (not corun_runtime_core) to "
                      "use corund, or leave multi_process_service false to run in-process");
    }
    return multi_process_kind();
}

bool register_multi_process_backend(const BackendKind& kind) {
    multi_process_kind() = &kind;
    return true;
}

}  // namespace corun::runtime
