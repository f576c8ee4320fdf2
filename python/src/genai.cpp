// corun.genai: LLM and Speech2Text with hailo_platform.genai's names. LLM(vdevice, path),
// generate(prompt=..., max_generated_tokens=...) as a context manager to iterate or read(),
// generate_all, tokenize, clear_context, release; Speech2Text(vdevice, path)
// .generate_all_text(audio) and .generate_all_segments(audio). Every call that computes releases
// the GIL.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding_support.hpp"
#include "corun/configured_infer_model.hpp"
#include "corun/genai/llm.hpp"
#include "corun/genai/speech2text.hpp"
#include "corun/vdevice.hpp"

namespace corun::python {
namespace {

using genai::LLM;
using genai::LLMGeneratorCompletion;
using genai::Speech2Text;

// One generation. Iterating yields the text piece by piece until the generation ends; leaving
// its `with` block aborts it if it still runs.
class PyCompletion {
public:
    explicit PyCompletion(LLMGeneratorCompletion completion)
        : completion_(std::make_shared<LLMGeneratorCompletion>(std::move(completion))) {}
    ~PyCompletion() { reset_without_gil(completion_); }

    std::string read(int64_t timeout_ms) {
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        return without_gil([&] { return completion_->read(timeout); });
    }

    // The next piece, or StopIteration once the generation has ended and everything was read.
    std::string next() {
        Expected<std::string> piece = [&] {
            py::gil_scoped_release released;
            return completion_->read(INFINITE_TIMEOUT);
        }();
        if (!piece.has_value() && piece.status().code() == StatusCode::INVALID_OPERATION &&
            completion_->generation_status() != LLMGeneratorCompletion::Status::GENERATING) {
            throw py::stop_iteration();
        }
        return take(std::move(piece));
    }

    std::string read_all(int64_t timeout_ms) {
        const auto timeout = timeout_from(timeout_ms, "the timeout");
        return without_gil([&] { return completion_->read_all(timeout); });
    }

    std::string status_name() const {
        return generation_status_name(completion_->generation_status());
    }

    void abort() {
        without_gil([&] { return completion_->abort(); });
    }

    void end() {
        if (completion_->generation_status() == LLMGeneratorCompletion::Status::GENERATING) abort();
    }

    LLMGeneratorCompletion& completion() { return *completion_; }

private:
    std::shared_ptr<LLMGeneratorCompletion> completion_;
};

// A prompt as hailo_platform.genai takes it: a string, or chat messages, each a dict with
// "role" and "content" (a string, or a list of {"type": "text", "text": ...} parts).
std::vector<genai::ChatMessage> chat_messages(const py::list& messages) {
    std::vector<genai::ChatMessage> chat;
    for (const auto& item : messages) {
        if (!py::isinstance<py::dict>(item)) {
            raise_status(Status(StatusCode::INVALID_ARGUMENT,
                                "a prompt list holds messages: dicts with 'role' and 'content'"));
        }
        const py::dict message = py::reinterpret_borrow<py::dict>(item);
        if (!message.contains("role") || !message.contains("content")) {
            raise_status(
                Status(StatusCode::INVALID_ARGUMENT, "a message needs 'role' and 'content' keys"));
        }
        genai::ChatMessage entry{py::str(message["role"]), ""};
        const py::object content = message["content"];
        if (py::isinstance<py::str>(content)) {
            entry.content = content.cast<std::string>();
        } else {
            for (const auto& part : content) {
                const py::dict piece = py::reinterpret_borrow<py::dict>(part);
                if (piece.contains("text")) entry.content += py::str(piece["text"]);
            }
        }
        chat.push_back(std::move(entry));
    }
    return chat;
}

class PyLLM {
public:
    PyLLM(const py::object& vdevice, const std::string& model_path, const std::string& lora_name,
          uint32_t context_size)
        : llm_(create(vdevice, model_path, lora_name, context_size), "LLM") {}

    static std::shared_ptr<LLM> create(const py::object& vdevice, const std::string& model_path,
                                       const std::string& lora_name, uint32_t context_size) {
        if (!lora_name.empty()) {
            raise_status(Status(StatusCode::NOT_SUPPORTED, "corun's LLM takes no LoRA adapter ('" +
                                                               lora_name +
                                                               "'); merge it into the GGUF file"));
        }
        std::shared_ptr<VDevice> device = vdevice_of(vdevice);
        genai::LLMParams params;
        params.context_size = context_size;
        return without_gil([&] { return LLM::create(*device, model_path, params); });
    }

    LLM& get() { return *llm_.get(); }
    void release() { llm_.release(); }

