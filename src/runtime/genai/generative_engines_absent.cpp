// Built instead of the engines' code when corun is configured with -DCORUN_GENAI=OFF (fuzz and
// TSan builds): the API is there, and says why it cannot load a model in this process. Through
// corund (whose engines run the model) an LLM needs no engine here.
#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/llm_session.hpp"
#include "runtime/genai/speech2text_session.hpp"
#include "runtime/local_backend.hpp"

namespace corun::genai::detail {

Expected<std::shared_ptr<LlmSession>> open_llm_session(VDevice& vdevice,
                                                       const std::string& model_path,
                                                       const LLMParams& params) {
    const auto& group = runtime::ApiAccess::group_of(vdevice);
    const bool local = dynamic_cast<runtime::LocalBackend*>(&group->backend()) != nullptr;
    if (!local) {
        if (RemoteLlmOpener remote = remote_llm_opener())
            return remote(vdevice, model_path, params);
    }
    return corun::Status(StatusCode::NOT_SUPPORTED,
                         "cannot load '" + model_path +
                             "': this corun was built without its generative engines "
                             "(-DCORUN_GENAI=OFF); rebuild with -DCORUN_GENAI=ON");
}

Expected<std::shared_ptr<Speech2TextSession>> open_speech2text_session(
    VDevice& vdevice, const std::string& model_path, const Speech2TextParams& params) {
    const auto& group = runtime::ApiAccess::group_of(vdevice);
    const bool local = dynamic_cast<runtime::LocalBackend*>(&group->backend()) != nullptr;
    if (!local) {
        if (RemoteSpeech2TextOpener remote = remote_speech2text_opener())
            return remote(vdevice, model_path, params);
    }
    return corun::Status(StatusCode::NOT_SUPPORTED,
                         "cannot load '" + model_path +
                             "': this corun was built without its generative engines "
                             "(-DCORUN_GENAI=OFF); rebuild with -DCORUN_GENAI=ON");
}

}  // namespace corun::genai::detail
