// The InferModel API with hailo_platform's names: InferModel and its InferStreams, the
// ConfiguredInferModel (a context manager), Bindings over numpy arrays, run, run_async with a
// callback that gets `completion_info`, and AsyncInferJob. The GIL is released around every call
// into corun; callbacks take it on corun's threads.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "binding_support.hpp"
#include "corun/configured_infer_model.hpp"
#include "corun/infer_model.hpp"
#include "job_context.hpp"

namespace corun::python {
namespace {

// ---- what a configured model's streams are, in the user's format ----

struct ConfiguredStream {
    std::string name;
    bool is_input = true;
    Format format;
    std::vector<int64_t> shape;  // as hailo_platform shows it (frame_shape)
    size_t frame_size = 0;       // bytes; 0 while a dimension is unknown
    std::vector<QuantInfo> quant_infos;
};

// The streams of one ConfiguredInferModel: inputs first, then outputs (Bindings' order).
struct StreamTable {
    std::vector<ConfiguredStream> streams;
    std::vector<std::string> input_names;
    std::vector<std::string> output_names;

    size_t index_of(const std::string& name, bool is_input) const {
        const auto& names = is_input ? input_names : output_names;
        const char* kind = is_input ? "input" : "output";
        const size_t first = is_input ? 0 : input_names.size();
        if (name.empty()) {
            if (names.size() == 1) return first;
            raise_status(Status(StatusCode::INVALID_OPERATION,
                                "the model has " + std::to_string(names.size()) + " " + kind +
                                    "s (" + joined(names) + "); name one, e.g. " + kind + "('" +
                                    (names.empty() ? "" : names.front()) + "')"));
        }
        for (size_t i = 0; i < names.size(); ++i) {
            if (names[i] == name) return first + i;
        }
        raise_status(Status(StatusCode::NOT_FOUND, std::string("the model has no ") + kind + " '" +
                                                       name + "'; its " + kind +
                                                       "s are: " + joined(names)));
    }

    static std::string joined(const std::vector<std::string>& names) {
        std::string text;
        for (const auto& name : names) text += (text.empty() ? "'" : ", '") + name + "'";
        return text;
    }
};

std::shared_ptr<const StreamTable> read_streams(ConfiguredInferModel& model) {
    auto table = std::make_shared<StreamTable>();
    table->input_names = model.get_input_names();
    table->output_names = model.get_output_names();
    ConfiguredInferModel::Bindings probe = take(model.create_bindings());
    for (bool is_input : {true, false}) {
        for (const auto& name : is_input ? table->input_names : table->output_names) {
            auto stream = take(is_input ? probe.input(name) : probe.output(name));
            table->streams.push_back({name, is_input, stream.format(), frame_shape(stream.shape()),
                                      stream.get_frame_size(), stream.get_quant_infos()});
        }
    }
    return table;
}

// ---- Bindings over numpy arrays ----

class PyBindings {
public:
    PyBindings(ConfiguredInferModel::Bindings bindings, std::shared_ptr<const StreamTable> table)
        : bindings_(std::move(bindings)), table_(std::move(table)) {
        buffers_.resize(table_->streams.size(), py::none());
    }

    const StreamTable& table() const { return *table_; }
    const ConfiguredInferModel::Bindings& bindings() const { return bindings_; }
    const std::vector<py::object>& buffers() const { return buffers_; }
    const py::object& buffer(size_t index) const { return buffers_[index]; }

