// A scheduler request that holds its device slot until the test releases it: the scheduler's
// tests make orders exact by holding the slot while the others queue up.
#pragma once

#include <cstdint>

#include "scheduler/infer_request.hpp"
#include "test_support.hpp"

namespace corun::scheduler {

class Blocker {
public:
    InferRequest request(uint64_t model_id) {
        InferRequest request;
        request.model_id = model_id;
        request.run = [this](size_t) {
            entered_.open();
            released_.wait();
            return int64_t{0};
        };
        request.cancel = [](Status) {};
        return request;
    }
    // Whether the request started running (so the slot is taken).
    bool wait_until_entered() { return entered_.wait(); }
    void release() { released_.open(); }

private:
    test::Gate entered_;
    test::Gate released_;
};

}  // namespace corun::scheduler
