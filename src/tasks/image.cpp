#include "tasks/image.hpp"
#include "tasks/little_endian.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace corun::tasks {
namespace {

using Bytes = std::span<const uint8_t>;

uint32_t be16(Bytes b, size_t at) {
    return (uint32_t{b[at]} << 8) | b[at + 1];
}
uint32_t be32(Bytes b, size_t at) {
    return (be16(b, at) << 16) | be16(b, at + 2);
}
uint32_t le24(Bytes b, size_t at) {
    return le16(b, at) | (uint32_t{b[at + 2]} << 16);
}

bool starts_with(Bytes b, std::string_view magic) {
    return b.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), b.begin(),
                      [](char m, uint8_t v) { return static_cast<uint8_t>(m) == v; });
}

Status damaged(const std::string& format, const std::string& what) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "the " + format + " header is damaged or cut short (" + what + ")");
}

Expected<ImageHeader> header(std::string format, uint64_t width, uint64_t height) {
    if (width == 0 || height == 0 || width > (1u << 30) || height > (1u << 30)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the " + format + " header gives an impossible size " +
                          std::to_string(width) + " x " + std::to_string(height));
    }
    return ImageHeader{std::move(format), static_cast<int>(width), static_cast<int>(height)};
}

Expected<ImageHeader> png_header(Bytes b) {
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4): IHDR is always first.
    if (b.size() < 24 || !std::equal(b.begin() + 12, b.begin() + 16, "IHDR")) {
        return damaged("PNG", "no IHDR chunk after the signature");
    }
    return header("PNG", be32(b, 16), be32(b, 20));
}

Expected<ImageHeader> jpeg_header(Bytes b) {
    // Walk the marker segments up to the first start-of-frame, which holds the size.
    size_t at = 2;
    while (at + 4 <= b.size()) {
        if (b[at] != 0xFF) return damaged("JPEG", "no marker at byte " + std::to_string(at));
        uint8_t marker = b[at + 1];
        if (marker == 0xFF) {  // fill byte
            ++at;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length field
            at += 2;
            continue;
        }
        if (marker == 0xD9 || marker == 0xDA) return damaged("JPEG", "no frame header");
        const size_t length = be16(b, at + 2);
        const bool start_of_frame =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (start_of_frame) {
            if (at + 9 > b.size()) break;
            const uint32_t height = be16(b, at + 5);
            const uint32_t width = be16(b, at + 7);
            if (height == 0) {
                return Status(StatusCode::NOT_SUPPORTED,
                              "the JPEG defines its height after the image data (DNL marker); "
                              "re-encode it");
            }
            return header("JPEG", width, height);
        }
        if (length < 2) return damaged("JPEG", "segment length " + std::to_string(length));
        at += 2 + length;
    }
    return damaged("JPEG", "the data ends before the frame header");
}

Expected<ImageHeader> bmp_header(Bytes b) {
    if (b.size() < 26) return damaged("BMP", "shorter than its headers");
    const uint32_t info_size = le32(b, 14);
    if (info_size == 12) return header("BMP", le16(b, 18), le16(b, 20));  // OS/2 core header
    if (info_size < 40) return damaged("BMP", "info header size " + std::to_string(info_size));
    const auto width = static_cast<int32_t>(le32(b, 18));
    const auto height = static_cast<int32_t>(le32(b, 22));  // negative: rows top-down
    return header("BMP", static_cast<uint64_t>(std::abs(static_cast<int64_t>(width))),
                  static_cast<uint64_t>(std::abs(static_cast<int64_t>(height))));
}

