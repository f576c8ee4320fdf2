// Which backend a VDevice group gets: the local one, or with multi_process_service the remote
// one. The remote backend lives in its own library (corun_runtime_remote, which links gRPC) and
// registers itself when a program that links it starts; a program linked with the core alone
// runs in-process only.
#pragma once

#include <memory>
#include <string>

#include "corun/expected.hpp"
#include "corun/vdevice.hpp"
#include "runtime/backend.hpp"

namespace corun::runtime {

// How one kind of backend is told apart and made.
struct BackendKind {
    // Within a process, groups with the same key are one group ("SHARED"; a remote group is
    // keyed by its socket too, so that in-process groups and several daemons never collide).
    std::string (*group_key)(const VDeviceParams& params) = nullptr;
    // What the group's description adds for this kind (", service at SOCKET"), for the
    // message that compares a live group's params with a new request's.
    std::string (*describe)(const VDeviceParams& params) = nullptr;
    Expected<std::unique_ptr<Backend>> (*create)(const VDeviceParams& params) = nullptr;
};

// The kind `params` asks for. NOT_SUPPORTED naming the library to link when they ask for
// corund and this program was linked without the remote backend.
Expected<const BackendKind*> backend_kind_for(const VDeviceParams& params);

// Registers the remote backend (once, from its library's static initialisation).
bool register_multi_process_backend(const BackendKind& kind);

}  // namespace corun::runtime
