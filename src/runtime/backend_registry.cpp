#include "runtime/backend_registry.hpp"

#include <atomic>
#include <mutex>

#include "runtime/local_backend.hpp"

namespace corun::runtime {
namespace {

// Written during static initialisation, or later by a plug-in's initialisation inside dlopen()
// (which the loader serialises); read by any thread creating a VDevice.
std::atomic<const BackendKind*>& multi_process_kind() {
    static std::atomic<const BackendKind*> kind{nullptr};
    return kind;
}

std::atomic<MultiProcessBackendLoader>& multi_process_loader() {
    static std::atomic<MultiProcessBackendLoader> loader{nullptr};
    return loader;
}

const BackendKind& local_kind() {
    static const BackendKind kind{
        [](const VDeviceParams& params) { return params.group_id; },
        [](const VDeviceParams&) { return std::string(); },
        [](const VDeviceParams& params) { return LocalBackend::create(params); },
    };
    return kind;
}

Expected<const BackendKind*> load_multi_process_kind(MultiProcessBackendLoader loader) {
    static std::mutex loading;
    std::lock_guard lock(loading);
    if (const BackendKind* kind = multi_process_kind().load()) return kind;
    CORUN_RETURN_IF_ERROR(loader());
    if (const BackendKind* kind = multi_process_kind().load()) return kind;
    return Status(StatusCode::NOT_SUPPORTED,
                  "corun's remote backend plug-in loaded but registered no backend: it does not "
                  "belong to this libcorun (reinstall corun)");
}

}  // namespace

Expected<const BackendKind*> backend_kind_for(const VDeviceParams& params) {
    if (!params.multi_process_service) return &local_kind();
    if (const BackendKind* kind = multi_process_kind().load()) return kind;
    if (MultiProcessBackendLoader loader = multi_process_loader().load()) {
        return load_multi_process_kind(loader);
    }
    return Status(StatusCode::NOT_SUPPORTED,
                  "multi_process_service is set, but this program was linked without "
                  "corun's remote backend; link corun_runtime (not corun_runtime_core) to "
                  "use corund, or leave multi_process_service false to run in-process");
}

bool register_multi_process_backend(const BackendKind& kind) {
    multi_process_kind() = &kind;
    return true;
}

bool set_multi_process_backend_loader(MultiProcessBackendLoader loader) {
    multi_process_loader() = loader;
    return true;
}

}  // namespace corun::runtime