Expected<ImageHeader> webp_header(Bytes b) {
    if (b.size() < 30) return damaged("WebP", "shorter than its first chunk");
    if (std::equal(b.begin() + 12, b.begin() + 16, "VP8X")) {
        return header("WebP", uint64_t{le24(b, 24)} + 1, uint64_t{le24(b, 27)} + 1);
    }
    if (std::equal(b.begin() + 12, b.begin() + 16, "VP8L")) {
        if (b[20] != 0x2F) return damaged("WebP", "lossless signature");
        const uint32_t bits = le32(b, 21);
        return header("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
    }
    if (std::equal(b.begin() + 12, b.begin() + 16, "VP8 ")) {
        if (b[23] != 0x9D || b[24] != 0x01 || b[25] != 0x2A) return damaged("WebP", "start code");
        return header("WebP", le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF);
    }
    return damaged("WebP", "unknown first chunk");
}

Expected<ImageHeader> pnm_header(Bytes b) {
    // "P6 <width> <height> ...", whitespace-separated, with '#' comments to the end of a line;
    // a comment ends at CR as well as LF, as in OpenCV's reader (ending it only at LF would read
    // another size than the decoder does).
    size_t at = 2;
    uint64_t values[2] = {0, 0};
    for (uint64_t& value : values) {
        while (at < b.size() && (std::isspace(b[at]) || b[at] == '#')) {
            if (b[at] == '#') {
                while (at < b.size() && b[at] != '\n' && b[at] != '\r') ++at;
            } else {
                ++at;
            }
        }
        if (at >= b.size() || !std::isdigit(b[at])) return damaged("PNM", "no width and height");
        while (at < b.size() && std::isdigit(b[at]) && value < (1ull << 40)) {
            value = value * 10 + (b[at++] - '0');
        }
    }
    return header("PNM", values[0], values[1]);
}

Expected<ImageHeader> tiff_header(Bytes b) {
    const bool little = b[0] == 'I';
    auto u16 = [&](size_t at) { return little ? le16(b, at) : be16(b, at); };
    auto u32 = [&](size_t at) { return little ? le32(b, at) : be32(b, at); };
    const size_t ifd = u32(4);
    if (ifd + 2 > b.size()) return damaged("TIFF", "first directory outside the file");
    const size_t count = u16(ifd);
    std::optional<uint64_t> width;
    std::optional<uint64_t> height;
    for (size_t i = 0; i < count; ++i) {
        const size_t entry = ifd + 2 + 12 * i;
        if (entry + 12 > b.size()) return damaged("TIFF", "directory cut short");
        const uint32_t tag = u16(entry);
        if (tag != 256 && tag != 257) continue;
        std::optional<uint64_t>& size = tag == 256 ? width : height;
        // libtiff ignores every repeat of a tag and uses its first entry; so do we (reading
        // the last one let a small repeat hide a huge first size from the limit).
        if (size.has_value()) continue;
        const uint32_t type = u16(entry + 2);
        const uint32_t values = u32(entry + 4);
        constexpr uint32_t SHORT = 3;
        constexpr uint32_t LONG = 4;
        if ((type != SHORT && type != LONG) || values != 1) {
            // libtiff also converts other integer types, some stored elsewhere in the file;
            // the standard says SHORT or LONG, so anything else is refused, not guessed at.
            return Status(StatusCode::NOT_SUPPORTED,
                          std::string("the TIFF gives its ") +
                              (tag == 256 ? "ImageWidth" : "ImageLength") + " as " +
                              std::to_string(values) + " value(s) of type " + std::to_string(type) +
                              ", not one SHORT or LONG; re-save the image (e.g. as PNG)");
        }
        size = type == SHORT ? u16(entry + 8) : u32(entry + 8);
    }
    return header("TIFF", width.value_or(0), height.value_or(0));
}

// Bounds the cv::Mat allocations of one thread while a decoder runs. OpenCV's decoders read
// their own header and then allocate the image (and any temporary of the same size) through
// cv::Mat's default allocator; this allocator refuses, on the decoding thread only, any Mat
// above the pixel limit. So the limit applies to the size the decoder itself chose, whatever
// our header parsers read, for every format. Other threads and other times are untouched.
struct DecodeBudget {
    uint64_t max_pixels = 0;  // 0 = no decode in progress on this thread
    int refused_rows = 0;
    int refused_cols = 0;
};
thread_local DecodeBudget decode_budget;

// Thrown out of cv::Mat::create (OpenCV rethrows what its allocator throws) and caught in
// decode_image.
struct DecodeBudgetExceeded : std::exception {
    const char* what() const noexcept override { return "image above the decode pixel limit"; }
};

class PixelLimitedAllocator final : public cv::MatAllocator {
public:
    explicit PixelLimitedAllocator(cv::MatAllocator* next) : next_(next) {}

    cv::UMatData* allocate(int dims, const int* sizes, int type, void* data, size_t* step,
                           cv::AccessFlag flags, cv::UMatUsageFlags usage) const override {
        if (data == nullptr && decode_budget.max_pixels > 0) {
            uint64_t pixels = 1;
            for (int d = 0; d < dims; ++d) {
                const auto size = static_cast<uint64_t>(std::max(sizes[d], 0));
                pixels = size != 0 && pixels > UINT64_MAX / size ? UINT64_MAX : pixels * size;
            }
            if (pixels > decode_budget.max_pixels) {
                decode_budget.refused_rows = dims > 0 ? sizes[0] : 0;
                decode_budget.refused_cols = dims > 1 ? sizes[1] : 1;
                throw DecodeBudgetExceeded();
            }
        }
        return next_->allocate(dims, sizes, type, data, step, flags, usage);
    }
    bool allocate(cv::UMatData* data, cv::AccessFlag flags,
                  cv::UMatUsageFlags usage) const override {
        return next_->allocate(data, flags, usage);
    }
    // Mats record the allocator that made them (next_), so they are freed through it.
    void deallocate(cv::UMatData* data) const override { next_->deallocate(data); }

    cv::MatAllocator* next() const { return next_; }

private:
    cv::MatAllocator* next_;
};

// Puts a PixelLimitedAllocator in front of cv::Mat's default allocator, once, or again in
// front of one an application installed after us.
void install_pixel_limited_allocator() {
    static std::mutex mutex;
    // Never freed, not even by static destructors at exit: OpenCV's worker threads (TBB) may
    // still make Mats through it then (TSan saw the use after a static vector was destroyed).
    static auto* installed = new std::vector<std::unique_ptr<PixelLimitedAllocator>>;
    std::lock_guard lock(mutex);
    cv::MatAllocator* current = cv::Mat::getDefaultAllocator();
    for (const auto& ours : *installed) {
        if (ours.get() == current) return;
    }
    installed->push_back(std::make_unique<PixelLimitedAllocator>(current));
    cv::Mat::setDefaultAllocator(installed->back().get());
}

// Installed while the program loads, before any thread: OpenCV's default-allocator pointer is a
// plain global that every cv::Mat::create reads, so setting it while other threads make Mats
// would race (TSan saw it). Later calls only read it, unless an application replaced it since.
const bool pixel_limited_allocator_installed = (install_pixel_limited_allocator(), true);

Status above_pixel_limit(const std::string& format, uint64_t width, uint64_t height,
                         uint64_t max_pixels, const std::string& source) {
    const uint64_t pixels = width * height;
    return Status(StatusCode::INVALID_ARGUMENT,
                  "the " + format + " image is " + std::to_string(width) + " x " +
                      std::to_string(height) + " (" + std::to_string(pixels / 1000000) + " MP" +
                      source + "), above the limit of " + std::to_string(max_pixels / 1000000) +
                      " MP; scale it down first (the limit bounds memory per image)");
}

}  // namespace

