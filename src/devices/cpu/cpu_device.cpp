#include "devices/cpu/cpu_device.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <onnxruntime_cxx_api.h>

#include "common/string_elements.hpp"
#include "devices/cpu/core_arbiter.hpp"
#include "devices/cpu/core_count_choice.hpp"
#include "devices/cpu/core_pinning.hpp"
#include "devices/cpu/missing_kernel.hpp"
#include "devices/cpu/onnx_element_type.hpp"
#include "devices/cpu/thread_priority.hpp"

namespace corun::devices::cpu {
namespace {

// How many threads ONNX Runtime gave the process-wide pool: counted as it creates them (the
// C API cannot tell). That pool runs no model: its size is ONNX Runtime's default thread count
// on this machine, which each model's own pool then takes (default_pool_threads()).
std::atomic<uint32_t> process_pool_workers{0};

OrtCustomThreadHandle create_pool_thread(void*, OrtThreadWorkerFn work, void* param) {
    // No exception may cross ORT's C boundary; a null handle makes ORT fail the pool itself.
    try {
        auto* thread = new std::thread(work, param);
        process_pool_workers.fetch_add(1, std::memory_order_relaxed);
        return reinterpret_cast<OrtCustomThreadHandle>(thread);
    } catch (const std::exception&) {
        return nullptr;
    }
}

void join_pool_thread(OrtCustomThreadHandle handle) {
    auto* thread = reinterpret_cast<std::thread*>(const_cast<OrtCustomHandleType*>(handle));
    thread->join();
    delete thread;
}

// One ONNX Runtime environment per process, as ORT requires. Its process-wide pool is sized by
// ONNX Runtime's own default (0: one thread per physical core as ORT detects them), which is how
// corun learns that default: "default threads" then means in corun what it means in a bare ORT
// session on the same machine. They can differ from hardware_concurrency(): on a VM whose CPUID
// hides the topology ORT's default is one thread, and a pool of 2 on the two busy, shared vCPUs
// made each frame 1.2-2x slower than a bare session (docs/PERFORMANCE.md, issue 10).
// No model runs on that pool (so it never spins): ONNX Runtime spins a process-wide pool's
// workers for an unbounded while after each parallel section, and in a mix its worker took
// 19-60% of a core from the frames beside it; a model's own pool spins a bounded time
// (POOL_SPIN_MICROSECONDS, docs/PERFORMANCE.md, issue 13 item 5).
// Never destroyed: a session may be released after static destructors ran (the last handle
// of a model in a user's static, or on a worker thread during exit), and releasing a session
// after its environment is a use-after-free (docs/API.md promises any destruction order).
Ort::Env& ort_env() {
    static Ort::Env* env = [] {
        Ort::ThreadingOptions threading;
        threading.SetGlobalIntraOpNumThreads(0);
        threading.SetGlobalInterOpNumThreads(1);
        threading.SetGlobalSpinControl(false);
        threading.SetGlobalCustomCreateThreadFn(create_pool_thread);
        threading.SetGlobalCustomJoinThreadFn(join_pool_thread);
        return new Ort::Env(threading, ORT_LOGGING_LEVEL_ERROR, "corun");
    }();
    return *env;
}

// ONNX Runtime's default thread count here: the caller's thread and the process-wide pool's.
uint32_t default_pool_threads() {
    ort_env();
    return 1 + process_pool_workers.load(std::memory_order_relaxed);
}

// How long a model's pool threads spin waiting for work before they sleep: long enough to bridge
// the gaps between a frame's parallel sections (microseconds), short enough that a pool whose
// frame ended leaves the cores to the frames beside it. Measured with sharing_bench
// --urgent-only against the process-wide pool (ONNX Runtime's own spin), two runs of 6 rounds:
// the urgent camera's pooled p95 11% and 16% lower, the saturating models' frames per second
// higher in 11 of the 12 rounds.
constexpr const char* POOL_SPIN_MICROSECONDS = "200";

constexpr const char* NO_EXTERNAL_DATA_FOLDER = "/dev/null/corun-external-data-is-passed-in-memory";

// `model`: the model's bytes where the error comes from loading it, to name what is missing.
Status status_from_ort(const Ort::Exception& error, const std::string& context,
                       std::span<const uint8_t> model = {}) {
    StatusCode code = StatusCode::DEVICE_FAILURE;
    std::string advice;
    const std::string what = error.what();
    switch (error.GetOrtErrorCode()) {
        case ORT_INVALID_PROTOBUF:
        case ORT_INVALID_GRAPH:
        case ORT_MODEL_LOADED:
            code = StatusCode::INVALID_MODEL;
            advice =
                "; the file is not a valid ONNX model (check that it is complete and that "
                "it is ONNX, not TF.js, TFLite or a HEF)";
            break;
        case ORT_NOT_IMPLEMENTED:
            code = StatusCode::NOT_SUPPORTED;
            break;
        case ORT_NO_SUCHFILE:
            code = StatusCode::NOT_FOUND;
            break;
        case ORT_INVALID_ARGUMENT:
            code = StatusCode::INVALID_ARGUMENT;
            break;
        default:
            break;
    }
    const std::string kernel_advice =
        missing_kernel_advice(what, model, std::string(Ort::GetVersionString()));
    if (!kernel_advice.empty()) {
        code = StatusCode::NOT_SUPPORTED;
        advice = kernel_advice;
    } else if (what.find("is not a registered function/op") != std::string::npos) {
        code = StatusCode::NOT_SUPPORTED;
        advice = "; ONNX Runtime " + std::string(Ort::GetVersionString()) +
                 " does not know an operator of this model: it is not a standard ONNX operator "
                 "of the model's opset nor one of ORT's contrib operators (re-export the model "
                 "with standard ONNX operators, or run it on another device)";
    } else if (code == StatusCode::NOT_SUPPORTED) {
        advice = "; ONNX Runtime " + std::string(Ort::GetVersionString()) +
                 " does not implement what this model asks of it on the CPU";
    }
    return Status(code, context + ": " + what + advice);
}

FormatType format_type_of(ONNXTensorElementDataType type) {
    for (FormatType candidate :
         {FormatType::FLOAT32, FormatType::UINT8, FormatType::INT8, FormatType::UINT16,
          FormatType::INT32, FormatType::INT64, FormatType::FLOAT16, FormatType::BFLOAT16,
          FormatType::FLOAT64, FormatType::BOOL, FormatType::INT16, FormatType::UINT32,
          FormatType::UINT64, FormatType::STRING}) {
        if (onnx_type_of(candidate) == type) return candidate;
    }
    return FormatType::AUTO;  // float8, int4, complex: types corun has no FormatType for
}

const char* onnx_type_name(ONNXTensorElementDataType type) {
    switch (type) {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
            return "float";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
            return "uint8";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8:
            return "int8";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
            return "uint16";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16:
            return "int16";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
            return "int32";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
            return "int64";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING:
            return "string";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
            return "bool";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
            return "float16";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
            return "double";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32:
            return "uint32";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64:
            return "uint64";
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16:
            return "bfloat16";
        default:
            return "unsupported";
    }
}

// ONNX's spelling of a type that is not a plain tensor: "seq(tensor(float))",
// "map(int64,tensor(float))", "optional(seq(tensor(int64)))".
std::string onnx_type_text(const Ort::ConstTypeInfo& type_info) {
    switch (type_info.GetONNXType()) {
        case ONNX_TYPE_TENSOR:
        case ONNX_TYPE_SPARSETENSOR:
            return std::string(type_info.GetONNXType() == ONNX_TYPE_TENSOR ? "tensor("
                                                                           : "sparse_tensor(") +
                   onnx_type_name(type_info.GetTensorTypeAndShapeInfo().GetElementType()) + ")";
        case ONNX_TYPE_SEQUENCE:
            return "seq(" +
                   onnx_type_text(
                       type_info.GetSequenceTypeInfo().GetSequenceElementType().GetConst()) +
                   ")";
        case ONNX_TYPE_MAP: {
            auto map = type_info.GetMapTypeInfo();
            return std::string("map(") + onnx_type_name(map.GetMapKeyType()) + "," +
                   onnx_type_text(map.GetMapValueType().GetConst()) + ")";
        }
        case ONNX_TYPE_OPTIONAL:
            return "optional(" +
                   onnx_type_text(
                       type_info.GetOptionalTypeInfo().GetOptionalElementType().GetConst()) +
                   ")";
        default:
            return "an unknown ONNX type";
    }
}

DeclaredTensor declared_tensor(const std::string& name, const Ort::TypeInfo& type_info) {
    DeclaredTensor tensor;
    tensor.name = name;
    Ort::ConstTypeInfo type = type_info.GetConst();
    Ort::TypeInfo contained{nullptr};
    if (type.GetONNXType() == ONNX_TYPE_OPTIONAL) {
        // optional(tensor(T)) is a tensor stream the user may leave unbound (an input) or that
        // may come back without a value (an output).
        contained = type.GetOptionalTypeInfo().GetOptionalElementType();
        if (contained.GetONNXType() == ONNX_TYPE_TENSOR) {
            tensor.optional = true;
            type = contained.GetConst();
        }
    }
    if (type.GetONNXType() != ONNX_TYPE_TENSOR) {
        tensor.is_tensor = false;
        tensor.onnx_type_name = onnx_type_text(type_info.GetConst());
        return tensor;
    }
    auto info = type.GetTensorTypeAndShapeInfo();
    tensor.type = format_type_of(info.GetElementType());
    tensor.onnx_type_name = onnx_type_name(info.GetElementType());
    tensor.dims = info.GetShape();
    std::vector<const char*> symbolic(tensor.dims.size(), nullptr);
    info.GetSymbolicDimensions(symbolic.data(), symbolic.size());
    for (size_t i = 0; i < tensor.dims.size(); ++i) {
        tensor.dim_names.push_back(tensor.dims[i] < 0 && symbolic[i] ? symbolic[i] : "");
    }
    return tensor;
}

// A session for `source` with a pool of its own of `threads` threads (0: ONNX Runtime's default
// count; 1: none, it runs on the caller's thread). With `spin_wait` its threads spin up to
// POOL_SPIN_MICROSECONDS for work before they sleep. With `pin_to` (the CPUs the process may
// use), its pool's threads are pinned one per CPU after the first (core_pinning.hpp); returns
// whether they were.
Ort::Session create_session(const ModelSource& source, uint32_t threads, bool spin_wait,
                            const std::vector<int>& pin_to = {}, bool* pinned = nullptr) {
    Ort::Env& env = ort_env();
    Ort::SessionOptions options;
    // An explicit count: ONNX Runtime pins the threads of a default-sized (0) pool to cores, and
    // several models' pools would then share the same pinned cores. 0 where the process-wide pool
    // could not tell the default (the application created its environment first, without it).
    const uint32_t pool_threads = threads != 0 ? threads
                                  : process_pool_workers.load(std::memory_order_relaxed) > 0
                                      ? default_pool_threads()
                                      : 0;
    options.SetIntraOpNumThreads(static_cast<int>(pool_threads));
    const std::string affinities = pool_affinities(pin_to, pool_threads);
    if (!affinities.empty()) {
        options.AddConfigEntry("session.intra_op_thread_affinities", affinities.c_str());
    }
    if (pinned != nullptr) *pinned = !affinities.empty();
    options.SetInterOpNumThreads(1);
    options.AddConfigEntry("session.intra_op.allow_spinning", spin_wait ? "1" : "0");
    if (spin_wait) {
        options.AddConfigEntry("session.intra_op.spin_duration_us", POOL_SPIN_MICROSECONDS);
    }
    options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    if (source.constant_folding_max_bytes != 0) {
        options.AddConfigEntry("optimization.constant_folding_max_output_size_in_bytes",
                               std::to_string(source.constant_folding_max_bytes).c_str());
    }
    // ONNX Runtime would resolve a relative external-data location against the process's
    // working directory (`/` under systemd): a model's bytes could name any file there.
    // Every file the model names is handed over in memory instead, and the folder it
    // would fall back to cannot exist (nothing can be under /dev/null).
    options.AddConfigEntry("session.model_external_initializers_file_folder_path",
                           NO_EXTERNAL_DATA_FOLDER);
    std::vector<const char*> external_names;
    std::vector<char*> external_contents;
    std::vector<size_t> external_sizes;
    for (const auto& file : source.external_data) {
        external_names.push_back(file.location.c_str());
        // ORT copies what it needs during session creation and never writes to these.
        external_contents.push_back(
            reinterpret_cast<char*>(const_cast<uint8_t*>(file.content.data())));
        external_sizes.push_back(file.content.size());
    }
    if (!external_names.empty()) {
        Ort::ThrowOnError(Ort::GetApi().AddExternalInitializersFromFilesInMemory(
            options, external_names.data(), external_contents.data(), external_sizes.data(),
            external_names.size()));
    }
    return Ort::Session(env, source.onnx.data(), source.onnx.size(), options);
}

// A model's bytes, kept to build its one-core session later: the automatic sharing mode builds
// it only once the model first runs beside another (most models never do, and a session costs
// its load time and its weights again).
struct KeptModelSource {
    std::vector<uint8_t> onnx;
    std::string name;
    std::vector<ExternalDataFile> external_data;
    uint64_t constant_folding_max_bytes = 0;

