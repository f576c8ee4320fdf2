// Which session an LLM gets: the group's own backend decides (in this process, or corund).
#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/llm_session.hpp"
#include "runtime/genai/local_llm_session.hpp"
#include "runtime/local_backend.hpp"

namespace corun::genai::detail {

Expected<std::shared_ptr<LlmSession>> open_llm_session(VDevice& vdevice,
                                                       const std::string& model_path,
                                                       const LLMParams& params) {
    const auto& group = runtime::ApiAccess::group_of(vdevice);
    auto* local = dynamic_cast<runtime::LocalBackend*>(&group->backend());
    if (local == nullptr) {
        if (RemoteLlmOpener remote = remote_llm_opener())
            return remote(vdevice, model_path, params);
        return corun::Status(StatusCode::NOT_SUPPORTED,
                             "LLMs through corund (multi_process_service) need corun's remote "
                             "backend with LLMs (corun_runtime links it); or use a VDevice "
                             "without multi_process_service");
    }
    return open_local_llm_session(group, *local, model_path, params);
}

}  // namespace corun::genai::detail
