"""VDevice, InferModel and InferStream with hailo_platform's names: params, the context manager,
release, models from paths and bytes, streams, formats, quantization, and errors that carry the
status name."""
import numpy as np
import pytest

import corun
from corun import FormatOrder, FormatType, HailoSchedulingAlgorithm, VDevice
from conftest import model_file, zoo


def test_create_params_has_hailo_defaults():
    params = VDevice.create_params()
    assert params.group_id == "SHARED" == corun.HAILO_DEFAULT_VDEVICE_GROUP_ID
    assert params.scheduling_algorithm == HailoSchedulingAlgorithm.ROUND_ROBIN
    assert params.multi_process_service is False
    assert params.device_ids == []
    assert params.device_count == 1


def test_vdevice_is_a_context_manager_and_release_keeps_models_usable(group_id):
    params = VDevice.create_params()
    params.group_id = group_id
    with VDevice(params) as vdevice:
        model = vdevice.create_infer_model(model_file("add_one.onnx"))
    with pytest.raises(corun.HailoRTInvalidOperationException) as raised:
        vdevice.create_infer_model(model_file("add_one.onnx"))
    assert raised.value.status == "INVALID_OPERATION"
    assert "released" in raised.value.message
    # As in HailoRT, a model keeps its device alive.
    with model.configure() as configured:
        bindings = configured.create_bindings()
        bindings.input().set_buffer(np.zeros((3, 4, 4), np.float32))
        configured.run([bindings], 10000)
        assert np.array_equal(bindings.output().get_buffer(), np.ones((3, 4, 4), np.float32))
    vdevice.release()  # a second release does nothing


def test_device_ids_from_params_or_keyword(group_id):
    params = VDevice.create_params()
    params.group_id = group_id
    params.device_ids = ["cpu:0"]
    with VDevice(params) as vdevice:
        assert vdevice.get_physical_devices_ids() == ["cpu:0"]
        assert vdevice.group_id == group_id
    with VDevice(device_ids=["cpu:0"]) as vdevice:
        assert vdevice.get_physical_devices_ids() == ["cpu:0"]
    params.group_id = group_id + "-bad"
    params.device_ids = ["cpu:9"]
    with pytest.raises(corun.CorunException) as raised:
        VDevice(params)
    assert "cpu:9" in str(raised.value)


def test_vdevices_of_one_group_id_share_devices(group_id):
    params = VDevice.create_params()
    params.group_id = group_id
    other = VDevice.create_params()
    other.group_id = group_id + "-other"
    with VDevice(params) as first, VDevice(params) as second, VDevice(other) as third:
        assert first.shares_devices_with(second)
        assert not first.shares_devices_with(third)


def test_model_from_bytes_takes_its_name(vdevice):
    with open(model_file("add_one.onnx"), "rb") as file:
        data = file.read()
    model = vdevice.create_infer_model(data, "my_model")
    assert model.name == "my_model"
    assert model.input_names == ["x"]
    assert vdevice.create_infer_model(model_file("add_one.onnx")).name == "add_one"


def test_streams_methods_and_properties(vdevice):
    model = vdevice.create_infer_model(zoo("models/nanodet/nanodet.onnx"))
    assert len(model.inputs) == 1 and model.input_names == [model.inputs[0].name]
    assert model.output_names == [stream.name for stream in model.outputs]
    stream = model.input()
    assert stream.name == model.input(model.input_names[0]).name
    assert stream.shape == [3, 416, 416]  # hailo_platform's shape: no batch dimension
    assert stream.format.type == FormatType.FLOAT32
    assert stream.format.order == FormatOrder.NCHW
    assert stream.get_frame_size() == 3 * 416 * 416 * 4
    assert len(stream.quant_infos) == 1 and stream.quant_infos[0].qp_scale == 1.0
    stream.set_format_order(FormatOrder.NHWC)
    assert model.input().shape == [416, 416, 3]
    stream.set_format_type(FormatType.UINT8)
    assert model.input().get_frame_size() == 416 * 416 * 3
    with model.configure() as configured:
        bindings = configured.create_bindings()
        assert bindings.input().shape == [416, 416, 3]
        assert bindings.input().format.type == FormatType.UINT8