Expected<ImageHeader> read_image_header(std::span<const uint8_t> bytes) {
    if (bytes.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT, "the data is empty (0 bytes), not an image");
    }
    if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return png_header(bytes);
    if (starts_with(bytes, "\xFF\xD8\xFF")) return jpeg_header(bytes);
    if (starts_with(bytes, "BM")) return bmp_header(bytes);
    if (starts_with(bytes, "RIFF") && bytes.size() >= 12 &&
        std::equal(bytes.begin() + 8, bytes.begin() + 12, "WEBP")) {
        return webp_header(bytes);
    }
    if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6' &&
        std::isspace(bytes[2])) {
        return pnm_header(bytes);
    }
    if (bytes.size() >= 8 && (starts_with(bytes, std::string_view("II*\0", 4)) ||
                              starts_with(bytes, std::string_view("MM\0*", 4)))) {
        return tiff_header(bytes);
    }
    std::string start;
    for (size_t i = 0; i < std::min<size_t>(bytes.size(), 4); ++i) {
        static const char digits[] = "0123456789abcdef";
        start +=
            std::string(start.empty() ? "" : " ") + digits[bytes[i] >> 4] + digits[bytes[i] & 15];
    }
    return Status(StatusCode::NOT_SUPPORTED,
                  "the data is not an image in a supported format (PNG, JPEG, BMP, WebP, PNM, "
                  "TIFF); its first bytes are " +
                      start);
}