    PyCompletion generate(const py::object& prompt, const genai::LLMGeneratorParams& params) {
        LLM& llm = get();
        if (py::isinstance<py::str>(prompt)) {
            const std::string text = prompt.cast<std::string>();
            return PyCompletion(without_gil([&] { return llm.generate(params, text); }));
        }
        if (py::isinstance<py::list>(prompt)) {
            const auto messages = chat_messages(prompt.cast<py::list>());
            return PyCompletion(without_gil([&] { return llm.generate(params, messages); }));
        }
        raise_status(Status(StatusCode::INVALID_ARGUMENT,
                            "prompt must be a string or a list of chat messages"));
    }

private:
    Releasable<LLM> llm_;
};

genai::LLMGeneratorParams generator_params(
    std::optional<float> temperature, std::optional<float> top_p, std::optional<uint32_t> top_k,
    std::optional<uint32_t> seed, std::optional<uint32_t> max_generated_tokens,
    std::optional<std::vector<std::string>> stop, std::optional<bool> do_sample) {
    genai::LLMGeneratorParams params;
    if (temperature) params.temperature = *temperature;
    if (top_p) params.top_p = *top_p;
    if (top_k) params.top_k = *top_k;
    if (seed) params.seed = *seed;
    if (max_generated_tokens) params.max_generated_tokens = *max_generated_tokens;
    if (stop) params.stop_sequences = *stop;
    // hailo_platform: do_sample=False is greedy decoding, whatever the temperature.
    if (do_sample && !*do_sample) params.temperature = 0.0f;
    return params;
}

class PySpeech2Text {
public:
    PySpeech2Text(const py::object& vdevice, const std::string& model_path,
                  const std::string& language, genai::Speech2TextTask task)
        : model_(create(vdevice, model_path, language, task), "Speech2Text") {}

    static std::shared_ptr<Speech2Text> create(const py::object& vdevice,
                                               const std::string& model_path,
                                               const std::string& language,
                                               genai::Speech2TextTask task) {
        std::shared_ptr<VDevice> device = vdevice_of(vdevice);
        genai::Speech2TextParams params;
        params.language = language;
        params.task = task;
        return without_gil([&] { return Speech2Text::create(*device, model_path, params); });
    }

    Speech2Text& get() { return *model_.get(); }
    void release() { model_.release(); }