def test_no_name_with_several_streams_and_unknown_names_raise(vdevice):
    model = vdevice.create_infer_model(model_file("two_in_two_out.onnx"))
    with pytest.raises(corun.HailoRTInvalidOperationException):
        model.input()
    with pytest.raises(corun.HailoRTNotFoundException) as raised:
        model.output("nope")
    assert raised.value.status == "NOT_FOUND"
    with model.configure() as configured:
        bindings = configured.create_bindings()
        with pytest.raises(corun.HailoRTInvalidOperationException) as raised:
            bindings.input()
        assert "'a', 'b'" in raised.value.message
        with pytest.raises(corun.HailoRTNotFoundException):
            configured.create_bindings(input_buffers={"c": np.zeros(8, np.float32)})


def test_set_batch_size_checks_its_range(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    model.set_batch_size(0)
    model.set_batch_size(4)
    with model.configure() as configured:
        assert configured.get_async_queue_size() == 8  # 2 x the batch size
    with pytest.raises(corun.HailoRTInvalidArgumentException) as raised:
        model.set_batch_size(257)
    assert raised.value.status == "INVALID_ARGUMENT"


def test_missing_and_broken_model_files_raise_with_the_status(vdevice, tmp_path):
    with pytest.raises(corun.HailoRTNotFoundException) as raised:
        vdevice.create_infer_model(str(tmp_path / "absent.onnx"))
    assert "absent.onnx" in raised.value.message
    assert str(raised.value).startswith("NOT_FOUND: ")
    with pytest.raises(corun.HailoRTInvalidHEFException) as raised:
        vdevice.create_infer_model(b"this is not an onnx model", "garbage")
    assert raised.value.status == "INVALID_MODEL"
    with pytest.raises(corun.HailoRTInvalidArgumentException):
        vdevice.create_infer_model(42)


def test_float32_output_of_a_quantized_model_is_dequantized(vdevice):
    # q_in: uint8, scale 0.5, zero point 10; the model doubles; q_out: scale 0.25, zero point 3.
    model = vdevice.create_infer_model(model_file("quantized.onnx"))
    quant = model.output().quant_infos[0]
    assert (quant.qp_scale, quant.qp_zp) == (0.25, 3.0)
    assert (model.input().quant_infos[0].qp_scale, model.input().quant_infos[0].qp_zp) == (0.5, 10.0)
    frame = np.array([10, 12, 20, 30], np.uint8)  # real 0, 1, 5, 10
    with model.configure() as configured:
        bindings = configured.create_bindings(input_buffers={"q_in": frame})
        configured.run([bindings], 10000)
        assert bindings.output().get_buffer().dtype == np.uint8
        assert bindings.output().get_buffer().tolist() == [3, 11, 43, 83]
    model.output().set_format_type(FormatType.FLOAT32)
    with model.configure() as configured:
        bindings = configured.create_bindings(input_buffers={"q_in": frame})
        configured.run([bindings], 10000)
        out = bindings.output().get_buffer()
        assert out.dtype == np.float32
        assert out.tolist() == [0.0, 2.0, 10.0, 20.0]


def test_buffers_are_checked_and_bound_without_copies(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    with model.configure() as configured:
        bindings = configured.create_bindings()
        with pytest.raises(corun.HailoRTInvalidArgumentException) as raised:
            bindings.input().set_buffer(np.zeros((3, 4, 4)))  # float64
        assert "float32" in raised.value.message and "float64" in raised.value.message
        with pytest.raises(corun.HailoRTInvalidArgumentException) as raised:
            bindings.input().set_buffer(np.zeros(5, np.float32))
        assert "192" in raised.value.message  # the frame size it expects
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            bindings.input().set_buffer([0.0] * 48)
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            bindings.output().set_buffer(np.zeros((3, 8, 4), np.float32)[:, ::2, :])

        frame = np.arange(48, dtype=np.float32).reshape(3, 4, 4)
        out = np.empty((3, 4, 4), np.float32)
        bindings = configured.create_bindings(input_buffers={"x": frame},
                                               output_buffers={"y": out})
        assert bindings.input().get_buffer() is frame
        assert bindings.output().get_buffer() is out
        configured.run([bindings], 10000)
        assert np.array_equal(out, frame + 1)  # written in place
        # A strided input is copied once into a contiguous array.
        strided = np.arange(96, dtype=np.float32).reshape(3, 8, 4)[:, ::2, :]
        bindings.input().set_buffer(strided)
        configured.run(bindings, 10000)
        assert np.array_equal(out, strided + 1)


def test_timeouts_are_checked(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    with model.configure() as configured:
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            configured.set_scheduler_timeout(-1)
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            configured.run([configured.create_bindings()], -5)
