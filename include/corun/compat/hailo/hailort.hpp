// corun's HailoRT compatibility layer (docs/MIGRATING.md): a program written for HailoRT's C++
// InferModel API builds against corun with `-I <prefix>/include/corun/compat` ahead of its
// includes, links corun::corun, and runs with an ONNX file where it had a HEF.
//
//   #include "hailo/hailort.hpp"
//   using namespace hailort;
//   auto vdevice = VDevice::create().expect("Failed to create vdevice");
//   auto infer_model = vdevice->create_infer_model("model.onnx").expect("...");
#pragma once

#include "hailo/buffer.hpp"
#include "hailo/dma_mapped_buffer.hpp"
#include "hailo/expected.hpp"
#include "hailo/hailort.h"
#include "hailo/hailort_common.hpp"
#include "hailo/infer_model.hpp"
#include "hailo/vdevice.hpp"