    // Binds `buffer` (a numpy array) to stream `index`: zero-copy when it is C-contiguous and
    // of the stream's element type; a non-contiguous input is copied once into a contiguous
    // array, which the bindings then hold. Output arrays must be contiguous and writeable.
    void set_buffer(size_t index, const py::object& buffer) {
        const ConfiguredStream& stream = table_->streams[index];
        const char* kind = stream.is_input ? "input" : "output";
        const std::string what = std::string(kind) + " '" + stream.name + "'";
        if (buffer.is_none()) {
            check(stream_handle(stream).set_buffer(MemoryView()));
            buffers_[index] = py::none();
            return;
        }
        if (!py::isinstance<py::array>(buffer)) {
            raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                what + " takes a numpy array; got " +
                                    std::string(py::str(py::type::of(buffer).attr("__name__"))) +
                                    " (use numpy.asarray(value, dtype=...))"));
        }
        py::array array = py::reinterpret_borrow<py::array>(buffer);
        check_element_type(stream, what, array.dtype());
        if (!(array.flags() & py::array::c_style)) {
            if (!stream.is_input) {
                raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                    what +
                                        " needs a C-contiguous array to write into; got a strided "
                                        "view (use numpy.empty(shape, dtype) for outputs)"));
            }
            array = py::module_::import("numpy").attr("ascontiguousarray")(array);
        }
        if (!stream.is_input && !array.writeable()) {
            raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                what + " needs a writeable array; this one is read-only"));
        }
        check(stream_handle(stream).set_buffer(
            MemoryView(const_cast<void*>(array.data()), static_cast<size_t>(array.nbytes()))));
        buffers_[index] = array;
    }

private:
    ConfiguredInferModel::Bindings::InferStream stream_handle(const ConfiguredStream& stream) {
        return take(stream.is_input ? bindings_.input(stream.name) : bindings_.output(stream.name));
    }

    static void check_element_type(const ConfiguredStream& stream, const std::string& what,
                                   const py::dtype& given) {
        if (stream.format.type == FormatType::STRING) {
            if (given.kind() == 'u' && given.itemsize() == 1) return;
            raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                what + " is a STRING stream: bind a uint8 array of its bytes "
                                       "(each element a 4-byte length and its bytes)"));
        }
        const py::dtype expected = dtype_of(stream.format.type);
        if (given.kind() == expected.kind() && given.itemsize() == expected.itemsize()) return;
        const std::string expected_name = py::str(static_cast<const py::handle&>(expected));
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            what + " takes " + expected_name + " elements (format type " +
                                format_type_name(stream.format.type) + "); got " +
                                std::string(py::str(static_cast<const py::handle&>(given))) +
                                ": pass array.astype(numpy." + expected_name +
                                "), or set_format_type() before configure()"));
    }

    ConfiguredInferModel::Bindings bindings_;
    std::shared_ptr<const StreamTable> table_;
    std::vector<py::object> buffers_;  // per stream, what Python bound (None when unbound)
};

// bindings.input(name) / bindings.output(name): one stream of one Bindings.
struct PyBindingsStream {
    PyBindings* owner;  // kept alive by py::keep_alive
    size_t index;
    const ConfiguredStream& stream() const { return owner->table().streams[index]; }
};

// ---- completion ----

struct PyCompletionInfo {
    py::object exception;  // None on success
    std::string status;    // corun: the StatusCode's name ("SUCCESS", "TIMEOUT", ...)
    InferTiming timing;
    uint32_t frames = 0;
};

class PyAsyncInferJob {
public:
    explicit PyAsyncInferJob(AsyncInferJob job)
        : job_(std::make_shared<AsyncInferJob>(std::move(job))) {
        job_->detach();  // a dropped Python job must not block (its callback needs the GIL)
    }
    void wait(int64_t timeout_ms) {
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        without_gil([&] { return job_->wait(timeout); });
    }
    bool is_done() const { return job_->is_done(); }

private:
    std::shared_ptr<AsyncInferJob> job_;
};

// ---- shutdown at exit ----

// Every live configured model, so that atexit shuts them down while Python still runs: after
// that no callback can arrive during finalization.
std::mutex live_models_mutex;
std::vector<std::weak_ptr<ConfiguredInferModel>> live_models;

void remember(const std::shared_ptr<ConfiguredInferModel>& model) {
    std::lock_guard lock(live_models_mutex);
    std::erase_if(live_models, [](const auto& weak) { return weak.expired(); });
    live_models.push_back(model);
}

