// Where one call of a task spent its time, for callers that account for it (corun batch
// records it per input). Each call adds to the fields, so one StageTiming can sum several
// calls (a face detection and the embeddings of all its faces).
#pragma once

#include <chrono>

namespace corun::tasks {

struct StageTiming {
    double pre_ms = 0.0;    // resize, letterbox, tensor fill (and waiting for the model's buffers)
    double infer_ms = 0.0;  // the model runs
    double post_ms = 0.0;   // decoding outputs, NMS, mapping back to image pixels
};

// Milliseconds since `start`, and restarts it: consecutive calls time consecutive stages.
inline double lap_ms(std::chrono::steady_clock::time_point& start) {
    const auto now = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - start).count();
    start = now;
    return ms;
}

}  // namespace corun::tasks
