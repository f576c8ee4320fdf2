// corun._corun: the module's entry point and the helpers every bound area shares
// (binding_support.hpp). The package corun (python/corun/__init__.py) re-exports it.
#include <pybind11/pybind11.h>

#include <string>

#include "binding_support.hpp"
#include "corun/configured_infer_model.hpp"
#include "corun/status.hpp"

namespace corun::python {

py::object exception_for(const Status& status) {
    // Imported when first needed: corun.errors is plain Python and does not import _corun.
    static py::object* factory = nullptr;
    if (factory == nullptr) {
        factory = new py::object(py::module_::import("corun.errors").attr("exception_for"));
    }
    return (*factory)(status_code_name(status.code()), status.message());
}

void raise_status(const Status& status) {
    py::object exception = exception_for(status);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
    throw py::error_already_set();
}

std::string path_of(const py::object& path, const std::string& expected) {
    try {
        return py::module_::import("os").attr("fspath")(path).cast<std::string>();
    } catch (py::error_already_set&) {
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            expected + " (a str or os.PathLike); got " +
                                std::string(py::str(py::type::of(path).attr("__name__")))));
    }
}

std::span<const uint8_t> bytes_of(const py::object& bytes) {
    const bool is_bytes = py::isinstance<py::bytes>(bytes);
    const char* data =
        is_bytes ? PyBytes_AS_STRING(bytes.ptr()) : PyByteArray_AS_STRING(bytes.ptr());
    const Py_ssize_t size =
        is_bytes ? PyBytes_GET_SIZE(bytes.ptr()) : PyByteArray_GET_SIZE(bytes.ptr());
    return {reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(size)};
}

std::chrono::milliseconds timeout_from(int64_t milliseconds, const char* what) {
    if (milliseconds < 0) {
        raise_status(Status(StatusCode::INVALID_ARGUMENT, std::string(what) + " is negative (" +
                                                              std::to_string(milliseconds) +
                                                              " ms); give 0 or more milliseconds"));
    }
    if (milliseconds >= static_cast<int64_t>(INFINITE_TIMEOUT.count())) return INFINITE_TIMEOUT;
    return std::chrono::milliseconds(milliseconds);
}

py::dtype dtype_of(FormatType type) {
    switch (type) {
        case FormatType::UINT8:
            return py::dtype::of<uint8_t>();
        case FormatType::UINT16:
            return py::dtype::of<uint16_t>();
        case FormatType::FLOAT32:
            return py::dtype::of<float>();
        case FormatType::INT8:
            return py::dtype::of<int8_t>();
        case FormatType::INT32:
            return py::dtype::of<int32_t>();
        case FormatType::INT64:
            return py::dtype::of<int64_t>();
        case FormatType::FLOAT16:
            return py::dtype("float16");
        case FormatType::BFLOAT16:
            return py::dtype::of<uint16_t>();
        case FormatType::FLOAT64:
            return py::dtype::of<double>();
        case FormatType::BOOL:
            return py::dtype::of<bool>();
        case FormatType::INT16:
            return py::dtype::of<int16_t>();
        case FormatType::UINT32:
            return py::dtype::of<uint32_t>();
        case FormatType::UINT64:
            return py::dtype::of<uint64_t>();
        case FormatType::AUTO:
        case FormatType::STRING:
            break;
    }
    raise_status(Status(StatusCode::NOT_SUPPORTED,
                        std::string("a ") + format_type_name(type) +
                            " stream has no numpy element type; bind a uint8 array of its bytes"));
}

std::vector<int64_t> frame_shape(const std::vector<int64_t>& shape_with_batch) {
    if (shape_with_batch.size() < 2 || shape_with_batch.front() != 1) return shape_with_batch;
    return {shape_with_batch.begin() + 1, shape_with_batch.end()};
}

bool python_is_running() {
    return Py_IsInitialized() && !_Py_IsFinalizing();
}

}  // namespace corun::python

PYBIND11_MODULE(_corun, module) {
    module.doc() =
        "corun's runtime with hailo_platform's names (the InferModel API, GenAI, tasks). Import "
        "the package `corun`, not this module.";
    corun::python::bind_vdevice(module);
    corun::python::bind_inference(module);
    corun::python::bind_genai(module);
    corun::python::bind_tasks(module);
    corun::python::bind_capacity_plan(module);
    corun::python::bind_routed_model(module);
}
