// Images (issue 3): header reading without decoding, safe decoding of files and bytes (not an
// image, empty, 1x1, a header claiming 100000 x 100000 pixels), resizing, letterboxing and
// tensor conversion. Issue 9: headers that say one size to us and another to the decoder (TIFF
// repeated size tags, PNM comments ending in CR) and the per-thread pixel limit on cv::Mat
// allocations that bounds what the decoder itself allocates. The real-image checks skip when
// scripts/fetch_models.sh has not run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "tasks/image.hpp"
#include "test_support.hpp"

namespace corun::tasks {
namespace {

using corun::test::contains;

std::string darknet_image(const std::string& name) {
    return std::string(CORUN_CACHE_DIR) + "/data/darknet/" + name;
}

bool exists(const std::string& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error);
}

std::vector<uint8_t> encode(const cv::Mat& image, const std::string& extension) {
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(cv::imencode(extension, image, bytes)) << extension;
    return bytes;
}

std::string temp_file(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = (corun::test::scratch_directory() / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
}

void put_be32(std::vector<uint8_t>& bytes, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8)
        bytes.push_back(static_cast<uint8_t>(value >> shift));
}

// A PNG signature and IHDR chunk claiming width x height RGB pixels, and no pixel data.
std::vector<uint8_t> png_header_only(uint32_t width, uint32_t height) {
    std::vector<uint8_t> bytes = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    put_be32(bytes, 13);
    for (char c : std::string("IHDR")) bytes.push_back(static_cast<uint8_t>(c));
    put_be32(bytes, width);
    put_be32(bytes, height);
    for (uint8_t b : {8, 2, 0, 0, 0}) bytes.push_back(b);  // 8-bit RGB, no interlace
    put_be32(bytes, 0);  // CRC (not checked before the size limit)
    return bytes;
}

// Little-endian TIFF entries: tag, type (3 SHORT, 4 LONG, 16 LONG8), value (inline).
struct TiffEntry {
    uint16_t tag;
    uint16_t type;
    uint32_t value;
};

// An 8-bit gray, uncompressed TIFF of `pixels` bytes in one strip, with `size_entries` (width
// and length tags, in the order given) merged into its directory in tag order.
std::vector<uint8_t> gray_tiff(const std::vector<TiffEntry>& size_entries,
                               const std::vector<uint8_t>& pixels) {
    std::vector<TiffEntry> entries = size_entries;
    const size_t count = size_entries.size() + 7;
    const auto data_offset = static_cast<uint32_t>(8 + 2 + 12 * count + 4);
    for (const TiffEntry& entry : std::vector<TiffEntry>{
             {258, 3, 8},                                        // BitsPerSample
             {259, 3, 1},                                        // Compression: none
             {262, 3, 1},                                        // Photometric: black is zero
             {273, 4, data_offset},                              // StripOffsets
             {277, 3, 1},                                        // SamplesPerPixel
             {278, 4, 1u << 30},                                 // RowsPerStrip: all rows
             {279, 4, static_cast<uint32_t>(pixels.size())}}) {  // StripByteCounts
        entries.push_back(entry);
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const TiffEntry& a, const TiffEntry& b) { return a.tag < b.tag; });
    std::vector<uint8_t> bytes = {'I', 'I', 42, 0, 8, 0, 0, 0};
    auto put = [&](uint32_t value, int size) {
        for (int i = 0; i < size; ++i) bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
    };
    put(static_cast<uint32_t>(entries.size()), 2);
    for (const TiffEntry& entry : entries) {
        put(entry.tag, 2);
        put(entry.type, 2);
        put(1, 4);  // one value
        put(entry.value, entry.type == 3 ? 2 : 4);
        if (entry.type == 3) put(0, 2);
    }
    put(0, 4);  // no next directory
    bytes.insert(bytes.end(), pixels.begin(), pixels.end());
    return bytes;
}

// ---- headers ----

TEST(ImageHeaderTest, ReadsSizesOfEncodedImagesWithoutDecoding) {
    const cv::Mat image(37, 53, CV_8UC3, cv::Scalar(10, 20, 30));
    for (const auto& [extension, format] :
         std::vector<std::pair<std::string, std::string>>{{".png", "PNG"},
                                                          {".jpg", "JPEG"},
                                                          {".bmp", "BMP"},
                                                          {".ppm", "PNM"},
                                                          {".tiff", "TIFF"},
                                                          {".webp", "WebP"}}) {
        if (!cv::haveImageWriter(extension)) continue;
        ASSERT_OK_AND_ASSIGN(const ImageHeader header, read_image_header(encode(image, extension)));
        EXPECT_EQ(header.format, format) << extension;
        EXPECT_EQ(header.width, 53) << extension;
        EXPECT_EQ(header.height, 37) << extension;
    }
}

