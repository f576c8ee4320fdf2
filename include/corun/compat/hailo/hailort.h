// corun's HailoRT compatibility layer: the C types and constants of HailoRT's hailort.h that
// programs written for its C++ InferModel API use (docs/MIGRATING.md). Status codes keep
// HailoRT's numbers, so a program's exit code or log line means the same. Only what corun can
// honour is here; what is missing is missing on purpose and named in docs/MIGRATING.md.
#pragma once

#include <cstddef>
#include <cstdint>

typedef float float32_t;
typedef double float64_t;

#define HAILO_INFINITE (UINT32_MAX)
#define HAILO_DEFAULT_BATCH_SIZE (0)
#define HAILO_DEFAULT_DEVICE_COUNT (1)
#define HAILO_MAX_DEVICE_ID_LENGTH (32)
#define HAILO_MAX_STREAM_NAME_SIZE (128)
#define HAILO_UNIQUE_VDEVICE_GROUP_ID ("UNIQUE")
#define HAILO_DEFAULT_VDEVICE_GROUP_ID HAILO_UNIQUE_VDEVICE_GROUP_ID
#define HAILO_SCHEDULER_PRIORITY_NORMAL (16)
#define HAILO_SCHEDULER_PRIORITY_MAX (31)
#define HAILO_SCHEDULER_PRIORITY_MIN (0)
#define MAX_NUMBER_OF_PLANES (4)
#define NUMBER_OF_PLANES_NV12_NV21 (2)
#define NUMBER_OF_PLANES_I420 (3)

// HailoRT's return codes, with its numbers. corun returns the ones its StatusCodes map to
// (hailo/hailort_common.hpp: to_hailo_status); the others exist so that code naming them builds.
typedef enum {
    HAILO_SUCCESS = 0,
    HAILO_UNINITIALIZED = 1,
    HAILO_INVALID_ARGUMENT = 2,
    HAILO_OUT_OF_HOST_MEMORY = 3,
    HAILO_TIMEOUT = 4,
    HAILO_INSUFFICIENT_BUFFER = 5,
    HAILO_INVALID_OPERATION = 6,
    HAILO_NOT_IMPLEMENTED = 7,
    HAILO_INTERNAL_FAILURE = 8,
    HAILO_DATA_ALIGNMENT_FAILURE = 9,
    HAILO_OPEN_FILE_FAILURE = 13,
    HAILO_FILE_OPERATION_FAILURE = 14,
    HAILO_INVALID_FRAME = 25,
    HAILO_INVALID_HEF = 26,
    HAILO_DRIVER_OPERATION_FAILED = 36,
    HAILO_SHUTDOWN_EVENT_SIGNALED = 57,
    HAILO_NOT_FOUND = 61,
    HAILO_COMMUNICATION_CLOSED = 62,
    HAILO_STREAM_ABORT = 63,
    HAILO_NOT_AVAILABLE = 65,
    HAILO_DEVICE_IN_USE = 73,
    HAILO_OUT_OF_PHYSICAL_DEVICES = 74,
    HAILO_RPC_FAILED = 77,
    HAILO_INVALID_SERVICE_VERSION = 78,
    HAILO_NOT_SUPPORTED = 79,
    HAILO_QUEUE_IS_FULL = 82,
    HAILO_DMA_MAPPING_ALREADY_EXISTS = 83,
    HAILO_CONNECTION_REFUSED = 89,
    HAILO_HEF_FILE_CORRUPTED = 91,
    HAILO_HEF_NOT_SUPPORTED = 92,
    HAILO_STATUS_COUNT = 94,
} hailo_status;

typedef enum {
    HAILO_SCHEDULING_ALGORITHM_NONE = 0,
    HAILO_SCHEDULING_ALGORITHM_ROUND_ROBIN,
} hailo_scheduling_algorithm_t;

typedef struct {
    char id[HAILO_MAX_DEVICE_ID_LENGTH];
} hailo_device_id_t;

