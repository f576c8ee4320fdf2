#include "npy_file.hpp"

#include <cstring>

namespace corun::tools {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy itself refuses headers above 10,000 bytes unless told otherwise; a little room beyond.
constexpr size_t kMaxHeaderSize = 1 << 16;
// numpy's NPY_MAXDIMS (64 since numpy 2.0, 32 before). More dims than that is no array numpy
// wrote, and npy_bytes, which writes version 1.0 (a 2-byte header length), could not write it
// back: thousands of dims fit a compact header here but not the one npy_bytes writes.
constexpr size_t kMaxDims = 64;

// The value after 'key': in numpy's header dict, as text up to its end ("'<f4'", "False",
// "(1, 3)"). The header is what numpy writes: one dict literal, keys quoted with '.
std::optional<std::string> dict_value(const std::string& header, const std::string& key) {
    const std::string quoted = "'" + key + "'";
    size_t pos = header.find(quoted);
    if (pos == std::string::npos) return std::nullopt;
    pos = header.find(':', pos + quoted.size());
    if (pos == std::string::npos) return std::nullopt;
    ++pos;
    while (pos < header.size() && header[pos] == ' ') ++pos;
    if (pos >= header.size()) return std::nullopt;
    size_t end = pos;
    if (header[pos] == '\'') {
        end = header.find('\'', pos + 1);
        if (end == std::string::npos) return std::nullopt;
        return header.substr(pos + 1, end - pos - 1);
    }
    if (header[pos] == '(') {
        end = header.find(')', pos);
        if (end == std::string::npos) return std::nullopt;
        return header.substr(pos, end - pos + 1);
    }
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
    return header.substr(pos, end - pos);
}

// "(1, 3, 224)" or "(5,)" or "()" into dims.
std::optional<std::vector<int64_t>> parse_shape_tuple(const std::string& text) {
    if (text.size() < 2 || text.front() != '(' || text.back() != ')') return std::nullopt;
    std::vector<int64_t> dims;
    size_t pos = 1;
    while (pos < text.size() - 1) {
        while (pos < text.size() - 1 && (text[pos] == ' ' || text[pos] == ',')) ++pos;
        if (pos >= text.size() - 1) break;
        size_t end = pos;
        int64_t value = 0;
        while (end < text.size() - 1 && text[end] >= '0' && text[end] <= '9') {
            if (value > (int64_t{1} << 40)) return std::nullopt;
            value = value * 10 + (text[end] - '0');
            ++end;
        }
        if (end == pos) return std::nullopt;
        if (end < text.size() - 1 && text[end] == 'L') ++end;  // Python 2's long
        dims.push_back(value);
        pos = end;
    }
    return dims;
}

size_t descr_item_size(const std::string& descr) {
    if (descr.size() < 3) return 0;
    size_t size = 0;
    for (size_t i = 2; i < descr.size(); ++i) {
        if (descr[i] < '0' || descr[i] > '9' || size > 64) return 0;
        size = size * 10 + static_cast<size_t>(descr[i] - '0');
    }
    return size;
}

}  // namespace

std::optional<std::string> npy_descr_for(FormatType type) {
    switch (type) {
        case FormatType::UINT8:
            return "|u1";
        case FormatType::INT8:
            return "|i1";
        case FormatType::BOOL:
            return "|b1";
        case FormatType::UINT16:
        case FormatType::BFLOAT16:
            return "<u2";
        case FormatType::INT16:
            return "<i2";
        case FormatType::FLOAT16:
            return "<f2";
        case FormatType::FLOAT32:
            return "<f4";
        case FormatType::INT32:
            return "<i4";
        case FormatType::UINT32:
            return "<u4";
        case FormatType::FLOAT64:
            return "<f8";
        case FormatType::INT64:
            return "<i8";
        case FormatType::UINT64:
            return "<u8";
        default:
            return std::nullopt;
    }
}

bool looks_like_npy(std::span<const uint8_t> bytes) {
    return bytes.size() >= kMagicSize && std::memcmp(bytes.data(), kMagic, kMagicSize) == 0;
}

