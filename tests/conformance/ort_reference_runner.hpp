// The reference: the node test run on a bare ONNX Runtime session through its C++ API, in the
// worker's process, as a user of ONNX Runtime alone would run it.
#pragma once

#include "node_test_case.hpp"
#include "side_result.hpp"

namespace corun::conformance {

SideResult run_on_onnx_runtime(const NodeTestCase& test);

}  // namespace corun::conformance