    std::vector<genai::Speech2TextSegment> segments(
        const py::array_t<float, py::array::c_style | py::array::forcecast>& audio,
        std::optional<genai::Speech2TextTask> task, std::optional<std::string> language) {
        Speech2Text& model = get();
        genai::Speech2TextGeneratorParams params;
        params.task = task;
        params.language = language;
        const std::span<const float> samples(audio.data(), static_cast<size_t>(audio.size()));
        return without_gil([&] { return model.generate_all_segments(samples, params); });
    }

private:
    Releasable<Speech2Text> model_;
};

}  // namespace

void bind_genai(py::module_& parent) {
    py::module_ module =
        parent.def_submodule("genai", "LLM and Speech2Text (hailo_platform.genai)");

    py::class_<PyCompletion> completion(
        module, "LLMGeneratorCompletion",
        "A running generation: iterate it, or read() piece by piece; its `with` block's end "
        "aborts it if it still runs.");
    with_block(completion, [](PyCompletion& self) { self.end(); })
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", &PyCompletion::next)
        .def("read", &PyCompletion::read, py::arg("timeout_ms") = 10000,
             "The next piece of text; raises once the generation has ended.")
        .def("read_all", &PyCompletion::read_all, py::arg("timeout_ms") = 60000,
             "corun: everything not yet read, once the generation ended.")
        .def("generation_status", &PyCompletion::status_name,
             "'GENERATING', 'MAX_TOKENS_REACHED', 'LOGICAL_END_OF_GENERATION' or 'ABORTED'")
        .def("abort", &PyCompletion::abort)
        .def_property_readonly("generated_tokens", [](PyCompletion& self) {
            return self.completion().timings().generated_tokens;
        });

    py::class_<PyLLM> llm(module, "LLM", "A GGUF language model on a VDevice's scheduler.");
    with_block(llm, [](PyLLM& self) { self.release(); })
        .def(py::init<const py::object&, const std::string&, const std::string&, uint32_t>(),
             py::arg("vdevice"), py::arg("model_path"), py::arg("lora_name") = "", py::kw_only(),
             py::arg("context_size") = 0)
        .def(
            "generate",
            [](PyLLM& self, const py::object& prompt, std::optional<float> temperature,
               std::optional<float> top_p, std::optional<uint32_t> top_k,
               std::optional<uint32_t> seed, std::optional<uint32_t> max_generated_tokens,
               std::optional<std::vector<std::string>> stop, std::optional<bool> do_sample) {
                return self.generate(
                    prompt, generator_params(temperature, top_p, top_k, seed, max_generated_tokens,
                                             stop, do_sample));
            },
            py::arg("prompt"), py::kw_only(), py::arg("temperature") = py::none(),
            py::arg("top_p") = py::none(), py::arg("top_k") = py::none(),
            py::arg("seed") = py::none(), py::arg("max_generated_tokens") = py::none(),
            py::arg("stop_sequences") = py::none(), py::arg("do_sample") = py::none())
        .def(
            "generate_all",
            [](PyLLM& self, const py::object& prompt, std::optional<float> temperature,
               std::optional<float> top_p, std::optional<uint32_t> top_k,
               std::optional<uint32_t> seed, std::optional<uint32_t> max_generated_tokens,
               std::optional<std::vector<std::string>> stop, std::optional<bool> do_sample,
               int64_t timeout_ms) {
                PyCompletion completion =
                    self.generate(prompt, generator_params(temperature, top_p, top_k, seed,
                                                           max_generated_tokens, stop, do_sample));
                return completion.read_all(timeout_ms);
            },
            py::arg("prompt"), py::kw_only(), py::arg("temperature") = py::none(),
            py::arg("top_p") = py::none(), py::arg("top_k") = py::none(),
            py::arg("seed") = py::none(), py::arg("max_generated_tokens") = py::none(),
            py::arg("stop_sequences") = py::none(), py::arg("do_sample") = py::none(),
            py::arg("timeout_ms") = 600000, "The whole generated text.")
        .def(
            "tokenize",
            [](PyLLM& self, const std::string& text) { return take(self.get().tokenize(text)); },
            py::arg("prompt"))
        .def("clear_context", [](PyLLM& self) { check(self.get().clear_context()); })
        .def("get_context_usage_size",
             [](PyLLM& self) { return self.get().get_context_usage_size(); })
        .def("max_context_capacity", [](PyLLM& self) { return self.get().max_context_capacity(); })
        .def(
            "set_scheduler_priority",
            [](PyLLM& self, uint8_t priority) {
                check(self.get().set_scheduler_priority(priority));
            },
            py::arg("priority"))
        .def_property_readonly("scheduler_model_id",
                               [](PyLLM& self) { return self.get().scheduler_model_id(); })
        .def("release", &PyLLM::release);

    py::enum_<genai::Speech2TextTask>(module, "Speech2TextTask")
        .value("TRANSCRIBE", genai::Speech2TextTask::TRANSCRIBE)
        .value("TRANSLATE", genai::Speech2TextTask::TRANSLATE);

    py::class_<genai::Speech2TextSegment>(module, "Speech2TextSegment")
        .def_readonly("start_sec", &genai::Speech2TextSegment::start_sec)
        .def_readonly("end_sec", &genai::Speech2TextSegment::end_sec)
        .def_readonly("text", &genai::Speech2TextSegment::text)
        .def("__repr__", [](const genai::Speech2TextSegment& segment) {
            return "Speech2TextSegment(" + std::to_string(segment.start_sec) + ", " +
                   std::to_string(segment.end_sec) + ", '" + segment.text + "')";
        });

    py::class_<PySpeech2Text> speech2text(module, "Speech2Text",
                                          "A whisper.cpp model on a VDevice.");
    with_block(speech2text, [](PySpeech2Text& self) { self.release(); })
        .def(py::init<const py::object&, const std::string&, const std::string&,
                      genai::Speech2TextTask>(),
             py::arg("vdevice"), py::arg("model_path"), py::kw_only(), py::arg("language") = "",
             py::arg("task") = genai::Speech2TextTask::TRANSCRIBE)
        .def("generate_all_segments", &PySpeech2Text::segments, py::arg("audio_data"),
             py::kw_only(), py::arg("task") = py::none(), py::arg("language") = py::none(),
             "Segments of 16 kHz mono float audio in [-1, 1].")
        .def(
            "generate_all_text",
            [](PySpeech2Text& self,
               const py::array_t<float, py::array::c_style | py::array::forcecast>& audio,
               std::optional<genai::Speech2TextTask> task, std::optional<std::string> language) {
                std::string text;
                for (const auto& segment : self.segments(audio, task, language)) {
                    text += segment.text;
                }
                return text;
            },
            py::arg("audio_data"), py::kw_only(), py::arg("task") = py::none(),
            py::arg("language") = py::none(), "The segments' texts, concatenated.")
        .def("release", &PySpeech2Text::release);
}

}  // namespace corun::python