    explicit KeptModelSource(const ModelSource& source)
        : onnx(source.onnx.begin(), source.onnx.end()),
          name(source.name),
          external_data(source.external_data),
          constant_folding_max_bytes(source.constant_folding_max_bytes) {}
    ModelSource view() const {
        return ModelSource{onnx, name, external_data, constant_folding_max_bytes};
    }
};

// The thread's run options, reused by every run on it: a run allocates nothing for them.
Ort::RunOptions& thread_run_options() {
    thread_local Ort::RunOptions run_options;
    return run_options;
}

class CpuLoadedModel final : public LoadedModel {
public:
    // With `arbiter` (the automatic sharing mode), frames share the cores through it, and
    // `kept` builds the one-core session for frames that run beside others.
    // `caller_cpu`: where a frame on every core runs its caller's thread, its pool's threads being
    // pinned to the next CPUs (-1: not pinned).
    CpuLoadedModel(Ort::Session session, std::string name,
                   std::shared_ptr<CoreArbiter> arbiter = nullptr,
                   std::unique_ptr<KeptModelSource> kept = nullptr, int caller_cpu = -1)
        : session_(std::move(session)),
          name_(std::move(name)),
          arbiter_(std::move(arbiter)),
          kept_(std::move(kept)),
          caller_cpu_(caller_cpu) {
        Ort::AllocatorWithDefaultOptions allocator;
        for (size_t i = 0; i < session_.GetInputCount(); ++i) {
            auto input_name = session_.GetInputNameAllocated(i, allocator);
            inputs_.push_back(declared_tensor(input_name.get(), session_.GetInputTypeInfo(i)));
        }
        for (size_t i = 0; i < session_.GetOutputCount(); ++i) {
            auto output_name = session_.GetOutputNameAllocated(i, allocator);
            outputs_.push_back(declared_tensor(output_name.get(), session_.GetOutputTypeInfo(i)));
        }
        for (const auto& input : inputs_) input_names_.push_back(input.name.c_str());
        for (const auto& output : outputs_) output_names_.push_back(output.name.c_str());
    }