TEST(ImageHeaderTest, HugePngHeaderIsReadAsIs) {
    ASSERT_OK_AND_ASSIGN(const ImageHeader header,
                         read_image_header(png_header_only(100000, 100000)));
    EXPECT_EQ(header.width, 100000);
    EXPECT_EQ(header.height, 100000);
}

TEST(ImageHeaderTest, RejectsTextEmptyAndCutData) {
    const std::string html = "<html><body>not an image</body></html>";
    auto text = read_image_header(std::vector<uint8_t>(html.begin(), html.end()));
    EXPECT_STATUS(text, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(text.status().message(), "not an image")) << text.status();
    EXPECT_TRUE(contains(text.status().message(), "3c 68 74 6d")) << text.status();

    EXPECT_STATUS(read_image_header({}), StatusCode::INVALID_ARGUMENT);

    std::vector<uint8_t> cut = png_header_only(10, 10);
    cut.resize(14);
    EXPECT_STATUS(read_image_header(cut), StatusCode::INVALID_ARGUMENT);
    const std::vector<uint8_t> jpeg_start = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10};
    EXPECT_STATUS(read_image_header(jpeg_start), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(read_image_header(png_header_only(0, 5)), StatusCode::INVALID_ARGUMENT);
}

// ---- decoding ----

TEST(DecodeImageTest, DecodesToBgrWithTheOriginalColours) {
    cv::Mat image(4, 6, CV_8UC3, cv::Scalar(255, 0, 0));  // pure blue in BGR
    ASSERT_OK_AND_ASSIGN(const cv::Mat decoded, decode_image(encode(image, ".png")));
    EXPECT_EQ(decoded.type(), CV_8UC3);
    EXPECT_EQ(decoded.cols, 6);
    EXPECT_EQ(decoded.rows, 4);
    EXPECT_EQ(decoded.at<cv::Vec3b>(2, 3), cv::Vec3b(255, 0, 0));
}

TEST(DecodeImageTest, GrayAndAlphaImagesBecomeThreeChannels) {
    const cv::Mat gray(5, 5, CV_8UC1, cv::Scalar(77));
    ASSERT_OK_AND_ASSIGN(const cv::Mat from_gray, decode_image(encode(gray, ".png")));
    EXPECT_EQ(from_gray.type(), CV_8UC3);
    EXPECT_EQ(from_gray.at<cv::Vec3b>(0, 0), cv::Vec3b(77, 77, 77));
    const cv::Mat alpha(5, 5, CV_8UC4, cv::Scalar(1, 2, 3, 4));
    ASSERT_OK_AND_ASSIGN(const cv::Mat from_alpha, decode_image(encode(alpha, ".png")));
    EXPECT_EQ(from_alpha.type(), CV_8UC3);
}

TEST(DecodeImageTest, OneByOneImageGivesOnePixel) {
    const cv::Mat pixel(1, 1, CV_8UC3, cv::Scalar(9, 99, 199));
    const std::string path = temp_file("one.png", encode(pixel, ".png"));
    ASSERT_OK_AND_ASSIGN(const cv::Mat decoded, read_image(path));
    EXPECT_EQ(decoded.size(), cv::Size(1, 1));
    EXPECT_EQ(decoded.at<cv::Vec3b>(0, 0), cv::Vec3b(9, 99, 199));

    // It letterboxes into a block of its colour, and becomes a 3-value tensor.
    ASSERT_OK_AND_ASSIGN(const Letterbox boxed, letterbox(decoded, 8, 8));
    EXPECT_EQ(boxed.image.size(), cv::Size(8, 8));
    EXPECT_EQ(boxed.image.at<cv::Vec3b>(4, 4), cv::Vec3b(9, 99, 199));
    ASSERT_OK_AND_ASSIGN(const auto tensor,
                         image_to_tensor(decoded, TensorLayout::NCHW, PixelNormalization{}));
    ASSERT_EQ(tensor.size(), 3u);
    EXPECT_FLOAT_EQ(tensor[0], 199.0f / 255.0f);  // RGB: red first
}

