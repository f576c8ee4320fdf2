// Built instead of the engines' code when corun is configured with -DCORUN_GENAI=OFF (fuzz and
// TSan builds): the API is there, and says why it cannot load a model.
#include "runtime/genai/llm_session.hpp"
#include "runtime/genai/speech2text_session.hpp"

namespace corun::genai::detail {

Expected<std::shared_ptr<LlmSession>> open_llm_session(VDevice&, const std::string& model_path,
                                                       const LLMParams&) {
    return corun::Status(StatusCode::NOT_SUPPORTED,
                         "cannot load '" + model_path +
                             "': this corun was built without its generative engines "
                             "(-DCORUN_GENAI=OFF); rebuild with -DCORUN_GENAI=ON");
}

Expected<std::shared_ptr<Speech2TextSession>> open_speech2text_session(
    VDevice&, const std::string& model_path, const Speech2TextParams&) {
    return corun::Status(StatusCode::NOT_SUPPORTED,
                         "cannot load '" + model_path +
                             "': this corun was built without its generative engines "
                             "(-DCORUN_GENAI=OFF); rebuild with -DCORUN_GENAI=ON");
}

}  // namespace corun::genai::detail