    ~CpuLoadedModel() override {
        if (one_core_builder_.joinable()) one_core_builder_.join();
    }

    const std::vector<DeclaredTensor>& declared_inputs() const override { return inputs_; }
    const std::vector<DeclaredTensor>& declared_outputs() const override { return outputs_; }

    Status execute(const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs,
                   std::span<const FrameBuffers> frames) override {
        return execute(inputs, outputs, frames, FrameLimits{});
    }

    Status execute(const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs,
                   std::span<const FrameBuffers> frames, const FrameLimits& limits) override {
        std::vector<Ort::Value> input_values;
        std::vector<Ort::Value> output_values;
        input_values.reserve(inputs.size());
        output_values.reserve(outputs.size());
        std::vector<const char*> present_names;
        for (const FrameBuffers& frame : frames) {
            input_values.clear();
            output_values.clear();
            // An optional input left unbound is not fed: ONNX Runtime runs the model with
            // "no value" for it. The names are then this frame's own list.
            const bool omits =
                std::find(frame.inputs.begin(), frame.inputs.end(), nullptr) != frame.inputs.end();
            if (omits) present_names.clear();
            try {
                for (size_t i = 0; i < inputs.size(); ++i) {
                    if (frame.inputs[i] == nullptr) continue;
                    if (inputs[i].type == FormatType::STRING) {
                        CORUN_TRY(Ort::Value strings,
                                  string_tensor(inputs[i], frame.inputs[i], input_size(frame, i)));
                        input_values.push_back(std::move(strings));
                    } else {
                        // ORT does not write to inputs; the const_cast only satisfies its
                        // signature.
                        input_values.push_back(
                            tensor_over(inputs[i], const_cast<void*>(frame.inputs[i])));
                    }
                    if (omits) present_names.push_back(input_names_[i]);
                }
                for (size_t i = 0; i < outputs.size(); ++i) {
                    // A string output's size is known only once it is computed: ORT allocates
                    // it, and it is copied into the user's buffer after the run.
                    output_values.push_back(outputs[i].type == FormatType::STRING
                                                ? Ort::Value(nullptr)
                                                : tensor_over(outputs[i], frame.outputs[i]));
                }
            } catch (const Ort::Exception& error) {
                return status_from_ort(error, "running model '" + name_ + "' on cpu");
            }
            const char* const* names = omits ? present_names.data() : input_names_.data();
            CORUN_RETURN_IF_ERROR(
                run_on_cores(limits, [&](Ort::Session& session, const Ort::RunOptions& options) {
                    session.Run(options, names, input_values.data(), input_values.size(),
                                output_names_.data(), output_values.data(), output_values.size());
                }));
            for (size_t i = 0; i < outputs.size(); ++i) {
                if (outputs[i].type != FormatType::STRING) continue;
                CORUN_RETURN_IF_ERROR(write_strings(outputs[i], output_values[i], frame.outputs[i],
                                                    output_size(frame, i)));
            }
        }
        return Status::ok();
    }

    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<TensorSpec>& inputs) override {
        return infer_output_dims(inputs, FrameLimits{});
    }

    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<TensorSpec>& inputs, const FrameLimits& limits) override {
        std::vector<std::vector<int64_t>> dims;
        std::vector<std::vector<uint8_t>> zeros;
        std::vector<Ort::Value> input_values;
        try {
            for (const auto& input : inputs) {
                if (input.type == FormatType::STRING) {
                    // Empty strings: 4 zero bytes (a length of 0) per element.
                    zeros.emplace_back(4 * element_count(input), 0);
                    CORUN_TRY(Ort::Value strings,
                              string_tensor(input, zeros.back().data(), zeros.back().size()));
                    input_values.push_back(std::move(strings));
                    continue;
                }
                zeros.emplace_back(input.byte_size(), 0);
                input_values.push_back(tensor_over(input, zeros.back().data()));
            }
        } catch (const Ort::Exception& error) {
            return status_from_ort(error, "finding the output shapes of model '" + name_ + "'");
        }
        CORUN_RETURN_IF_ERROR(
            run_bounded(limits, FINDING_OUTPUT_SHAPES, [&](const Ort::RunOptions& run_options) {
                auto results =
                    session_.Run(run_options, input_names_.data(), input_values.data(),
                                 input_values.size(), output_names_.data(), output_names_.size());
                for (auto& result : results)
                    dims.push_back(result.GetTensorTypeAndShapeInfo().GetShape());
            }));
        return dims;
    }

private:
    enum RunPurpose { RUNNING, FINDING_OUTPUT_SHAPES };

