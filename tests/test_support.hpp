// Shared helpers for corun's runtime tests: test model paths, Status-aware assertions
// (ASSERT_OK, EXPECT_STATUS, ASSERT_OK_AND_ASSIGN) and unique device group ids.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "corun/corun.hpp"

namespace corun::test {

// Path of a generated test model (tests/models/make_test_models.py).
inline std::string test_model(const std::string& name) {
    return std::string(CORUN_TEST_MODEL_DIR) + "/" + name;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline const Status& status_of(const Status& status) {
    return status;
}
template <typename T>
const Status& status_of(const Expected<T>& expected) {
    return expected.status();
}

// A group id no other test of this process uses, so that tests with their own VDevice params
// never collide with the default group.
inline std::string unique_group(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "-" + std::to_string(counter.fetch_add(1));
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace corun::test

// Fails the test (printing the Status) unless `expr`, a Status or an Expected, succeeded.
#define ASSERT_OK(expr)                                                                   \
    do {                                                                                  \
        const ::corun::Status corun_test_status_ = ::corun::test::status_of(expr);        \
        ASSERT_TRUE(corun_test_status_.is_ok()) << #expr << " -> " << corun_test_status_; \
    } while (false)
#define EXPECT_OK(expr)                                                                   \
    do {                                                                                  \
        const ::corun::Status corun_test_status_ = ::corun::test::status_of(expr);        \
        EXPECT_TRUE(corun_test_status_.is_ok()) << #expr << " -> " << corun_test_status_; \
    } while (false)

// Expects `expr` (a Status or an Expected) to fail with `code`.
#define EXPECT_STATUS(expr, expected_code)                                         \
    do {                                                                           \
        const ::corun::Status corun_test_status_ = ::corun::test::status_of(expr); \
        EXPECT_EQ(corun_test_status_.code(), (expected_code))                      \
            << #expr << " -> " << corun_test_status_;                              \
    } while (false)

// ASSERT_OK_AND_ASSIGN(auto x, make_x()); binds the value or fails the test with the Status.
#define CORUN_TEST_ASSIGN_IMPL(tmp, lhs, expr)                       \
    auto tmp = (expr);                                               \
    ASSERT_TRUE(tmp.has_value()) << #expr << " -> " << tmp.status(); \
    lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
    CORUN_TEST_ASSIGN_IMPL(CORUN_CONCAT(corun_test_expected_, __LINE__), lhs, expr)
