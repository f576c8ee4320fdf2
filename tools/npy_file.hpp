// numpy's .npy format (versions 1.0, 2.0 and 3.0), read and written for `corun run --input` and
// `--output-dir`: the header (magic, version, a Python dict literal with 'descr',
// 'fortran_order' and 'shape') and the raw little-endian data after it.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corun/corun.hpp"

namespace corun::tools {

struct NpyArray {
    std::string descr;  // numpy's dtype string as written: "<f4", "|u1", ...
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;  // C order, the dtype's bytes
};

// numpy's descr for a corun element type: "<f4" for FLOAT32, "|b1" for BOOL, ...; BFLOAT16 is
// "<u2" (its bits: numpy has no bfloat16); std::nullopt for STRING (variable-length).
std::optional<std::string> npy_descr_for(FormatType type);

// True when `bytes` start with numpy's magic ("\x93NUMPY").
bool looks_like_npy(std::span<const uint8_t> bytes);

// Parses a whole .npy file. `what` names it in errors ("--input 'x' file 'a.npy'"). Refuses,
// naming the cause and the fix: not npy, an unknown version, a malformed header, Fortran
// order, big-endian or object dtypes, and data shorter or longer than the shape needs.
Expected<NpyArray> parse_npy(std::span<const uint8_t> bytes, const std::string& what);

// The .npy file (version 1.0) of `data` with dtype `descr` and `shape`.
std::vector<uint8_t> npy_bytes(const std::string& descr, const std::vector<int64_t>& shape,
                               std::span<const uint8_t> data);

}  // namespace corun::tools
