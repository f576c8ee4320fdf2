// What one runtime (corun or bare ONNX Runtime) did with one node test.
#pragma once

#include <string>

namespace corun::conformance {

struct SideResult {
    bool passed = false;
    // Where it stopped when it failed: "load", "shape" (set_shape / output sizes), "configure",
    // "bind", "run" or "compare". The driver groups failures by it.
    std::string stage;
    std::string code;     // corun's StatusCode name, or ONNX Runtime's OrtErrorCode; "" if none
    std::string message;  // the runtime's own message, or the comparison's
    std::string note;     // how it passed, when that needs saying ("output shapes declared")

    static SideResult pass(std::string note = "") {
        SideResult result;
        result.passed = true;
        result.note = std::move(note);
        return result;
    }
    static SideResult fail(std::string stage, std::string code, std::string message) {
        SideResult result;
        result.stage = std::move(stage);
        result.code = std::move(code);
        result.message = std::move(message);
        return result;
    }
};

}  // namespace corun::conformance