    // For messages; built only on failure, so that a frame's run allocates no string.
    std::string describe(RunPurpose purpose) const {
        return purpose == RUNNING
                   ? "running model '" + name_ + "' on cpu"
                   : "finding the output shapes of model '" + name_ + "' with a zero-filled input";
    }

    // Runs `run` (one Session::Run) under the watchdog: past limits.time_limit, or once the
    // owner is terminated, ORT's terminate flag stops it between two nodes (inside a Loop's
    // body too). The run options are the thread's own, reused: a run allocates nothing for it.
    // Runs one frame (`run(session, options)`): as it is without an arbiter; with one, on one
    // core (its one-core session, once built) beside others; alone or urgent on every core or
    // on one, whichever this model's frames measured faster; and again from the start if an
    // urgent frame stopped it.
    template <typename Run>
    Status run_on_cores(const FrameLimits& limits, Run run) {
        if (!arbiter_) {
            return run_bounded(limits, RUNNING,
                               [&](const Ort::RunOptions& options) { run(session_, options); });
        }
        CoreArbiter::Frame frame;
        frame.urgent = limits.urgent;
        frame.stop = [](void* options) { static_cast<Ort::RunOptions*>(options)->SetTerminate(); };
        frame.context = &thread_run_options();
        frame.thread = current_thread_id();
        for (;;) {
            // Beside others: one core. Alone or urgent: every core, unless this model's frames
            // measured faster on one (CoreCountChoice). An urgent frame chooses first, so that
            // it stops only as many frames as free the cores it will use.
            bool every_core = false;
            if (frame.urgent) {
                every_core = core_count_choice_.every_core_next();
                frame.cores = every_core ? 0 : 1;
            }
            const bool beside_others = arbiter_->begin(frame);
            const bool may_take_every_core = !beside_others || frame.urgent;
            if (!frame.urgent && may_take_every_core) {
                every_core = core_count_choice_.every_core_next();
                if (!every_core) arbiter_->set_cores(frame, 1);
            }
            Ort::Session* one_core = every_core ? nullptr : one_core_session();
            Ort::Session& session = one_core != nullptr ? *one_core : session_;
            const auto started = std::chrono::steady_clock::now();
            Status status;
            {
                // On every core: its pool's threads are on the other CPUs.
                std::optional<PinnedToCpu> pinned;
                if (every_core && caller_cpu_ >= 0) pinned.emplace(caller_cpu_);
                status = run_bounded(limits, RUNNING, [&](const Ort::RunOptions& options) {
                    run(session, options);
                });
            }
            const bool stopped = arbiter_->end(frame);
            // Timed only as it was chosen: not a frame that asked for one core and ran on the
            // pool while the one-core session was being built (the build takes a core:
            // nanodet's every core timed at 44 ms, not 23), nor a frame alone that another
            // joined (slowed by its company, such frames made mobilefacenet's every core look
            // slower than one core after it had run beside others, and it ran alone on one at
            // 9 ms where every core takes 6). An urgent frame is timed with its company: on one
            // core it runs beside the frames it did not stop, every time, and on every core
            // alone; timed only alone, its one-core tries would never complete.
            const bool ran_as_chosen =
                (every_core || one_core != nullptr) && (frame.urgent || frame.alone_throughout);
            if (may_take_every_core && !stopped && status.is_ok() && ran_as_chosen) {
                core_count_choice_.record(every_core, std::chrono::steady_clock::now() - started);
            }
            if (!stopped) return status;
            thread_run_options().UnsetTerminate();
            // Finished before it saw the flag, or stopped for another reason (its time limit,
            // its owner's termination): that is its result.
            if (status.is_ok() || status.code() == StatusCode::ABORTED ||
                status.code() == StatusCode::TIMEOUT) {
                return status;
            }
        }
    }