void shut_down_live_models() {
    std::vector<std::shared_ptr<ConfiguredInferModel>> models;
    {
        std::lock_guard lock(live_models_mutex);
        for (const auto& weak : live_models) {
            if (auto model = weak.lock()) models.push_back(std::move(model));
        }
        live_models.clear();
    }
    py::gil_scoped_release released;
    for (auto& model : models) model->shutdown().ignore();
    models.clear();
    // Jobs of models Python already dropped finish on their own (within their frame time).
    jobs_in_flight().wait_until_none(std::chrono::seconds(60));
}

// ---- ConfiguredInferModel ----

class PyConfiguredInferModel {
public:
    explicit PyConfiguredInferModel(ConfiguredInferModel model)
        : model_(std::make_shared<ConfiguredInferModel>(std::move(model))),
          table_(read_streams(*model_)) {
        remember(model_);
    }
    ~PyConfiguredInferModel() { reset_without_gil(model_); }

    std::unique_ptr<PyBindings> create_bindings(const std::optional<py::dict>& input_buffers,
                                                const std::optional<py::dict>& output_buffers) {
        auto bindings = std::make_unique<PyBindings>(take(model_->create_bindings()), table_);
        for (bool is_input : {true, false}) {
            const auto& given = is_input ? input_buffers : output_buffers;
            if (!given) continue;
            for (const auto& [name, buffer] : *given) {
                bindings->set_buffer(table_->index_of(py::str(name), is_input),
                                     py::reinterpret_borrow<py::object>(buffer));
            }
        }
        // Outputs not given get arrays of their own, as hailo_platform's create_bindings does.
        for (size_t i = table_->input_names.size(); i < table_->streams.size(); ++i) {
            const ConfiguredStream& stream = table_->streams[i];
            if (!bindings->buffer(i).is_none() || stream.frame_size == 0 ||
                stream.format.type == FormatType::STRING) {
                continue;
            }
            bindings->set_buffer(i, py::array(dtype_of(stream.format.type), stream.shape));
        }
        return bindings;
    }

    void run(const py::object& bindings, int64_t timeout_ms) {
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        std::vector<PyBindings*> list = bindings_list(bindings);
        if (list.size() == 1) {
            return without_gil([&] { return model_->run(list.front()->bindings(), timeout); });
        }
        // Several frames: one job, as hailo_platform runs them (run_async, then wait).
        start(list, py::none()).wait(timeout_ms);
    }

    PyAsyncInferJob run_async(const py::object& bindings, const py::object& callback) {
        if (!callback.is_none() && !PyCallable_Check(callback.ptr())) {
            raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                "the run_async callback is not callable; pass a function that "
                                "takes completion_info=..."));
        }
        return start(bindings_list(bindings), callback);
    }

    void wait_for_async_ready(int64_t timeout_ms, uint32_t frames_count) {
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        without_gil([&] { return model_->wait_for_async_ready(timeout, frames_count); });
    }

    ConfiguredInferModel& model() { return *model_; }
    const StreamTable& table() const { return *table_; }

    void shutdown() {
        without_gil([&] { return model_->shutdown(); });
    }

private:
    // A Bindings, or a list of them (one frame each), as hailo_platform's run/run_async take.
    static std::vector<PyBindings*> bindings_list(const py::object& bindings) {
        std::vector<PyBindings*> list;
        if (py::isinstance<PyBindings>(bindings)) {
            list.push_back(&bindings.cast<PyBindings&>());
            return list;
        }
        if (py::isinstance<py::sequence>(bindings) && !py::isinstance<py::str>(bindings)) {
            for (const auto& item : bindings) {
                if (!py::isinstance<PyBindings>(item)) break;
                list.push_back(&item.cast<PyBindings&>());
            }
            if (list.size() == py::len(bindings) && !list.empty()) return list;
        }
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            "run and run_async take a list of Bindings (from create_bindings()), "
                            "one per frame, or one Bindings"));
    }

    PyAsyncInferJob start(const std::vector<PyBindings*>& list, const py::object& callback) {
        std::vector<py::object> arrays;
        for (const PyBindings* bindings : list) {
            for (const auto& buffer : bindings->buffers()) {
                if (!buffer.is_none()) arrays.push_back(buffer);
            }
        }
        auto context = std::make_shared<JobContext>(std::move(arrays), callback);
        AsyncInferCallback on_done = [context](const AsyncInferCompletionInfo& info) {
            context->complete([&info] {
                PyCompletionInfo completion{py::none(), status_code_name(info.status.code()),
                                            info.timing, info.frames};
                if (!info.status.is_ok()) completion.exception = exception_for(info.status);
                return py::cast(std::move(completion));
            });
        };
        if (list.size() == 1) {
            const ConfiguredInferModel::Bindings& bindings = list.front()->bindings();
            return PyAsyncInferJob(
                without_gil([&] { return model_->run_async(bindings, std::move(on_done)); }));
        }
        std::vector<ConfiguredInferModel::Bindings> frames;
        frames.reserve(list.size());
        for (const PyBindings* bindings : list) frames.push_back(bindings->bindings());
        return PyAsyncInferJob(
            without_gil([&] { return model_->run_async(frames, std::move(on_done)); }));
    }

    std::shared_ptr<ConfiguredInferModel> model_;
    std::shared_ptr<const StreamTable> table_;
};

