#!/usr/bin/python3
"""Writes the fuzzer's seed corpus: a few valid encoded ClientMessages for the fake session of
request_validation_fuzz.cpp (model 1: x/y of 192 bytes, batch 2; model 7: a 16 + b 8 -> c 4,
batch 4; region 1: 4096 bytes, region 2: 1000 bytes), and one of each other request it
checks (Hello, RegisterBuffer, LoadModel, OutputDims, ConfigureModel). Usage:
make_corpus.py OUT_DIR"""
import os
import struct
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.abspath(__file__)) + "/../.."
out = sys.argv[1]
with tempfile.TemporaryDirectory() as generated:
    subprocess.check_call(["protoc", "--python_out=" + generated, "-I", root + "/proto",
                           "corun_service.proto"])
    sys.path.insert(0, generated)
    import corun_service_pb2 as pb


def message(job, model, frames, session=42):
    m = pb.ClientMessage(session_id=session)
    m.infer.job_id = job
    m.infer.model_id = model
    for inputs, outputs in frames:
        f = m.infer.frames.add()
        for buffer_id, offset, size in inputs:
            f.inputs.add(buffer_id=buffer_id, offset=offset, size=size)
        for buffer_id, offset, size in outputs:
            f.outputs.add(buffer_id=buffer_id, offset=offset, size=size)
    return m


seeds = {
    "add_one_one_frame": message(1, 1, [([(1, 0, 192)], [(1, 192, 192)])]),
    "add_one_two_frames": message(2, 1, [([(1, 0, 192)], [(1, 192, 192)]),
                                         ([(2, 0, 192)], [(2, 808, 192)])]),
    "two_in_one_out": message(3, 7, [([(2, 0, 16), (2, 16, 8)], [(1, 4092, 4)])]),
    "past_the_end": message(4, 1, [([(2, 900, 192)], [(1, 0, 192)])]),
    "overflow": message(5, 1, [([(1, 2**64 - 8, 192)], [(1, 0, 192)])]),
    "session_only": pb.ClientMessage(session_id=42),
    "hello": pb.HelloRequest(protocol_version=1, params=pb.VDeviceParams(
        device_count=1, cpu_intra_op_threads=2, npu_sim_profile_json="{}")),
    "register_buffer": pb.RegisterBufferRequest(session_id=42, shm_name="/corun.12.3",
                                                size=4096),
    "load_model": pb.LoadModelRequest(session_id=42, name="m", onnx=b"\x08\x07"),
    "output_dims": pb.OutputDimsRequest(session_id=42, loaded_model_id=1, inputs=[
        pb.TensorSpec(name="a", element_type=1, dims=[1, 3, 8, 8]),
        pb.TensorSpec(name="b", element_type=6, dims=[4])]),
    "configure_model": pb.ConfigureModelRequest(
        session_id=42, loaded_model_id=1, batch_size=2, queue_size=4,
        native_inputs=[pb.TensorSpec(name="a", element_type=1, dims=[1, 3, 8, 8]),
                       pb.TensorSpec(name="b", element_type=1, dims=[2, 2**40])],
        native_outputs=[pb.TensorSpec(name="y", element_type=3, dims=[1, 10])]),
}


def ring_entry(sequence, job, model, frames):
    """A lane-ring submission entry (src/protocol/lane_ring.hpp: LaneRingSubmission, 64
    references), all frames alike in their counts; an even length, so the fuzzer expects it
    in its place."""
    inputs, outputs = len(frames[0][0]), len(frames[0][1])
    entry = struct.pack("<IIIIQQ", sequence, len(frames), inputs, outputs, job, model)
    references = [r for ins, outs in frames for r in ins + outs]
    for buffer_id, offset, size in references + [(0, 0, 0)] * (64 - len(references)):
        entry += struct.pack("<QQQ", buffer_id, offset, size)
    return entry


raw_seeds = {
    "ring_add_one_two_frames": ring_entry(0, 6, 1, [([(1, 0, 192)], [(1, 192, 192)]),
                                                   ([(2, 0, 192)], [(2, 808, 192)])]),
    "ring_two_in_one_out": ring_entry(9, 7, 7, [([(2, 0, 16), (2, 16, 8)], [(1, 4092, 4)])]),
}
os.makedirs(out, exist_ok=True)
for name, seed in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(seed.SerializeToString())
for name, seed in raw_seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(seed)
