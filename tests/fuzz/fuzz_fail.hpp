// A fuzz target's own check failed (beyond what the sanitizers catch): says which target and
// what, then aborts, so that libFuzzer keeps the input that did it.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>

[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
    std::abort();
}
