// IEEE 754 half (float16) and bfloat16 <-> float32, one value at a time and in bulk. The bulk
// forms are what corun uses when a user binds FLOAT32 buffers to a half-precision model: on
// x86-64 with F16C they convert eight values per instruction, elsewhere they fall back to the
// scalar rules, which give the same results (NaN payloads aside).
#pragma once

#include <cstddef>
#include <cstdint>

namespace corun::common {

float half_to_float(uint16_t half);
// Round to nearest, ties to even; values beyond half's range become infinity, NaN stays NaN.
uint16_t float_to_half(float value);
float bfloat16_to_float(uint16_t value);
// Round to nearest, ties to even (as ONNX Runtime and PyTorch do); NaN stays a quiet NaN.
uint16_t float_to_bfloat16(float value);

void halves_to_floats(const uint16_t* source, float* target, size_t count);
void floats_to_halves(const float* source, uint16_t* target, size_t count);
void bfloat16s_to_floats(const uint16_t* source, float* target, size_t count);
void floats_to_bfloat16s(const float* source, uint16_t* target, size_t count);

}  // namespace corun::common
