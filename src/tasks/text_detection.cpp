#include "tasks/text_detection.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace corun::tasks {
namespace {

// Python's round(): halves go to the even neighbour, as PaddleOCR's numpy code rounds.
int round_half_even(double value) {
    return static_cast<int>(std::nearbyint(value));
}

float distance(const cv::Point2f& a, const cv::Point2f& b) {
    return std::hypot(a.x - b.x, a.y - b.y);
}

// PaddleOCR's get_mini_boxes: the corners of a rotated rectangle as top-left, top-right,
// bottom-right, bottom-left (the two leftmost points are the left side, the upper one first).
Quad ordered_corners(const cv::RotatedRect& rect) {
    cv::Point2f points[4];
    rect.points(points);
    std::sort(points, points + 4, [](const auto& a, const auto& b) { return a.x < b.x; });
    Quad quad;
    const bool first_left_is_top = points[1].y > points[0].y;
    quad[0] = first_left_is_top ? points[0] : points[1];
    quad[3] = first_left_is_top ? points[1] : points[0];
    const bool first_right_is_top = points[3].y > points[2].y;
    quad[1] = first_right_is_top ? points[2] : points[3];
    quad[2] = first_right_is_top ? points[3] : points[2];
    return quad;
}

// PaddleOCR's box_score_fast: the mean probability inside the quadrilateral.
float mean_probability(const cv::Mat& probability, const Quad& quad) {
    const int width = probability.cols;
    const int height = probability.rows;
    float min_x = quad[0].x, max_x = quad[0].x, min_y = quad[0].y, max_y = quad[0].y;
    for (const auto& p : quad) {
        min_x = std::min(min_x, p.x);
        max_x = std::max(max_x, p.x);
        min_y = std::min(min_y, p.y);
        max_y = std::max(max_y, p.y);
    }
    const int x0 = std::clamp(static_cast<int>(std::floor(min_x)), 0, width - 1);
    const int x1 = std::clamp(static_cast<int>(std::ceil(max_x)), 0, width - 1);
    const int y0 = std::clamp(static_cast<int>(std::floor(min_y)), 0, height - 1);
    const int y1 = std::clamp(static_cast<int>(std::ceil(max_y)), 0, height - 1);
    cv::Mat mask = cv::Mat::zeros(y1 - y0 + 1, x1 - x0 + 1, CV_8UC1);
    std::vector<cv::Point> polygon;
    for (const auto& p : quad) {
        polygon.emplace_back(static_cast<int>(p.x - x0), static_cast<int>(p.y - y0));
    }
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{polygon}, cv::Scalar(1));
    return static_cast<float>(
        cv::mean(probability(cv::Range(y0, y1 + 1), cv::Range(x0, x1 + 1)), mask)[0]);
}

// PaddleOCR's order_points_clockwise: top-left has the smallest x + y, bottom-right the
// largest; of the other two, top-right has the smallest y - x.
Quad clockwise_from_top_left(const Quad& quad) {
    size_t min_sum = 0, max_sum = 0;
    for (size_t i = 1; i < 4; ++i) {
        const float sum = quad[i].x + quad[i].y;
        if (sum < quad[min_sum].x + quad[min_sum].y) min_sum = i;
        if (sum > quad[max_sum].x + quad[max_sum].y) max_sum = i;
    }
    if (min_sum == max_sum) return quad;  // degenerate: keep the order it has
    std::vector<cv::Point2f> rest;
    for (size_t i = 0; i < 4; ++i) {
        if (i != min_sum && i != max_sum) rest.push_back(quad[i]);
    }
    const bool first_is_top_right = rest[0].y - rest[0].x <= rest[1].y - rest[1].x;
    return {quad[min_sum], first_is_top_right ? rest[0] : rest[1], quad[max_sum],
            first_is_top_right ? rest[1] : rest[0]};
}

}  // namespace

Expected<cv::Mat> to_bgr(const cv::Mat& image) {
    if (image.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT, "the image is empty (0 x 0 pixels)");
    }
    cv::Mat eight_bit;
    if (image.depth() == CV_8U) {
        eight_bit = image;
    } else if (image.depth() == CV_16U) {
        image.convertTo(eight_bit, CV_8U, 1.0 / 257.0);
    } else {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the image has OpenCV depth " + std::to_string(image.depth()) +
                          "; expected 8-bit (CV_8U) or 16-bit (CV_16U) pixels");
    }
    cv::Mat bgr;
    switch (eight_bit.channels()) {
        case 1:
            cv::cvtColor(eight_bit, bgr, cv::COLOR_GRAY2BGR);
            return bgr;
        case 3:
            return eight_bit;
        case 4:
            cv::cvtColor(eight_bit, bgr, cv::COLOR_BGRA2BGR);
            return bgr;
        default:
            return Status(StatusCode::INVALID_ARGUMENT,
                          "the image has " + std::to_string(eight_bit.channels()) +
                              " channels; expected 1 (gray), 3 (BGR) or 4 (BGRA)");
    }
}

