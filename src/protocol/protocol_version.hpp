// The version of proto/corun_service.proto that this build speaks. A client and a daemon must
// agree exactly; bump it on any incompatible change to the protocol.
#pragma once

#include <cstdint>

namespace corun::service {

// 2: the fast lane's region carries the lane ring (protocol/lane_ring.hpp) after its page.
constexpr uint32_t PROTOCOL_VERSION = 2;

}  // namespace corun::service
