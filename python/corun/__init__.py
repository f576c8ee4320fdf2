"""corun from Python, with hailo_platform's names.

Moving from hailo_platform is the import line and the model path::

    from corun import VDevice, HailoSchedulingAlgorithm, FormatType
    params = VDevice.create_params()
    params.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
    with VDevice(params) as vdevice:
        infer_model = vdevice.create_infer_model("model.onnx")
        with infer_model.configure() as configured:
            bindings = configured.create_bindings()
            bindings.input().set_buffer(frame)
            configured.run([bindings], 1000)
            result = bindings.output().get_buffer()

See docs/PYTHON.md for every name and how corun differs.
"""

from ._corun import (  # noqa: F401
    ArrivalKind,
    AsyncInferCompletionInfo,
    AsyncInferJob,
    CapacityPlanner,
    CapacityPrediction,
    CapacityWorkload,
    ConfiguredInferModel,
    CpuDeviceParams,
    DeviceDescription,
    Format,
    FormatOrder,
    FormatType,
    HailoSchedulingAlgorithm,
    InferModel,
    ModelPrediction,
    PlannedModel,
    PlacementStats,
    QuantInfo,
    RoutedCompletionInfo,
    RoutedInferJob,
    RoutedModel,
    RoutedModelStats,
    RoutingAttempt,
    ScheduledModelStats,
    VDevice,
    VDeviceParams,
)
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _error_names

HAILO_INFINITE = 0xFFFFFFFF  # a timeout that waits forever
HAILO_DEFAULT_VDEVICE_GROUP_ID = "SHARED"

__version__ = "0.1.0"

__all__ = [
    "ArrivalKind",
    "CapacityPlanner",
    "CapacityPrediction",
    "CapacityWorkload",
    "ModelPrediction",
    "PlannedModel",
    "PlacementStats",
    "RoutedCompletionInfo",
    "RoutedInferJob",
    "RoutedModel",
    "RoutedModelStats",
    "RoutingAttempt",
    "AsyncInferCompletionInfo",
    "AsyncInferJob",
    "ConfiguredInferModel",
    "CpuDeviceParams",
    "DeviceDescription",
    "Format",
    "FormatOrder",
    "FormatType",
    "HailoSchedulingAlgorithm",
    "InferModel",
    "QuantInfo",
    "ScheduledModelStats",
    "VDevice",
    "VDeviceParams",
    "HAILO_INFINITE",
    "HAILO_DEFAULT_VDEVICE_GROUP_ID",
] + list(_error_names)