DecodePixelLimit::DecodePixelLimit(uint64_t max_pixels) : previous_(decode_budget.max_pixels) {
    install_pixel_limited_allocator();
    decode_budget = DecodeBudget{std::max<uint64_t>(max_pixels, 1), 0, 0};
}

DecodePixelLimit::~DecodePixelLimit() {
    decode_budget.max_pixels = previous_;
}

Expected<cv::Mat> decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits) {
    CORUN_TRY(const ImageHeader info, read_image_header(bytes));
    const uint64_t pixels = uint64_t(info.width) * uint64_t(info.height);
    if (pixels > limits.max_pixels) {
        return above_pixel_limit(info.format, static_cast<uint64_t>(info.width),
                                 static_cast<uint64_t>(info.height), limits.max_pixels, "");
    }
    cv::Mat decoded;
    try {
        const DecodePixelLimit limit(limits.max_pixels);
        // imdecode does not modify its input; the Mat header only wraps the caller's bytes.
        const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                              const_cast<uint8_t*>(bytes.data()));
        decoded = cv::imdecode(encoded, cv::IMREAD_COLOR);
    } catch (const DecodeBudgetExceeded&) {
        decoded.release();
    } catch (const cv::Exception& error) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "decoding the " + info.format + " image failed: " + error.what());
    }
    // imdecode swallows what its decoder throws while reading pixels, so the budget, not the
    // exception, says whether the limit stopped it.
    if (decode_budget.refused_rows != 0 || decode_budget.refused_cols != 0) {
        const DecodeBudget refused = decode_budget;
        decode_budget.refused_rows = decode_budget.refused_cols = 0;
        return above_pixel_limit(info.format, static_cast<uint64_t>(refused.refused_cols),
                                 static_cast<uint64_t>(refused.refused_rows), limits.max_pixels,
                                 " as its decoder reads it; the header gave " +
                                     std::to_string(info.width) + " x " +
                                     std::to_string(info.height));
    }
    if (decoded.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the " + info.format + " image (" + std::to_string(info.width) + " x " +
                          std::to_string(info.height) +
                          ") could not be decoded; the file is damaged or uses a variant this "
                          "OpenCV build cannot read");
    }
    return decoded;
}

Expected<cv::Mat> read_image(const std::string& path, const ImageLimits& limits) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
        return Status(StatusCode::NOT_FOUND, "image file '" + path + "' does not exist");
    }
    if (S_ISDIR(info.st_mode)) {
        return Status(StatusCode::INVALID_ARGUMENT, "'" + path + "' is a directory, not an image");
    }
    const auto size = static_cast<uint64_t>(info.st_size);
    if (size > limits.max_file_bytes) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "image file '" + path + "' has " + std::to_string(size) +
                          " bytes, above the limit of " + std::to_string(limits.max_file_bytes));
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot open image file '" + path + "'; check its permissions");
    }
    std::vector<uint8_t> bytes(size);
    if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "reading image file '" + path + "' failed");
    }
    CORUN_TRY(cv::Mat image, decode_image(bytes, limits), "image file '" + path + "'");
    return image;
}