// ---- the bindings ----

void bind_formats(py::module_& module) {
    py::enum_<FormatType>(module, "FormatType", "Element type of a stream's buffer.")
        .value("AUTO", FormatType::AUTO)
        .value("UINT8", FormatType::UINT8)
        .value("UINT16", FormatType::UINT16)
        .value("FLOAT32", FormatType::FLOAT32)
        .value("INT8", FormatType::INT8)
        .value("INT32", FormatType::INT32)
        .value("INT64", FormatType::INT64)
        .value("FLOAT16", FormatType::FLOAT16)
        .value("BFLOAT16", FormatType::BFLOAT16)
        .value("FLOAT64", FormatType::FLOAT64)
        .value("BOOL", FormatType::BOOL)
        .value("INT16", FormatType::INT16)
        .value("UINT32", FormatType::UINT32)
        .value("UINT64", FormatType::UINT64)
        .value("STRING", FormatType::STRING);
    py::enum_<FormatOrder>(module, "FormatOrder", "Order of a stream's dimensions.")
        .value("AUTO", FormatOrder::AUTO)
        .value("NHWC", FormatOrder::NHWC)
        .value("NCHW", FormatOrder::NCHW)
        .value("NC", FormatOrder::NC)
        .value("NHW", FormatOrder::NHW)
        .value("FLAT", FormatOrder::FLAT);
    py::class_<Format>(module, "Format", "A stream's format: element type and order.")
        .def_readonly("type", &Format::type)
        .def_readonly("order", &Format::order)
        .def("__repr__", [](const Format& format) {
            return std::string("Format(type=FormatType.") + format_type_name(format.type) +
                   ", order=FormatOrder." + format_order_name(format.order) + ")";
        });
    py::class_<QuantInfo>(module, "QuantInfo",
                          "real = (quantized - qp_zp) * qp_scale (HailoRT's hailo_quant_info_t).")
        .def_readonly("qp_scale", &QuantInfo::scale)
        .def_readonly("qp_zp", &QuantInfo::zero_point)
        .def_readonly("scale", &QuantInfo::scale)
        .def_readonly("zero_point", &QuantInfo::zero_point)
        .def_readonly("limvals_min", &QuantInfo::limvals_min)
        .def_readonly("limvals_max", &QuantInfo::limvals_max)
        .def("__repr__", [](const QuantInfo& quant) {
            return "QuantInfo(qp_scale=" + std::to_string(quant.scale) +
                   ", qp_zp=" + std::to_string(quant.zero_point) + ")";
        });
}

