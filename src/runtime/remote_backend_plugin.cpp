// The shared libcorun's way to the remote backend. libcorun.so carries the public API and the
// local backend only; the remote backend, which links gRPC and protobuf, is the plug-in
// libcorun_remote.so in libcorun's private folder (corun/ beside it). It is dlopen()ed the
// first time a VDevice asks for corund, and registers itself from its static initialisation,
// as it does when linked statically (runtime/remote/remote_backend.cpp). So an in-process
// program never loads gRPC, and one that asks for corund gets it without linking anything more.
//
// This file is compiled into libcorun.so only: a statically linked program has the remote
// backend already or must not load the plug-in (a second copy of the runtime would come with
// it), so it sets no loader (runtime/backend_registry.hpp).
#include <dlfcn.h>
#include <sys/stat.h>

#include <string>

#include "runtime/backend_registry.hpp"

namespace corun::runtime {
namespace {

// The folder holding this library, found from the address of one of its own functions (not
// from the program's path: libcorun may be loaded by any program, from any prefix).
Expected<std::string> own_folder() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void*>(&own_folder), &info) == 0 ||
        info.dli_fname == nullptr) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "libcorun cannot tell which folder it was loaded from, so it cannot find "
                      "its remote backend plug-in " CORUN_REMOTE_PLUGIN);
    }
    std::string path = info.dli_fname;
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

Status load_remote_backend_plugin() {
    CORUN_TRY(const std::string folder, own_folder());
    const std::string path = folder + "/" CORUN_REMOTE_PLUGIN;
    struct stat file {};
    if (stat(path.c_str(), &file) != 0) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "multi_process_service needs corun's remote backend plug-in " + path +
                          ", which is missing: install corun completely (the corun .deb, or "
                          "`cmake --install` of a build, puts it beside libcorun), or leave "
                          "multi_process_service false to run in-process");
    }
    // Never closed: the backend's code runs for as long as any group uses it, up to exit.
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
        const char* why = dlerror();
        return Status(StatusCode::NOT_SUPPORTED,
                      "multi_process_service needs corun's remote backend plug-in " + path +
                          ", which cannot be loaded: " + std::string(why ? why : "unknown") +
                          ". It needs gRPC and protobuf (on Debian 12: apt-get install "
                          "libgrpc++1.51 libprotobuf32, which the corun package depends on)");
    }
    return Status::ok();
}

const bool installed = set_multi_process_backend_loader(&load_remote_backend_plugin);

}  // namespace
}  // namespace corun::runtime
