// What an asynchronous job (ConfiguredInferModel.run_async, RoutedModel.run_async) needs from
// Python until it completes, and the count of such jobs that atexit waits for.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "binding_support.hpp"

namespace corun::python {

// Jobs whose callback has not run yet, counted so that atexit can wait for them: a job of a
// model Python dropped still completes on a corun thread, and a callback that takes the GIL
// while Python finalizes never returns.
class JobsInFlight {
public:
    void started() {
        std::lock_guard lock(mutex_);
        ++count_;
    }
    void finished() {
        std::lock_guard lock(mutex_);
        if (--count_ == 0) none_.notify_all();
    }
    void wait_until_none(std::chrono::seconds limit) {
        std::unique_lock lock(mutex_);
        none_.wait_for(lock, limit, [&] { return count_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable none_;
    int64_t count_ = 0;
};

inline JobsInFlight& jobs_in_flight() {
    static auto* jobs = new JobsInFlight;  // never destroyed: corun threads may outlive main()
    return *jobs;
}

// What a job needs from Python until it completes: the arrays it reads and writes, and the
// user's callback. Released under the GIL, on whichever thread finishes with them.
class JobContext {
public:
    JobContext(std::vector<py::object> arrays, py::object callback)
        : arrays_(std::move(arrays)), callback_(std::move(callback)) {
        jobs_in_flight().started();
    }
    ~JobContext() {
        release();
        if (!finished_) jobs_in_flight().finished();
    }

    // On a corun thread: the callback with completion_info=make_info() (called under the GIL),
    // then the arrays go. An exception in the callback is reported (sys.unraisablehook), never
    // raised into corun.
    template <typename MakeInfo>
    void complete(const MakeInfo& make_info) {
        finished_ = true;
        struct Finish {
            ~Finish() { jobs_in_flight().finished(); }
        } finish;  // after the callback returned, whichever way
        if (!python_is_running()) return abandon();
        py::gil_scoped_acquire gil;
        if (!callback_.is_none()) {
            try {
                callback_(py::arg("completion_info") = make_info());
            } catch (py::error_already_set& error) {
                error.discard_as_unraisable("the run_async callback");
            } catch (const std::exception& error) {
                PyErr_SetString(PyExc_RuntimeError, error.what());
                PyErr_WriteUnraisable(callback_.ptr());
            }
        }
        arrays_.clear();
        callback_ = py::none();
    }

private:
    void release() {
        if (arrays_.empty() && callback_.is_none()) return;
        if (!python_is_running()) return abandon();
        py::gil_scoped_acquire gil;
        arrays_.clear();
        callback_ = py::none();
    }
    // Python is gone or going: drop the references without touching the interpreter.
    void abandon() {
        for (auto& array : arrays_) array.release();
        arrays_.clear();
        callback_.release();
    }

    std::vector<py::object> arrays_;
    py::object callback_;
    bool finished_ = false;  // counted out of jobs_in_flight()
};

}  // namespace corun::python