void bind_infer_model(py::module_& module) {
    using Stream = InferModel::InferStream;
    py::class_<InferModel, std::shared_ptr<InferModel>> infer_model(
        module, "InferModel",
        "A loaded ONNX model and the formats of its streams, before configure().");
    py::class_<Stream>(infer_model, "InferStream",
                       "One input or output; its setters change what the next configure() uses.")
        .def_property_readonly("name", [](const Stream& stream) { return stream.name(); })
        .def_property_readonly(
            "shape", [](const Stream& stream) { return frame_shape(stream.shape()); },
            "The frame's shape without the batch dimension, in the user's order.")
        .def_property_readonly("format", &Stream::format)
        .def_property_readonly("quant_infos", &Stream::get_quant_infos)
        .def_property_readonly("is_nms", [](const Stream&) { return false; })
        .def("get_frame_size", &Stream::get_frame_size, "Bytes of one frame in the user's format.")
        .def("set_format_type", &Stream::set_format_type, py::arg("type"))
        .def("set_format_order", &Stream::set_format_order, py::arg("order"))
        .def(
            "set_shape",
            [](const Stream& stream, const std::vector<int64_t>& dims) {
                check(stream.set_shape(dims));
            },
            py::arg("native_dims"),
            "corun: fixes dynamic dimensions (native order, batch included).")
        .def("__repr__", [](const Stream& stream) {
            return "InferStream('" + stream.name() + "', " + shape_text(stream.shape()) + ", " +
                   format_type_name(stream.format().type) + ")";
        });

    infer_model
        .def(
            "input",
            [](InferModel& model, const std::string& name) {
                return take(name.empty() ? model.input() : model.input(name));
            },
            py::arg("name") = "")
        .def(
            "output",
            [](InferModel& model, const std::string& name) {
                return take(name.empty() ? model.output() : model.output(name));
            },
            py::arg("name") = "")
        .def_property_readonly("inputs", &InferModel::inputs)
        .def_property_readonly("outputs", &InferModel::outputs)
        .def_property_readonly("input_names", &InferModel::get_input_names)
        .def_property_readonly("output_names", &InferModel::get_output_names)
        .def_property_readonly("name", [](const InferModel& model) { return model.info().name; })
        .def(
            "set_batch_size",
            [](InferModel& model, uint16_t batch_size) { check(model.set_batch_size(batch_size)); },
            py::arg("batch_size"))
        .def(
            "configure",
            [](InferModel& model) {
                return std::make_unique<PyConfiguredInferModel>(
                    without_gil([&] { return model.configure(); }));
            },
            "Checks formats and shapes and prepares the model; use it as a context manager.");
}