    // The one-core session once it is built; until then null (the first call starts building
    // it on a thread of its own, and frames meanwhile run on the model's own pool).
    Ort::Session* one_core_session() {
        if (one_core_ready_.load(std::memory_order_acquire)) return &*one_core_;
        std::call_once(one_core_started_, [this] {
            try {
                one_core_builder_ = std::thread([this] {
                    try {
                        one_core_.emplace(create_session(kept_->view(), 1, false));
                        one_core_ready_.store(true, std::memory_order_release);
                    } catch (const Ort::Exception&) {
                        // It loaded once with the same bytes; should a second session fail
                        // (memory), the model keeps running on its own pool.
                    }
                    kept_.reset();
                });
            } catch (const std::system_error&) {
                // No thread to build it: the model keeps running on its own pool.
            }
        });
        return nullptr;
    }

    template <typename Run>
    Status run_bounded(const FrameLimits& limits, RunPurpose purpose, Run run) {
        Ort::RunOptions& run_options = thread_run_options();
        WatchedFrame frame;
        frame.deadline = deadline_after(limits.time_limit);
        frame.termination = limits.termination;
        frame.stop = [](void* options) { static_cast<Ort::RunOptions*>(options)->SetTerminate(); };
        frame.context = &run_options;
        auto& watchdog = FrameWatchdog::instance();
        watchdog.watch(frame);
        Status status;
        try {
            run(run_options);
        } catch (const Ort::Exception& error) {
            status = status_from_ort(error, describe(purpose));
        }
        const FrameStop stopped = watchdog.unwatch(frame);
        if (stopped == FrameStop::NONE) return status;
        run_options.UnsetTerminate();       // for this thread's next run
        if (status.is_ok()) return status;  // it finished before the flag was seen
        if (stopped == FrameStop::TERMINATED) {
            return Status(StatusCode::ABORTED,
                          describe(purpose) +
                              ": the frame was terminated while running (its configured "
                              "model was terminated, e.g. because its client went away, or the "
                              "process exits)");
        }
        const auto limit_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(limits.time_limit).count();
        return Status(StatusCode::TIMEOUT,
                      describe(purpose) + ": the frame ran past the model's frame time limit of " +
                          std::to_string(limit_ms) +
                          " ms and was stopped; raise the limit with "
                          "InferModel::set_frame_time_limit, or check the model for an endless "
                          "Loop");
    }

