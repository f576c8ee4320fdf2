// Which backend a VDevice group gets: the local one, or with multi_process_service the remote
// one. The remote backend lives in its own library (corun_runtime_remote, which links gRPC) and
// registers itself when it is loaded: at the start of a program that links it statically, or,
// in the shared libcorun, when the loader below dlopen()s the plug-in libcorun_remote.so the
// first time a group asks for corund. A program with neither runs in-process only.
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

// The kind `params` asks for. For corund when no remote backend is registered: the loader's
// error if one is set (the plug-in is missing, naming the file and the fix), else NOT_SUPPORTED
// naming the library to link.
Expected<const BackendKind*> backend_kind_for(const VDeviceParams& params);

// Registers the remote backend (once, from its library's static initialisation).
bool register_multi_process_backend(const BackendKind& kind);

// Loads the remote backend on demand; it must register it before returning SUCCESS, or return
// why it could not. Called at most once at a time; a failure is retried by the next VDevice
// that asks (the user may install the plug-in meanwhile). Set by the shared libcorun only
// (runtime/remote_backend_plugin.cpp): a statically linked program either has the remote
// backend or must not load a second copy of the runtime with it.
using MultiProcessBackendLoader = Status (*)();
bool set_multi_process_backend_loader(MultiProcessBackendLoader loader);

}  // namespace corun::runtime