Expected<cv::Mat> resize_image(const cv::Mat& image, int width, int height) {
    if (image.empty()) return Status(StatusCode::INVALID_ARGUMENT, "resize: the image is empty");
    if (width <= 0 || height <= 0) {
        return Status(StatusCode::INVALID_ARGUMENT, "resize: target size " + std::to_string(width) +
                                                        " x " + std::to_string(height) +
                                                        " is not positive");
    }
    if (image.cols == width && image.rows == height) return image.clone();
    const bool shrinking = width < image.cols && height < image.rows;
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(width, height), 0, 0,
               shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    return resized;
}

Expected<Letterbox> letterbox(const cv::Mat& image, int width, int height, bool centre,
                              cv::Scalar pad) {
    if (image.empty()) return Status(StatusCode::INVALID_ARGUMENT, "letterbox: the image is empty");
    if (width <= 0 || height <= 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "letterbox: target size " + std::to_string(width) + " x " +
                          std::to_string(height) + " is not positive");
    }
    Letterbox result;
    result.scale = std::min(static_cast<float>(width) / static_cast<float>(image.cols),
                            static_cast<float>(height) / static_cast<float>(image.rows));
    const int inner_width =
        std::clamp(static_cast<int>(std::lround(image.cols * result.scale)), 1, width);
    const int inner_height =
        std::clamp(static_cast<int>(std::lround(image.rows * result.scale)), 1, height);
    const int left = centre ? (width - inner_width) / 2 : 0;
    const int top = centre ? (height - inner_height) / 2 : 0;
    result.offset_x = static_cast<float>(left);
    result.offset_y = static_cast<float>(top);
    result.image = cv::Mat(height, width, image.type(), pad);
    CORUN_TRY(const cv::Mat inner, resize_image(image, inner_width, inner_height));
    inner.copyTo(result.image(cv::Rect(left, top, inner_width, inner_height)));
    return result;
}

Status image_to_tensor(const cv::Mat& image, TensorLayout layout, const PixelNormalization& norm,
                       std::span<float> out) {
    if (image.empty()) return Status(StatusCode::INVALID_ARGUMENT, "to tensor: the image is empty");
    if (image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "to tensor: the image must be 8-bit with 1 or 3 channels; it has depth " +
                          std::to_string(image.depth()) + " and " +
                          std::to_string(image.channels()) + " channels");
    }
    const size_t channels = static_cast<size_t>(image.channels());
    const size_t height = static_cast<size_t>(image.rows);
    const size_t width = static_cast<size_t>(image.cols);
    if (out.size() != channels * height * width) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "to tensor: the output holds " + std::to_string(out.size()) + " floats; a " +
                          std::to_string(width) + " x " + std::to_string(height) + " x " +
                          std::to_string(channels) + " image needs " +
                          std::to_string(channels * height * width));
    }
    // Source channel feeding model channel c: OpenCV pixels are BGR.
    std::array<size_t, 3> source{0, 1, 2};
    if (channels == 3 && norm.order == ChannelOrder::RGB) source = {2, 1, 0};
    std::array<float, 3> multiply{};
    std::array<float, 3> add{};
    for (size_t c = 0; c < 3; ++c) {
        multiply[c] = norm.scale / norm.std[c];
        add[c] = -norm.mean[c] / norm.std[c];
    }
    const size_t plane = height * width;
    for (size_t y = 0; y < height; ++y) {
        const uint8_t* row = image.ptr<uint8_t>(static_cast<int>(y));
        for (size_t x = 0; x < width; ++x) {
            const uint8_t* pixel = row + x * channels;
            for (size_t c = 0; c < channels; ++c) {
                const float value = pixel[source[c]] * multiply[c] + add[c];
                if (layout == TensorLayout::NCHW) {
                    out[c * plane + y * width + x] = value;
                } else {
                    out[(y * width + x) * channels + c] = value;
                }
            }
        }
    }
    return Status::ok();
}

Expected<std::vector<float>> image_to_tensor(const cv::Mat& image, TensorLayout layout,
                                             const PixelNormalization& norm) {
    std::vector<float> tensor(image.total() * static_cast<size_t>(std::max(image.channels(), 0)));
    CORUN_RETURN_IF_ERROR(image_to_tensor(image, layout, norm, tensor));
    return tensor;
}

}  // namespace corun::tasks