    static std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds limit) {
        const auto now = std::chrono::steady_clock::now();
        if (limit > std::chrono::steady_clock::time_point::max() - now) {
            return std::chrono::steady_clock::time_point::max();
        }
        return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
    }

    static size_t element_count(const TensorSpec& spec) {
        size_t count = 1;
        for (int64_t dim : spec.dims) count *= static_cast<size_t>(dim < 0 ? 0 : dim);
        return count;
    }
    static size_t input_size(const FrameBuffers& frame, size_t i) {
        return i < frame.input_sizes.size() ? frame.input_sizes[i] : 0;
    }
    static size_t output_size(const FrameBuffers& frame, size_t i) {
        return i < frame.output_sizes.size() ? frame.output_sizes[i] : 0;
    }

    // A string tensor from a STRING buffer (common/string_elements.hpp): ORT keeps its own
    // copy of each string, so unlike other tensors it cannot be a view of the user's bytes.
    Expected<Ort::Value> string_tensor(const TensorSpec& spec, const void* data,
                                       size_t size) const {
        const size_t count = element_count(spec);
        auto elements = common::read_string_elements(data, size, count);
        if (!elements) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "model '" + name_ + "': input '" + spec.name + "' holds " +
                              std::to_string(size) + " bytes, which are not " +
                              std::to_string(count) +
                              " strings laid out as 4-byte little-endian length + bytes");
        }
        Ort::AllocatorWithDefaultOptions allocator;
        Ort::Value value = Ort::Value::CreateTensor(allocator, spec.dims.data(), spec.dims.size(),
                                                    ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);
        for (size_t e = 0; e < count; ++e) {
            const auto& element = (*elements)[e];
            char* target = value.GetResizedStringTensorElementBuffer(e, element.size());
            if (!element.empty()) std::memcpy(target, element.data(), element.size());
        }
        return value;
    }

    // Copies a string output ORT allocated into the user's buffer, in the same layout.
    Status write_strings(const TensorSpec& spec, const Ort::Value& value, void* data,
                         size_t capacity) const {
        const size_t count = value.GetTensorTypeAndShapeInfo().GetElementCount();
        std::vector<std::string> strings(count);
        std::vector<std::string_view> views(count);
        for (size_t e = 0; e < count; ++e) {
            strings[e] = value.GetStringTensorElement(e);
            views[e] = strings[e];
        }
        if (!common::write_string_elements(views, data, capacity)) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "model '" + name_ + "': output '" + spec.name + "' is " +
                              std::to_string(common::string_elements_size(views)) +
                              " bytes of strings this frame, and its buffer has room for " +
                              std::to_string(capacity) + "; bind a larger buffer");
        }
        return Status::ok();
    }

    Ort::Value tensor_over(const TensorSpec& spec, void* data) const {
        // A zero-size tensor has no bytes, but ORT wants an address all the same.
        static uint8_t no_bytes;
        return Ort::Value::CreateTensor(memory_info_, data != nullptr ? data : &no_bytes,
                                        spec.byte_size(), spec.dims.data(), spec.dims.size(),
                                        onnx_type_of(spec.type));
    }

    Ort::Session session_;  // on its own pool (ORT's default count or the explicit one)
    std::string name_;
    std::shared_ptr<CoreArbiter> arbiter_;   // null: the device's slots and threads are fixed
    std::unique_ptr<KeptModelSource> kept_;  // until the one-core session is built
    const int caller_cpu_;
    std::optional<Ort::Session> one_core_;
    std::atomic<bool> one_core_ready_{false};
    std::once_flag one_core_started_;
    std::thread one_core_builder_;
    CoreCountChoice core_count_choice_;  // for frames alone or urgent (automatic sharing only)
    Ort::MemoryInfo memory_info_ = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::vector<DeclaredTensor> inputs_;
    std::vector<DeclaredTensor> outputs_;
    std::vector<const char*> input_names_;
    std::vector<const char*> output_names_;
};

