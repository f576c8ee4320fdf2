// Which session a Speech2Text gets: the group's own backend decides (in this process, or corund).
#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/local_speech2text_session.hpp"
#include "runtime/genai/speech2text_session.hpp"
#include "runtime/local_backend.hpp"

namespace corun::genai::detail {

Expected<std::shared_ptr<Speech2TextSession>> open_speech2text_session(
    VDevice& vdevice, const std::string& model_path, const Speech2TextParams& params) {
    const auto& group = runtime::ApiAccess::group_of(vdevice);
    auto* local = dynamic_cast<runtime::LocalBackend*>(&group->backend());
    if (local == nullptr) {
        if (RemoteSpeech2TextOpener remote = remote_speech2text_opener())
            return remote(vdevice, model_path, params);
        return corun::Status(StatusCode::NOT_SUPPORTED,
                             "Speech2Text through corund (multi_process_service) needs corun's "
                             "remote backend with generative models (corun_runtime links it); or "
                             "use a VDevice without multi_process_service");
    }
    return open_local_speech2text_session(group, *local, model_path, params);
}

}  // namespace corun::genai::detail
