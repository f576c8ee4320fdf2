// What every bound area of corun._corun shares: Status -> Python exception, timeouts in
// milliseconds, numpy dtypes of corun's format types, and dropping C++ handles without the GIL.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "corun/expected.hpp"
#include "corun/format.hpp"

namespace corun {
class VDevice;
}

namespace corun::python {

namespace py = pybind11;

// The corun::VDevice under a Python corun.VDevice (INVALID_OPERATION once released).
std::shared_ptr<VDevice> vdevice_of(const py::object& vdevice);

// The exception corun.errors.exception_for() makes for `status` (a HailoRTException subclass
// that carries .status, the StatusCode's name, and .message).
py::object exception_for(const Status& status);
// Raises it. Every binding reports a failed Status through here.
[[noreturn]] void raise_status(const Status& status);

inline void check(const Status& status) {
    if (!status.is_ok()) raise_status(status);
}
template <typename T>
T take(Expected<T>&& expected) {
    if (!expected.has_value()) raise_status(expected.status());
    return std::move(expected).value();
}

// A timeout given in milliseconds, as hailo_platform takes them. Negative: INVALID_ARGUMENT;
// at or above HAILO_INFINITE (2^32 - 1) it waits forever.
std::chrono::milliseconds timeout_from(int64_t milliseconds, const char* what);

// The numpy dtype of one element of `type`. BFLOAT16 is carried as uint16 (numpy has no
// bfloat16); STRING and AUTO have none (NOT_SUPPORTED).
py::dtype dtype_of(FormatType type);

// A frame's shape as hailo_platform shows it: without the leading batch dimension of 1
// ({1, 224, 224, 3} -> [224, 224, 3]); a rank-1 shape stays as it is.
std::vector<int64_t> frame_shape(const std::vector<int64_t>& shape_with_batch);

// True while Python can run code: not finalizing. Callbacks from corun's threads check it
// before they take the GIL (a thread that takes it during finalization never returns).
bool python_is_running();

// Drops `handle` with the GIL released when this thread holds it: the last handle of a
// configured model waits for its running callbacks, which need the GIL to finish.
template <typename T>
void reset_without_gil(std::shared_ptr<T>& handle) {
    if (!handle) return;
    if (PyGILState_Check() && python_is_running()) {
        py::gil_scoped_release released;
        handle.reset();
    } else {
        handle.reset();
    }
}

void bind_vdevice(py::module_& module);
void bind_inference(py::module_& module);
void bind_genai(py::module_& module);
void bind_tasks(py::module_& module);

}  // namespace corun::python