DetectionInput make_detection_input(const cv::Mat& bgr, const TextDetectionParams& params) {
    const int height = bgr.rows;
    const int width = bgr.cols;
    const int longer = std::max(height, width);
    const double ratio =
        longer > params.max_side ? static_cast<double>(params.max_side) / longer : 1.0;
    const int resized_height =
        std::max(round_half_even(static_cast<int>(height * ratio) / 32.0) * 32, 32);
    const int resized_width =
        std::max(round_half_even(static_cast<int>(width * ratio) / 32.0) * 32, 32);

    cv::Mat resized;
    cv::resize(bgr, resized, cv::Size(resized_width, resized_height));

    DetectionInput input;
    input.height = resized_height;
    input.width = resized_width;
    input.scale_y = static_cast<float>(resized_height) / static_cast<float>(height);
    input.scale_x = static_cast<float>(resized_width) / static_cast<float>(width);
    const size_t plane = static_cast<size_t>(resized_height) * resized_width;
    input.tensor.resize(3 * plane);
    constexpr float mean[3] = {0.485f, 0.456f, 0.406f};
    constexpr float inverse_std[3] = {1.0f / 0.229f, 1.0f / 0.224f, 1.0f / 0.225f};
    for (int y = 0; y < resized_height; ++y) {
        const uint8_t* row = resized.ptr<uint8_t>(y);
        for (int x = 0; x < resized_width; ++x) {
            const size_t at = static_cast<size_t>(y) * resized_width + x;
            for (int c = 0; c < 3; ++c) {
                input.tensor[c * plane + at] =
                    (row[3 * x + c] * (1.0f / 255.0f) - mean[c]) * inverse_std[c];
            }
        }
    }
    return input;
}

std::vector<TextBox> boxes_from_probability_map(const cv::Mat& map, cv::Size image_size,
                                                const TextDetectionParams& params) {
    if (map.empty() || map.channels() != 1 || image_size.area() <= 0) return {};
    cv::Mat probability = map;
    if (map.type() != CV_32FC1) map.convertTo(probability, CV_32F);
    cv::Mat bitmap = probability > params.threshold;  // 0 or 255
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(bitmap, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);

    const float map_width = static_cast<float>(probability.cols);
    const float map_height = static_cast<float>(probability.rows);
    const size_t candidates = std::min(contours.size(), static_cast<size_t>(params.max_candidates));
    std::vector<TextBox> boxes;
    for (size_t i = 0; i < candidates; ++i) {
        const cv::RotatedRect rect = cv::minAreaRect(contours[i]);
        if (std::min(rect.size.width, rect.size.height) < params.min_size) continue;
        const Quad core = ordered_corners(rect);
        const float score = mean_probability(probability, core);
        if (score < params.box_threshold) continue;

        // PaddleOCR grows the region with a polygon offset of distance area * ratio /
        // perimeter (pyclipper, round joins) and takes the minimum-area rectangle of the
        // result; for a rectangle that is the rectangle grown by the distance on every side.
        const float area = rect.size.width * rect.size.height;
        const float perimeter = 2.0f * (rect.size.width + rect.size.height);
        const float grow = area * params.unclip_ratio / perimeter;
        const cv::RotatedRect grown(
            rect.center, cv::Size2f(rect.size.width + 2 * grow, rect.size.height + 2 * grow),
            rect.angle);
        if (std::min(grown.size.width, grown.size.height) < params.min_size + 2) continue;

        Quad quad = ordered_corners(grown);
        for (auto& p : quad) {
            p.x =
                std::clamp(static_cast<float>(round_half_even(p.x / map_width * image_size.width)),
                           0.0f, static_cast<float>(image_size.width));
            p.y = std::clamp(
                static_cast<float>(round_half_even(p.y / map_height * image_size.height)), 0.0f,
                static_cast<float>(image_size.height));
        }
        // PaddleOCR's filter_tag_det_res: clockwise order, inside the image, more than 3 pixels
        // wide and high.
        quad = clockwise_from_top_left(quad);
        for (auto& p : quad) {
            p.x = std::clamp(p.x, 0.0f, static_cast<float>(image_size.width - 1));
            p.y = std::clamp(p.y, 0.0f, static_cast<float>(image_size.height - 1));
        }
        if (static_cast<int>(distance(quad[0], quad[1])) <= 3 ||
            static_cast<int>(distance(quad[0], quad[3])) <= 3) {
            continue;
        }
        boxes.push_back({quad, score});
    }
    sort_text_boxes(boxes);
    return boxes;
}

