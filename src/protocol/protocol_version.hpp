// The version of proto/corun_service.proto that this build speaks. A client and a daemon must
// agree exactly; bump it on any incompatible change to the protocol.
#pragma once

#include <cstdint>

namespace corun::service {

constexpr uint32_t PROTOCOL_VERSION = 1;

}  // namespace corun::service
