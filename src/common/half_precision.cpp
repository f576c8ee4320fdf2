#include "common/half_precision.hpp"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace corun::common {

float half_to_float(uint16_t half) {
    const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
    const uint32_t exponent = (half >> 10) & 0x1F;
    uint32_t mantissa = half & 0x3FF;
    uint32_t bits = 0;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);  // infinity or NaN
    } else if (exponent != 0) {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;  // signed zero
    } else {
        // Subnormal half: normalize into a float's wider exponent range.
        int32_t e = 127 - 15 + 1;
        while ((mantissa & 0x400) == 0) {
            mantissa <<= 1;
            --e;
        }
        bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3FF) << 13);
    }
    return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
    const uint32_t magnitude = bits & 0x7FFFFFFF;
    if (magnitude > 0x7F800000) return sign | 0x7E00;  // NaN: a quiet NaN
    if (magnitude >= 0x47800000) {
        // At or beyond 65536 (or infinity): infinity. 65520 and up also round to infinity,
        // handled below by the rounding carry into the exponent.
        return sign | 0x7C00;
    }
    if (magnitude < 0x38800000) {
        // Below half's smallest normal (2^-14): a subnormal half, or zero. Adding 0.5f aligns
        // the mantissa so the float unit rounds it to nearest-even for us.
        const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
        return sign | static_cast<uint16_t>(std::bit_cast<uint32_t>(shifted) - 0x3F000000u);
    }
    // Normal: rebias the exponent, then round the 13 dropped mantissa bits to nearest-even.
    const uint32_t odd = (magnitude >> 13) & 1;
    const uint32_t rounded = magnitude + 0xC8000FFFu + odd;  // (15 - 127) << 23, + 0xFFF + odd
    return sign | static_cast<uint16_t>(rounded >> 13);
}

float bfloat16_to_float(uint16_t value) {
    return std::bit_cast<float>(static_cast<uint32_t>(value) << 16);
}

uint16_t float_to_bfloat16(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    if ((bits & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((bits >> 16) | 0x0040);
    const uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

namespace {

#if defined(__x86_64__)
// CPUID rather than __builtin_cpu_supports("f16c"): clang 14 (the fuzz build) knows no "f16c"
// feature string there. AVX code also needs the OS to save the YMM registers (XCR0 bits 1-2).
bool has_f16c() {
    static const bool supported = [] {
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
        if (!(ecx & bit_F16C) || !(ecx & bit_AVX) || !(ecx & bit_OSXSAVE)) return false;
        unsigned xcr0_low = 0, xcr0_high = 0;
        __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
        return (xcr0_low & 6u) == 6u;
    }();
    return supported;
}

__attribute__((target("avx,f16c"))) size_t halves_to_floats_f16c(const uint16_t* source,
                                                                 float* target, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(source + i));
        _mm256_storeu_ps(target + i, _mm256_cvtph_ps(halves));
    }
    return i;
}

__attribute__((target("avx,f16c"))) size_t floats_to_halves_f16c(const float* source,
                                                                 uint16_t* target, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m128i halves =
            _mm256_cvtps_ph(_mm256_loadu_ps(source + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(target + i), halves);
    }
    return i;
}
#endif

}  // namespace

void halves_to_floats(const uint16_t* source, float* target, size_t count) {
    size_t done = 0;
#if defined(__x86_64__)
    if (has_f16c()) done = halves_to_floats_f16c(source, target, count);
#endif
    for (size_t i = done; i < count; ++i) target[i] = half_to_float(source[i]);
}

void floats_to_halves(const float* source, uint16_t* target, size_t count) {
    size_t done = 0;
#if defined(__x86_64__)
    if (has_f16c()) done = floats_to_halves_f16c(source, target, count);
#endif
    for (size_t i = done; i < count; ++i) target[i] = float_to_half(source[i]);
}

// Plain loops of shifts and adds, without branches in the body, which leaves the compiler free
// to vectorise them.
void bfloat16s_to_floats(const uint16_t* source, float* target, size_t count) {
    for (size_t i = 0; i < count; ++i) target[i] = bfloat16_to_float(source[i]);
}

void floats_to_bfloat16s(const float* source, uint16_t* target, size_t count) {
    for (size_t i = 0; i < count; ++i) target[i] = float_to_bfloat16(source[i]);
}

}  // namespace corun::common
