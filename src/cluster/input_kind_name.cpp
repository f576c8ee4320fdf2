// The names of the input kinds (work_item.hpp), in their own file: the cluster's wire format
// (corun_cluster_wire) needs them without the rest of the work items, which need the tasks.
#include "cluster/work_item.hpp"

namespace corun::cluster {

const char* input_kind_name(InputKind kind) {
    switch (kind) {
        case InputKind::IMAGE:
            return "image";
        case InputKind::AUDIO:
            return "audio";
        case InputKind::UNKNOWN:
            break;
    }
    return "unknown";
}

InputKind input_kind_from_name(const std::string& name) {
    if (name == "image") return InputKind::IMAGE;
    if (name == "audio") return InputKind::AUDIO;
    return InputKind::UNKNOWN;
}

}  // namespace corun::cluster