// corun: multi_process_service runs the models in corund, on the socket $CORUN_SERVICE_SOCKET
// names (else /run/corun/corund.sock); device ids are corun's ("cpu:0", `corun scan`).
typedef struct {
    uint32_t device_count;
    hailo_device_id_t* device_ids;
    hailo_scheduling_algorithm_t scheduling_algorithm;
    const char* group_id;
    bool multi_process_service;
} hailo_vdevice_params_t;

typedef enum {
    HAILO_FORMAT_TYPE_AUTO = 0,
    HAILO_FORMAT_TYPE_UINT8 = 1,
    HAILO_FORMAT_TYPE_UINT16 = 2,
    HAILO_FORMAT_TYPE_FLOAT32 = 3,
} hailo_format_type_t;

// The orders corun has (NHWC, NCHW, NC, NHW) and the YUV 4:2:0 ones that name a pix buffer's
// layout (NV12, NV21, I420); the device-side orders of a HEF do not apply to ONNX models.
typedef enum {
    HAILO_FORMAT_ORDER_AUTO = 0,
    HAILO_FORMAT_ORDER_NHWC = 1,
    HAILO_FORMAT_ORDER_NHW = 5,
    HAILO_FORMAT_ORDER_NC = 6,
    HAILO_FORMAT_ORDER_NCHW = 11,
    HAILO_FORMAT_ORDER_NV12 = 13,
    HAILO_FORMAT_ORDER_NV21 = 14,
    HAILO_FORMAT_ORDER_I420 = 18,
} hailo_format_order_t;

typedef enum {
    HAILO_FORMAT_FLAGS_NONE = 0,
} hailo_format_flags_t;

typedef struct {
    hailo_format_type_t type;
    hailo_format_order_t order;
    hailo_format_flags_t flags;
} hailo_format_t;

typedef struct {
    uint32_t height;
    uint32_t width;
    uint32_t features;
} hailo_3d_image_shape_t;

// real = (quantized - qp_zp) * qp_scale
typedef struct {
    float32_t qp_zp;
    float32_t qp_scale;
    float32_t limvals_min;
    float32_t limvals_max;
} hailo_quant_info_t;

typedef enum {
    HAILO_PIX_BUFFER_MEMORY_TYPE_USERPTR,
    HAILO_PIX_BUFFER_MEMORY_TYPE_DMABUF,
} hailo_pix_buffer_memory_type_t;

typedef struct {
    uint32_t bytes_used;
    uint32_t plane_size;
    union {
        void* user_ptr;
        int fd;
    };
} hailo_pix_buffer_plane_t;

typedef struct {
    uint32_t index;
    hailo_pix_buffer_plane_t planes[MAX_NUMBER_OF_PLANES];
    uint32_t number_of_planes;
    hailo_pix_buffer_memory_type_t memory_type;
} hailo_pix_buffer_t;

typedef struct {
    int fd;
    size_t size;
} hailo_dma_buffer_t;

typedef enum {
    HAILO_DMA_BUFFER_DIRECTION_H2D = 0,
    HAILO_DMA_BUFFER_DIRECTION_D2H = 1,
    HAILO_DMA_BUFFER_DIRECTION_BOTH = 2,
} hailo_dma_buffer_direction_t;

// Fills `params` with the defaults: one device, the round-robin scheduler, the default group,
// in this process.
inline hailo_status hailo_init_vdevice_params(hailo_vdevice_params_t* params) {
    if (params == nullptr) return HAILO_INVALID_ARGUMENT;
    params->device_count = HAILO_DEFAULT_DEVICE_COUNT;
    params->device_ids = nullptr;
    params->scheduling_algorithm = HAILO_SCHEDULING_ALGORITHM_ROUND_ROBIN;
    params->group_id = HAILO_DEFAULT_VDEVICE_GROUP_ID;
    params->multi_process_service = false;
    return HAILO_SUCCESS;
}