void bind_configured(py::module_& module) {
    py::class_<PyCompletionInfo>(module, "AsyncInferCompletionInfo",
                                 "What a run_async callback gets as completion_info.")
        .def_readonly("exception", &PyCompletionInfo::exception,
                      "None on success, else the exception the job failed with")
        .def_readonly("status", &PyCompletionInfo::status, "corun: the status name")
        .def_readonly("frames", &PyCompletionInfo::frames)
        .def_property_readonly("total_ns",
                               [](const PyCompletionInfo& info) { return info.timing.total_ns; })
        .def_property_readonly("device_ns",
                               [](const PyCompletionInfo& info) { return info.timing.device_ns; })
        .def_property_readonly(
            "predicted_ns", [](const PyCompletionInfo& info) { return info.timing.predicted_ns; },
            "corun: the latency the scheduler predicted when it admitted a frame with a "
            "deadline (set_latency_slo); 0 without one");

    py::class_<PyAsyncInferJob>(module, "AsyncInferJob", "A job run_async started.")
        .def("wait", &PyAsyncInferJob::wait, py::arg("timeout_ms"),
             "Waits for the job and its callback; raises HailoRTTimeout, or the job's error.")
        .def_property_readonly("is_done", &PyAsyncInferJob::is_done);

    py::class_<PyConfiguredInferModel> configured(
        module, "ConfiguredInferModel",
        "A configured model: create bindings, run, run_async. Use it as a context manager.");
    py::class_<PyBindings> bindings(configured, "Bindings", "The buffers of one frame.");
    py::class_<PyBindingsStream>(bindings, "InferStream", "One stream of one Bindings.")
        .def(
            "set_buffer",
            [](PyBindingsStream& stream, const py::object& buffer) {
                stream.owner->set_buffer(stream.index, buffer);
            },
            py::arg("buffer"))
        .def(
            "get_buffer",
            [](const PyBindingsStream& stream, const py::object&) {
                return stream.owner->buffer(stream.index);
            },
            py::arg("tf_format") = false)
        .def_property_readonly("name",
                               [](const PyBindingsStream& stream) { return stream.stream().name; })
        .def_property_readonly("shape",
                               [](const PyBindingsStream& stream) { return stream.stream().shape; })
        .def_property_readonly(
            "format", [](const PyBindingsStream& stream) { return stream.stream().format; })
        .def_property_readonly(
            "quant_infos",
            [](const PyBindingsStream& stream) { return stream.stream().quant_infos; })
        .def("get_frame_size",
             [](const PyBindingsStream& stream) { return stream.stream().frame_size; });
    bindings
        .def(
            "input",
            [](PyBindings& self, const std::string& name) {
                return PyBindingsStream{&self, self.table().index_of(name, true)};
            },
            py::arg("name") = "", py::keep_alive<0, 1>())
        .def(
            "output",
            [](PyBindings& self, const std::string& name) {
                return PyBindingsStream{&self, self.table().index_of(name, false)};
            },
            py::arg("name") = "", py::keep_alive<0, 1>());

    with_block(configured, [](PyConfiguredInferModel& self) { self.shutdown(); })
        .def("create_bindings", &PyConfiguredInferModel::create_bindings,
             py::arg("input_buffers") = py::none(), py::arg("output_buffers") = py::none(),
             "Bindings for one frame: the arrays given by stream name; outputs not given get "
             "new arrays (bindings.output(name).get_buffer()).")
        .def("run", &PyConfiguredInferModel::run, py::arg("bindings"), py::arg("timeout") = 10000,
             "Synchronous inference of a list of Bindings (one per frame); raises on failure.")
        .def("run_async", &PyConfiguredInferModel::run_async, py::arg("bindings"),
             py::arg("callback") = py::none(),
             "Queues the frames; callback(completion_info=...) runs on a corun thread when done.")
        .def("wait_for_async_ready", &PyConfiguredInferModel::wait_for_async_ready,
             py::arg("timeout_ms") = 1000, py::arg("frames_count") = 1)
        .def("get_async_queue_size",
             [](PyConfiguredInferModel& self) { return take(self.model().get_async_queue_size()); })
        .def("get_frames_in_flight",
             [](PyConfiguredInferModel& self) { return take(self.model().get_frames_in_flight()); })
        .def(
            "set_scheduler_priority",
            [](PyConfiguredInferModel& self, uint32_t priority) {
                check(self.model().set_scheduler_priority(priority));
            },
            py::arg("priority"))
        .def(
            "set_scheduler_threshold",
            [](PyConfiguredInferModel& self, uint32_t threshold) {
                check(self.model().set_scheduler_threshold(threshold));
            },
            py::arg("threshold"))
        .def(
            "set_scheduler_timeout",
            [](PyConfiguredInferModel& self, int64_t timeout_ms) {
                check(self.model().set_scheduler_timeout(timeout_from(timeout_ms, "the timeout")));
            },
            py::arg("timeout_ms"))
        .def(
            "set_latency_slo",
            [](PyConfiguredInferModel& self, int64_t slo_ms) {
                check(self.model().set_latency_slo(std::chrono::milliseconds(slo_ms)));
            },
            py::arg("slo_ms"), "corun: every frame must complete within slo_ms (0 = none).")
        .def_property_readonly(
            "scheduler_model_id",
            [](PyConfiguredInferModel& self) { return self.model().scheduler_model_id(); })
        .def_property_readonly(
            "input_names", [](PyConfiguredInferModel& self) { return self.table().input_names; })
        .def_property_readonly(
            "output_names", [](PyConfiguredInferModel& self) { return self.table().output_names; })
        .def("shutdown", &PyConfiguredInferModel::shutdown,
             "Jobs not started complete with SHUTDOWN; later calls raise.");
}

}  // namespace

void bind_inference(py::module_& module) {
    bind_formats(module);
    bind_infer_model(module);
    bind_configured(module);
    py::module_::import("atexit").attr("register")(py::cpp_function(&shut_down_live_models));
}

}  // namespace corun::python
