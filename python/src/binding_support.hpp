// What every bound area of corun._corun shares: Status -> Python exception, timeouts in
// milliseconds, numpy dtypes of corun's format types, and dropping C++ handles without the GIL.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
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

// Runs `call` (a call into corun) with the GIL released, then, holding it again, raises its
// error: returns the value of an Expected, nothing for a Status. The one way bindings call
// anything that may block or take long.
template <typename Call>
auto without_gil(Call&& call) {
    auto result = [&] {
        py::gil_scoped_release released;
        return call();
    }();
    if constexpr (std::is_same_v<decltype(result), Status>) {
        check(result);
    } else {
        return take(std::move(result));
    }
}

// The path a str or os.PathLike names; INVALID_ARGUMENT with `expected` (what the call takes)
// and the type given for anything else.
std::string path_of(const py::object& path, const std::string& expected);
// The bytes of a bytes or bytearray object, valid while the object lives.
std::span<const uint8_t> bytes_of(const py::object& bytes);

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

// A corun object that Python may release before it is collected (release(), the end of a `with`
// block): later calls raise INVALID_OPERATION naming it. Dropped without the GIL.
template <typename T>
class Releasable {
public:
    Releasable(std::shared_ptr<T> object, const char* what)
        : object_(std::move(object)), what_(what) {}
    ~Releasable() { reset_without_gil(object_); }
    Releasable(Releasable&&) noexcept = default;
    Releasable& operator=(Releasable&&) noexcept = default;

    const std::shared_ptr<T>& get() const {
        if (!object_) {
            raise_status(Status(StatusCode::INVALID_OPERATION,
                                std::string("this ") + what_ +
                                    " was released (release() or the end of its `with` block); "
                                    "create a new one"));
        }
        return object_;
    }
    void release() { reset_without_gil(object_); }

private:
    std::shared_ptr<T> object_;
    const char* what_;
};

// Makes a bound class a context manager whose `with` block ends with `end(self)` (release,
// shutdown, abort), as hailo_platform's VDevice, ConfiguredInferModel and LLM are.
template <typename Class, typename End>
Class& with_block(Class& bound, End end) {
    bound.def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [end](typename Class::type& self, const py::args&) {
            end(self);
            return false;
        });
    return bound;
}

void bind_vdevice(py::module_& module);
void bind_inference(py::module_& module);
void bind_genai(py::module_& module);
void bind_tasks(py::module_& module);
void bind_capacity_plan(py::module_& module);
void bind_routed_model(py::module_& module);

}  // namespace corun::python