std::string cpu_model_name() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(colon + 2);
        }
    }
    return "";
}

DeviceDescription describe_cpu(const std::string& id, uint32_t threads) {
    struct utsname machine {};
    uname(&machine);
    DeviceDescription description;
    description.id = id;
    description.kind = "cpu";
    std::string model = cpu_model_name();
    description.architecture = std::string(machine.machine) + (model.empty() ? "" : " " + model) +
                               " (ONNX Runtime " + Ort::GetVersionString() + ")";
    description.cores = std::max(1u, std::thread::hardware_concurrency());
    description.threads = threads == 0 ? default_pool_threads() : threads;
    description.status = "available";
    return description;
}

class CpuDevice final : public Device {
public:
    CpuDevice(std::string id, CpuDeviceParams params)
        : id_(std::move(id)), params_(params), slots_(cpu_slots(params)) {
        if (slots_.automatic) {
            arbiter_ = std::make_shared<CoreArbiter>(slots_.shared, may_restore_thread_priority());
        }
    }

    DeviceDescription describe() const override {
        return describe_cpu(id_, params_.intra_op_threads);
    }
    uint32_t execution_slots() const override { return slots_.shared; }
    uint32_t latency_slots() const override { return slots_.latency; }
    // Automatic sharing gives a model alone every core, not a second slot: its jobs then
    // complete in order, as on an NPU (HailoRT's callbacks of one model come in order).
    bool one_burst_per_model() const override { return slots_.automatic; }
    uint64_t frames_preempted() const override { return arbiter_ ? arbiter_->frames_stopped() : 0; }
    uint64_t frames_yielded() const override { return arbiter_ ? arbiter_->frames_yielded() : 0; }

