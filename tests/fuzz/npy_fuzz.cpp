// libFuzzer target for the .npy reader of `corun run --input name=file.npy` (tools/npy_file.hpp).
// Beyond "no crash, no leak, no undefined behaviour" it checks, when a file is accepted: the
// dtype is a little-endian (or one-byte) one, the data is exactly product(shape) x item size,
// and what npy_bytes writes for the same array reads back identical (the writer behind
// `--output-dir`). Errors must carry a message. Seeds: tests/fuzz/npy_corpus (numpy.save output).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "fuzz_fail.hpp"
#include "npy_file.hpp"

namespace {

// The item size a descr names ("<f4" -> 4); 0 when it names none.
uint64_t item_size(const std::string& descr) {
    if (descr.size() < 3) return 0;
    uint64_t size = 0;
    for (size_t i = 2; i < descr.size(); ++i) {
        if (descr[i] < '0' || descr[i] > '9' || size > 1000) return 0;
        size = size * 10 + static_cast<uint64_t>(descr[i] - '0');
    }
    return size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    const auto array = corun::tools::parse_npy(bytes, "fuzz");
    if (!array) {
        if (array.status().message().empty()) fail("an error without a message");
        return 0;
    }
    if (array->descr.empty() || (array->descr.front() != '<' && array->descr.front() != '|')) {
        fail("a dtype that is neither little-endian nor one byte was accepted");
    }
    const uint64_t item = item_size(array->descr);
    if (item == 0) fail("a dtype without an item size was accepted");
    uint64_t count = 1;
    bool overflow = false;
    for (const int64_t dim : array->shape) {
        if (dim < 0) fail("a negative dimension was accepted");
        overflow = overflow || __builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count);
    }
    // A zero dimension makes the product 0 whatever came before it.
    if (count == 0) overflow = false;
    uint64_t need = 0;
    if (overflow || __builtin_mul_overflow(count, item, &need) || need != array->data.size()) {
        fail("data that is not product(shape) x item size");
    }
    const auto written = corun::tools::npy_bytes(array->descr, array->shape, array->data);
    const auto again = corun::tools::parse_npy(written, "fuzz (written back)");
    if (!again) fail("what npy_bytes wrote does not read back");
    if (again->descr != array->descr || again->shape != array->shape ||
        again->data != array->data) {
        fail("what npy_bytes wrote reads back different");
    }
    return 0;
}
