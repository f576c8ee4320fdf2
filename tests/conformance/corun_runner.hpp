// The node test run through corun's public API, as an application would: create_infer_model,
// set_shape on dynamic inputs (from the test's inputs), configure, create_bindings, set_buffer
// in the model's native types (FormatType::AUTO), run, and the outputs compared.
#pragma once

#include "corun/corun.hpp"
#include "node_test_case.hpp"
#include "side_result.hpp"

namespace corun::conformance {

SideResult run_on_corun(VDevice& vdevice, const NodeTestCase& test);

}  // namespace corun::conformance