Expected<NpyArray> parse_npy(std::span<const uint8_t> bytes, const std::string& what) {
    if (!looks_like_npy(bytes)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what +
                          " is not a .npy file (no \\x93NUMPY magic at its start); write it "
                          "with numpy.save, or give raw tensor bytes in a file not named .npy");
    }
    if (bytes.size() < 10) {
        return Status(StatusCode::INVALID_ARGUMENT, what +
                                                        " is truncated inside its .npy header (" +
                                                        std::to_string(bytes.size()) + " bytes)");
    }
    const uint8_t major = bytes[6];
    size_t header_size = 0;
    size_t offset = 0;
    if (major == 1) {
        header_size = bytes[8] | (bytes[9] << 8);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what + " is truncated inside its .npy header");
        }
        header_size = static_cast<size_t>(bytes[8]) | (static_cast<size_t>(bytes[9]) << 8) |
                      (static_cast<size_t>(bytes[10]) << 16) |
                      (static_cast<size_t>(bytes[11]) << 24);
        offset = 12;
    } else {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " is .npy version " + std::to_string(major) +
                          ".x, which corun does not read (1.0, 2.0 and 3.0); save it with a "
                          "current numpy");
    }
    if (header_size > kMaxHeaderSize || bytes.size() - offset < header_size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has a .npy header of " + std::to_string(header_size) +
                          " bytes, but " +
                          (header_size > kMaxHeaderSize
                               ? "the limit is " + std::to_string(kMaxHeaderSize)
                               : "the file ends after " + std::to_string(bytes.size() - offset)) +
                          "; the file is truncated or not written by numpy");
    }
    const std::string header(reinterpret_cast<const char*>(bytes.data() + offset), header_size);
    const size_t data_offset = offset + header_size;
    const auto descr = dict_value(header, "descr");
    const auto fortran = dict_value(header, "fortran_order");
    const auto shape_text_value = dict_value(header, "shape");
    std::optional<std::vector<int64_t>> shape;
    if (shape_text_value) shape = parse_shape_tuple(*shape_text_value);
    if (!descr || !fortran || !shape) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has a malformed .npy header (" + header.substr(0, 120) +
                          "); it needs 'descr', 'fortran_order' and 'shape' as numpy.save writes");
    }
    if (shape->size() > kMaxDims) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has a shape of " + std::to_string(shape->size()) +
                          " dimensions; numpy writes at most " + std::to_string(kMaxDims) +
                          " and corun reads no more; the file is not written by numpy");
    }
    if (*fortran != "False") {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what +
                          " is in Fortran order; save a C-ordered array "
                          "(numpy.save(path, numpy.ascontiguousarray(array)))");
    }
    const size_t item_size = descr_item_size(*descr);
    if (item_size == 0 || (descr->front() != '<' && descr->front() != '|') ||
        (descr->front() == '|' && item_size != 1) || descr->find('O') != std::string::npos) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has dtype '" + *descr +
                          "', which corun does not read: it takes little-endian numbers "
                          "(e.g. '<f4', '|u1'); convert with array.astype('<f4') or the stream's "
                          "type");
    }
    uint64_t count = 1;
    for (const int64_t dim : *shape) {
        if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) count = UINT64_MAX;
    }
    const uint64_t have = bytes.size() - data_offset;
    uint64_t need = 0;
    const bool overflow = count == UINT64_MAX || __builtin_mul_overflow(count, item_size, &need);
    if (overflow || need != have) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            what + " holds " + std::to_string(have) + " bytes of data, but its header (" + *descr +
                ", shape " + shape_text(*shape) + ") needs " +
                (overflow ? std::string("more than any file holds") : std::to_string(need)) +
                (overflow || have < need ? "; the file is truncated"
                                         : "; the file has extra bytes"));
    }
    NpyArray array;
    array.descr = *descr;
    array.shape = std::move(*shape);
    array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_offset), bytes.end());
    return array;
}

std::vector<uint8_t> npy_bytes(const std::string& descr, const std::vector<int64_t>& shape,
                               std::span<const uint8_t> data) {
    std::string tuple = "(";
    for (size_t i = 0; i < shape.size(); ++i) tuple += (i ? ", " : "") + std::to_string(shape[i]);
    tuple += shape.size() == 1 ? ",)" : ")";
    std::string header =
        "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }";
    // numpy pads the header with spaces and a newline so that the data starts 64-byte aligned.
    const size_t unpadded = kMagicSize + 4 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    std::vector<uint8_t> out(kMagic, kMagic + kMagicSize);
    out.push_back(1);
    out.push_back(0);
    out.push_back(static_cast<uint8_t>(header.size() & 0xff));
    out.push_back(static_cast<uint8_t>(header.size() >> 8));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

}  // namespace corun::tools