    Expected<std::shared_ptr<LoadedModel>> load_model(const ModelSource& source) override {
        try {
            // Automatic sharing pins a frame on every core (core_pinning.hpp).
            bool pinned = false;
            Ort::Session session =
                create_session(source, params_.intra_op_threads, params_.spin_wait,
                               arbiter_ ? allowed_cpus_ : std::vector<int>{}, &pinned);
            std::unique_ptr<KeptModelSource> kept;
            if (arbiter_) kept = std::make_unique<KeptModelSource>(source);
            return std::shared_ptr<LoadedModel>(
                std::make_shared<CpuLoadedModel>(std::move(session), source.name, arbiter_,
                                                 std::move(kept), pinned ? allowed_cpus_[0] : -1));
        } catch (const Ort::Exception& error) {
            return status_from_ort(error, "loading model '" + source.name + "' on " + id_,
                                   source.onnx);
        }
    }

private:
    std::string id_;
    CpuDeviceParams params_;
    CpuSlots slots_;
    std::shared_ptr<CoreArbiter> arbiter_;  // automatic sharing only
    std::vector<int> allowed_cpus_ = allowed_cpus();
};

}  // namespace

CpuSlots cpu_slots(const CpuDeviceParams& params) {
    CpuSlots slots;
    slots.automatic = params.execution_slots == 0 && params.intra_op_threads == 0;
    slots.shared = params.execution_slots != 0 ? params.execution_slots
                                               : std::max(1u, std::thread::hardware_concurrency());
    slots.latency = slots.automatic && params.latency_slots == 0 ? 1 : params.latency_slots;
    return slots;
}

DeviceKind cpu_device_kind() {
    DeviceKind kind;
    kind.name = "cpu";
    kind.enumerate = [] { return std::vector<DeviceDescription>{describe_cpu("cpu:0", 0)}; };
    kind.create = [](const std::string& id,
                     const VDeviceParams& params) -> Expected<std::shared_ptr<Device>> {
        if (id != "cpu" && id != "cpu:0") {
            return Status(StatusCode::NOT_FOUND,
                          "no device '" + id + "': the cpu kind has one device, 'cpu:0'");
        }
        if (params.cpu.execution_slots > 64) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "cpu.execution_slots is " + std::to_string(params.cpu.execution_slots) +
                              "; it must be 0 (the device picks) .. 64");
        }
        if (params.cpu.latency_slots > 16) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "cpu.latency_slots is " + std::to_string(params.cpu.latency_slots) +
                              "; it must be 0..16 (0 = none reserved)");
        }
        if (params.cpu.intra_op_threads > 1024) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "cpu.intra_op_threads is " + std::to_string(params.cpu.intra_op_threads) +
                              "; it must be 0 (one per core) .. 1024");
        }
        return std::shared_ptr<Device>(std::make_shared<CpuDevice>("cpu:0", params.cpu));
    };
    return kind;
}

}  // namespace corun::devices::cpu
