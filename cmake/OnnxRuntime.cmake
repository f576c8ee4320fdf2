# ONNX Runtime comes from the npm registry (scripts/fetch_onnxruntime.sh) into .cache/onnxruntime.
set(ORT_ROOT "${CORUN_CACHE_DIR}/onnxruntime")
if(NOT EXISTS "${ORT_ROOT}/lib/libonnxruntime.so.1")
  message(FATAL_ERROR "ONNX Runtime is not in ${ORT_ROOT}; run scripts/setup.sh first")
endif()
add_library(onnxruntime SHARED IMPORTED GLOBAL)
set_target_properties(onnxruntime PROPERTIES
  IMPORTED_LOCATION "${ORT_ROOT}/lib/libonnxruntime.so.1"
  IMPORTED_SONAME "libonnxruntime.so.1")
# SYSTEM: ORT's headers are not ours to keep warning-free.
target_include_directories(onnxruntime SYSTEM INTERFACE "${ORT_ROOT}/include")
set(CMAKE_BUILD_RPATH "${ORT_ROOT}/lib")