void sort_text_boxes(std::vector<TextBox>& boxes) {
    std::stable_sort(boxes.begin(), boxes.end(), [](const TextBox& a, const TextBox& b) {
        if (a.quad[0].y != b.quad[0].y) return a.quad[0].y < b.quad[0].y;
        return a.quad[0].x < b.quad[0].x;
    });
    // Boxes whose tops are within 10 pixels are one line: order them left to right.
    for (size_t i = 0; i + 1 < boxes.size(); ++i) {
        for (size_t j = i + 1; j > 0; --j) {
            const Quad& right = boxes[j].quad;
            const Quad& left = boxes[j - 1].quad;
            if (std::abs(right[0].y - left[0].y) < 10 && right[0].x < left[0].x) {
                std::swap(boxes[j], boxes[j - 1]);
            } else {
                break;
            }
        }
    }
}

cv::Mat crop_text_region(const cv::Mat& image, const Quad& quad, int max_short_side) {
    int width = static_cast<int>(std::max(distance(quad[0], quad[1]), distance(quad[2], quad[3])));
    int height = static_cast<int>(std::max(distance(quad[0], quad[3]), distance(quad[1], quad[2])));
    width = std::max(width, 1);
    height = std::max(height, 1);
    const int short_side = std::min(width, height);
    if (short_side > max_short_side) {
        const double scale = static_cast<double>(max_short_side) / short_side;
        width = std::max(1, static_cast<int>(width * scale));
        height = std::max(1, static_cast<int>(height * scale));
    }
    const cv::Point2f source[4] = {quad[0], quad[1], quad[2], quad[3]};
    const cv::Point2f target[4] = {{0.0f, 0.0f},
                                   {static_cast<float>(width), 0.0f},
                                   {static_cast<float>(width), static_cast<float>(height)},
                                   {0.0f, static_cast<float>(height)}};
    const cv::Mat transform = cv::getPerspectiveTransform(source, target);
    cv::Mat crop;
    cv::warpPerspective(image, crop, transform, cv::Size(width, height), cv::INTER_CUBIC,
                        cv::BORDER_REPLICATE);
    if (static_cast<float>(height) / static_cast<float>(width) >= 1.5f) {
        cv::rotate(crop, crop, cv::ROTATE_90_COUNTERCLOCKWISE);
    }
    return crop;
}

bool ink_touches_border(const cv::Mat& crop) {
    if (crop.rows < 3 || crop.cols < 3) return false;
    cv::Mat gray, ink;
    if (crop.channels() == 3) {
        cv::cvtColor(crop, gray, cv::COLOR_BGR2GRAY);
    } else {
        gray = crop;
    }
    cv::threshold(gray, ink, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
    if (cv::countNonZero(ink) * 2 > ink.rows * ink.cols) cv::bitwise_not(ink, ink);  // light text
    return cv::countNonZero(ink.row(0)) > 0 || cv::countNonZero(ink.row(ink.rows - 1)) > 0 ||
           cv::countNonZero(ink.col(0)) > 0 || cv::countNonZero(ink.col(ink.cols - 1)) > 0;
}

Quad grow_quad(const Quad& quad, float fraction) {
    // The text's height is the quad's shorter side (vertical text stands on its short side).
    const float height = std::min(std::max(distance(quad[0], quad[3]), distance(quad[1], quad[2])),
                                  std::max(distance(quad[0], quad[1]), distance(quad[3], quad[2])));
    const float grow = fraction * height;
    auto unit = [](cv::Point2f v) { return v / std::max(1e-6f, std::hypot(v.x, v.y)); };
    const cv::Point2f along = unit(quad[1] - quad[0]) * grow;
    const cv::Point2f up_left = unit(quad[0] - quad[3]) * grow;
    const cv::Point2f up_right = unit(quad[1] - quad[2]) * grow;
    return {quad[0] + up_left - along, quad[1] + up_right + along, quad[2] - up_right + along,
            quad[3] - up_left - along};
}

}  // namespace corun::tasks