TEST(DecodeImageTest, NotAnImageFileIsAClearError) {
    const std::string text = "name,score\ndog,0.9\n";
    const std::string path = temp_file("table.jpg", std::vector<uint8_t>(text.begin(), text.end()));
    auto result = read_image(path);
    EXPECT_STATUS(result, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(result.status().message(), path)) << result.status();
    EXPECT_TRUE(contains(result.status().message(), "not an image")) << result.status();
}

TEST(DecodeImageTest, EmptyFileIsAClearError) {
    const std::string path = temp_file("empty.png", {});
    auto result = read_image(path);
    EXPECT_STATUS(result, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(result.status().message(), "empty")) << result.status();
}

TEST(DecodeImageTest, MissingFileAndDirectoryAreClearErrors) {
    EXPECT_STATUS(read_image("/nonexistent/corun/x.png"), StatusCode::NOT_FOUND);
    EXPECT_STATUS(read_image(std::filesystem::temp_directory_path().string()),
                  StatusCode::INVALID_ARGUMENT);
}

TEST(DecodeImageTest, HugeImageIsRefusedFromItsHeaderInBoundedMemory) {
    // 100000 x 100000 RGB would need 30 GB; the refusal must come before any allocation. The
    // file is a header and nothing else, so the only way to this message is the size check on
    // the header, before the decoder starts: a decoder run first would have failed on the missing
    // pixels ("could not be decoded"), or been stopped by the pixel-limited allocator, whose
    // refusal names the size "as its decoder reads it" (the TIFF tests below). No timing needed.
    const std::string path = temp_file("huge.png", png_header_only(100000, 100000));
    auto result = read_image(path);
    EXPECT_STATUS(result, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(result.status().message(), "100000 x 100000")) << result.status();
    EXPECT_TRUE(contains(result.status().message(), "limit")) << result.status();
    EXPECT_FALSE(contains(result.status().message(), "as its decoder reads it")) << result.status();

    // The limit is a parameter: a 64 x 64 image is refused under a 1000-pixel limit.
    const cv::Mat small(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
    ImageLimits limits;
    limits.max_pixels = 1000;
    EXPECT_STATUS(decode_image(encode(small, ".png"), limits), StatusCode::INVALID_ARGUMENT);
}

TEST(DecodeImageTest, TiffWithRepeatedSizeTagsIsRefusedByTheSizeTheDecoderReads) {
    // libtiff reads the first of repeated tags: this TIFF is 100000 x 100000 to the decoder
    // (30 GB as BGR), while its last tags say 2 x 2. The refusal names that size and the limit.
    const std::vector<uint8_t> tiff =
        gray_tiff({{256, 4, 100000}, {256, 4, 2}, {257, 4, 100000}, {257, 4, 2}}, {0, 0, 0, 0});
    ASSERT_OK_AND_ASSIGN(const ImageHeader header, read_image_header(tiff));
    EXPECT_EQ(header.width, 100000);
    EXPECT_EQ(header.height, 100000);
    auto result = decode_image(tiff);
    EXPECT_STATUS(result, StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(result.status().message(),
              "the TIFF image is 100000 x 100000 (10000 MP), above the limit of 64 MP; scale "
              "it down first (the limit bounds memory per image)")
        << result.status();
}

TEST(DecodeImageTest, TiffWithRepeatedSizeTagsDecodesToItsFirstSize) {
    // The other way round: a small first size and a huge repeat decode as the small image.
    const std::vector<uint8_t> pixels = {10, 20, 30, 40, 50, 60};
    const std::vector<uint8_t> tiff =
        gray_tiff({{256, 3, 3}, {256, 4, 100000}, {257, 3, 2}, {257, 4, 100000}}, pixels);
    ASSERT_OK_AND_ASSIGN(const ImageHeader header, read_image_header(tiff));
    EXPECT_EQ(header.width, 3);
    EXPECT_EQ(header.height, 2);
    ASSERT_OK_AND_ASSIGN(const cv::Mat image, decode_image(tiff));
    ASSERT_EQ(image.size(), cv::Size(3, 2));
    ASSERT_EQ(image.type(), CV_8UC3);
    EXPECT_EQ(image.at<cv::Vec3b>(1, 2), cv::Vec3b(60, 60, 60));
}

TEST(DecodeImageTest, TiffSizeOfAnotherTypeIsRefusedNotGuessed) {
    // libtiff reads a LONG8 size from elsewhere in the file; the standard says SHORT or LONG.
    auto result = decode_image(gray_tiff({{256, 16, 2}, {257, 4, 2}}, {0, 0, 0, 0}));
    EXPECT_STATUS(result, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(result.status().message(), "ImageWidth as 1 value(s) of type 16"))
        << result.status();
}

TEST(DecodeImageTest, PnmCommentEndingInCarriageReturnReadsTheDecodersSize) {
    // OpenCV ends a PNM comment at CR or LF; a header reader that waited for LF would skip
    // "3 2" and read another size than the decoder.
    std::string pgm = "P5\n# a comment\r3 2\n255\n";
    pgm += std::string("\x0a\x14\x1e\x28\x32\x3c", 6);
    const std::vector<uint8_t> bytes(pgm.begin(), pgm.end());
    ASSERT_OK_AND_ASSIGN(const ImageHeader header, read_image_header(bytes));
    EXPECT_EQ(header.width, 3);
    EXPECT_EQ(header.height, 2);
    ASSERT_OK_AND_ASSIGN(const cv::Mat image, decode_image(bytes));
    EXPECT_EQ(image.size(), cv::Size(3, 2));
}

TEST(DecodePixelLimitTest, RefusesLargerMatsOnItsThreadOnlyWhileItLives) {
    const std::vector<uint8_t> png = encode(cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
    const cv::Mat encoded(1, static_cast<int>(png.size()), CV_8UC1,
                          const_cast<uint8_t*>(png.data()));
    {
        const DecodePixelLimit limit(4096);  // exactly 64 x 64
        EXPECT_EQ(cv::imdecode(encoded, cv::IMREAD_COLOR).size(), cv::Size(64, 64));
        EXPECT_NO_THROW(cv::Mat(64, 64, CV_8UC4));  // channels are not counted
        EXPECT_THROW(cv::Mat(65, 64, CV_8UC1), std::exception);
        {
            const DecodePixelLimit inner(100);
            EXPECT_THROW(cv::imdecode(encoded, cv::IMREAD_COLOR), std::exception);
        }
        EXPECT_NO_THROW(cv::Mat(64, 64, CV_8UC3));  // the outer limit again
        cv::Mat other_thread;
        std::thread([&] { other_thread = cv::Mat(1000, 1000, CV_8UC1); }).join();
        EXPECT_EQ(other_thread.size(), cv::Size(1000, 1000));
    }
    EXPECT_EQ(cv::Mat(1000, 1000, CV_8UC1).size(), cv::Size(1000, 1000));
}

TEST(DecodeImageTest, TruncatedImageDataIsAnError) {
    // A valid header with no pixel data: the decoder fails, and says so.
    auto result = decode_image(png_header_only(16, 16));
    EXPECT_FALSE(result.has_value());
    EXPECT_TRUE(contains(result.status().message(), "PNG")) << result.status();
}

TEST(DecodeImageTest, DarknetDogDecodes) {
    const std::string path = darknet_image("dog.jpg");
    if (!exists(path)) GTEST_SKIP() << path << " is missing; run scripts/fetch_models.sh";
    ASSERT_OK_AND_ASSIGN(const cv::Mat image, read_image(path));
    EXPECT_EQ(image.size(), cv::Size(768, 576));
    EXPECT_EQ(image.type(), CV_8UC3);
}

// ---- resize, letterbox, tensors ----

TEST(ResizeTest, ResizesToTheExactSize) {
    const cv::Mat image(30, 40, CV_8UC3, cv::Scalar(1, 2, 3));
    ASSERT_OK_AND_ASSIGN(const cv::Mat smaller, resize_image(image, 20, 10));
    EXPECT_EQ(smaller.size(), cv::Size(20, 10));
    ASSERT_OK_AND_ASSIGN(const cv::Mat larger, resize_image(image, 80, 90));
    EXPECT_EQ(larger.size(), cv::Size(80, 90));
    EXPECT_EQ(larger.at<cv::Vec3b>(45, 40), cv::Vec3b(1, 2, 3));
    EXPECT_STATUS(resize_image(image, 0, 10), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(resize_image(cv::Mat(), 10, 10), StatusCode::INVALID_ARGUMENT);
}

TEST(LetterboxTest, KeepsAspectPadsAndMapsBack) {
    // 200 x 100 into 64 x 64: scale 0.32, 64 x 32 image centred with 16 rows above.
    cv::Mat image(100, 200, CV_8UC3, cv::Scalar(200, 200, 200));
    ASSERT_OK_AND_ASSIGN(const Letterbox boxed, letterbox(image, 64, 64));
    EXPECT_EQ(boxed.image.size(), cv::Size(64, 64));
    EXPECT_FLOAT_EQ(boxed.scale, 0.32f);
    EXPECT_FLOAT_EQ(boxed.offset_x, 0.0f);
    EXPECT_FLOAT_EQ(boxed.offset_y, 16.0f);
    EXPECT_EQ(boxed.image.at<cv::Vec3b>(5, 32), cv::Vec3b(0, 0, 0));         // padding
    EXPECT_EQ(boxed.image.at<cv::Vec3b>(32, 32), cv::Vec3b(200, 200, 200));  // image
    // The model pixel (32, 32) is the image's centre.
    EXPECT_FLOAT_EQ(boxed.to_image_x(32.0f), 100.0f);
    EXPECT_FLOAT_EQ(boxed.to_image_y(32.0f), 50.0f);

    ASSERT_OK_AND_ASSIGN(const Letterbox corner,
                         letterbox(image, 64, 64, false, cv::Scalar(114, 114, 114)));
    EXPECT_FLOAT_EQ(corner.offset_y, 0.0f);
    EXPECT_EQ(corner.image.at<cv::Vec3b>(60, 32), cv::Vec3b(114, 114, 114));
    EXPECT_STATUS(letterbox(image, 0, 64), StatusCode::INVALID_ARGUMENT);
}

TEST(ImageToTensorTest, LayoutsChannelOrderAndNormalisation) {
    // 1 x 2 image: pixel 0 = B 10, G 20, R 30; pixel 1 = B 40, G 50, R 60.
    cv::Mat image(1, 2, CV_8UC3);
    image.at<cv::Vec3b>(0, 0) = cv::Vec3b(10, 20, 30);
    image.at<cv::Vec3b>(0, 1) = cv::Vec3b(40, 50, 60);
    const PixelNormalization raw{ChannelOrder::RGB, 1.0f, {0, 0, 0}, {1, 1, 1}};
    ASSERT_OK_AND_ASSIGN(auto nchw, image_to_tensor(image, TensorLayout::NCHW, raw));
    EXPECT_EQ(nchw, (std::vector<float>{30, 60, 20, 50, 10, 40}));
    ASSERT_OK_AND_ASSIGN(auto nhwc, image_to_tensor(image, TensorLayout::NHWC, raw));
    EXPECT_EQ(nhwc, (std::vector<float>{30, 20, 10, 60, 50, 40}));
    PixelNormalization bgr = raw;
    bgr.order = ChannelOrder::BGR;
    ASSERT_OK_AND_ASSIGN(auto bgr_nhwc, image_to_tensor(image, TensorLayout::NHWC, bgr));
    EXPECT_EQ(bgr_nhwc, (std::vector<float>{10, 20, 30, 40, 50, 60}));

    ASSERT_OK_AND_ASSIGN(auto symmetric,
                         image_to_tensor(cv::Mat(1, 1, CV_8UC3, cv::Scalar(0, 255, 0)),
                                         TensorLayout::NHWC, PixelNormalization::symmetric()));
    EXPECT_NEAR(symmetric[0], -1.0f, 1e-6);
    EXPECT_NEAR(symmetric[1], 1.0f, 1e-6);
    ASSERT_OK_AND_ASSIGN(auto imagenet,
                         image_to_tensor(cv::Mat(1, 1, CV_8UC3, cv::Scalar(0, 0, 255)),
                                         TensorLayout::NCHW, PixelNormalization::imagenet()));
    EXPECT_NEAR(imagenet[0], (1.0f - 0.485f) / 0.229f, 1e-5);
    EXPECT_NEAR(imagenet[2], (0.0f - 0.406f) / 0.225f, 1e-5);

    ASSERT_OK_AND_ASSIGN(auto gray, image_to_tensor(cv::Mat(2, 2, CV_8UC1, cv::Scalar(51)),
                                                    TensorLayout::NCHW, PixelNormalization{}));
    EXPECT_EQ(gray.size(), 4u);
    EXPECT_FLOAT_EQ(gray[3], 0.2f);
}

TEST(ImageToTensorTest, RejectsWrongBufferSizesAndTypes) {
    const cv::Mat image(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
    std::vector<float> small(5);
    EXPECT_STATUS(image_to_tensor(image, TensorLayout::NCHW, {}, small),
                  StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(image_to_tensor(cv::Mat(2, 2, CV_32FC3), TensorLayout::NCHW, {}),
                  StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(image_to_tensor(cv::Mat(), TensorLayout::NCHW, {}), StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace corun::tasks
