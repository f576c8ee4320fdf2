"""corun.tasks (detect, faces, ocr, vad) on the zoo's models and test images, and corun.genai (LLM,
Speech2Text) on the tiny models the build writes (real tokenizer, random weights)."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import corun
import corun.tasks
from corun.genai import LLM, Speech2Text, Speech2TextTask
from conftest import CORUN_BINARY, TEST_MODEL_DIR, zoo


def iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_detect_finds_the_dog(vdevice):
    image = zoo("data/darknet/dog.jpg")
    zoo("models/nanodet/nanodet.onnx")
    detections = corun.tasks.detect(image, vdevice=vdevice)
    labels = [d.label for d in detections]
    assert {"dog", "bicycle"} <= set(labels)
    dog = detections[labels.index("dog")]
    # Ears to tail, as tests/tasks/tasks_detection_test.cpp reads it off the image (768 x 576),
    # with the IoU that test asks for.
    assert iou(dog.box, (132, 220, 309, 540)) >= 0.5
    assert dog.label_id == 16
    # The same detections as `corun detect` (the C++ task), to the digits it prints.
    cli = json.loads(subprocess.run([CORUN_BINARY, "detect", image, "--json"], check=True,
                                    capture_output=True, text=True).stdout)["detections"]
    assert [(d["label"], d["score"], d["box"]) for d in cli] == [
        (d.label, round(d.score, 4), [round(v, 1) for v in d.box]) for d in detections]
    # The same pixels as a BGR array and as encoded bytes give the same detections.
    with open(image, "rb") as file:
        assert corun.tasks.detect(file.read(), vdevice=vdevice) == detections


def test_detect_takes_a_bgr_array(vdevice):
    zoo("models/nanodet/nanodet.onnx")
    blank = np.zeros((240, 320, 3), np.uint8)
    assert corun.tasks.detect(blank, vdevice=vdevice) == []
    with pytest.raises(corun.HailoRTInvalidArgumentException) as raised:
        corun.tasks.detect(np.zeros((240, 320, 3), np.float32), vdevice=vdevice)
    assert "uint8" in raised.value.message
    with pytest.raises(corun.HailoRTNotFoundException):
        corun.tasks.detect("/nonexistent/image.jpg", vdevice=vdevice)


def test_faces_finds_one_face(vdevice):
    image = zoo("data/opencv-doc/messi5.jpg")
    zoo("models/blazeface-256/face_detection_back_256x256_barracuda.onnx")
    found = corun.tasks.faces(image, vdevice=vdevice)
    assert len(found) == 1
    assert len(found[0].keypoints) == 6 and found[0].score > 0.75


def test_ocr_reads_the_book_page(vdevice):
    image = zoo("data/opencv-doc/imageTextN.png")
    zoo("models/ppocr-rec/ch_PP-OCRv4_rec_infer.onnx")
    lines = corun.tasks.ocr(image, vdevice=vdevice)
    assert len(lines) == 13
    assert lines[0].text == "technical details are too complex to cover in the book itself."
    assert len(lines[0].box) == 4


def test_vad_finds_speech_between_silences(vdevice, tmp_path):
    zoo("models/silero-vad/silero_vad_v5.onnx")
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is missing (scripts/setup.sh installs it)")
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "hello world, this is corun"], check=True)
    segments = corun.tasks.vad(str(wav), vdevice=vdevice)
    assert len(segments) >= 1
    assert 0.0 <= segments[0].start_s < segments[-1].end_s
    silence = np.zeros(16000, np.float32)
    assert corun.tasks.vad(silence, 16000, vdevice=vdevice) == []


def tiny(name):
    path = os.path.join(TEST_MODEL_DIR, "genai", name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing (a build with -DCORUN_GENAI=ON writes it)")
    return path


def test_llm_with_hailo_platform_names(vdevice):
    llm = LLM(vdevice, tiny("tiny_qwen2.gguf"))
    prompt = "Tell me about corun."
    tokens = llm.tokenize(prompt)
    assert len(tokens) > 3 and all(isinstance(t, int) for t in tokens)
    assert llm.get_context_usage_size() == 0
    whole = llm.generate_all(prompt=prompt, max_generated_tokens=6, do_sample=False)
    assert isinstance(whole, str)
    # The prompt and the 5 tokens fed back (the 6th was sampled, not fed), as in C++.
    assert llm.get_context_usage_size() == len(tokens) + 5
    llm.clear_context()
    with llm.generate(prompt=prompt, max_generated_tokens=6, do_sample=False) as generation:
        pieces = list(generation)
        assert generation.generation_status() == "MAX_TOKENS_REACHED"
        with pytest.raises(corun.HailoRTInvalidOperationException):
            generation.read()
    assert "".join(pieces) == whole  # greedy: the same text, streamed
    llm.clear_context()
    chat = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    assert isinstance(llm.generate_all(prompt=chat, max_generated_tokens=2), str)
    assert llm.max_context_capacity() > 0
    llm.release()
    with pytest.raises(corun.HailoRTInvalidOperationException):
        llm.tokenize(prompt)
    with pytest.raises(corun.HailoRTNotFoundException):
        LLM(vdevice, os.path.join(TEST_MODEL_DIR, "genai", "absent.gguf"))


def test_speech2text_with_hailo_platform_names(vdevice):
    model = Speech2Text(vdevice, tiny("tiny_whisper.bin"), language="en")
    audio = (0.1 * np.sin(np.arange(16000 * 2) * 2 * np.pi * 440 / 16000)).astype(np.float32)
    segments = model.generate_all_segments(audio)
    text = model.generate_all_text(audio, task=Speech2TextTask.TRANSCRIBE)
    assert text == "".join(segment.text for segment in segments)
    assert all(0.0 <= s.start_sec <= s.end_sec for s in segments)
    with pytest.raises(corun.HailoRTInvalidArgumentException):
        model.generate_all_text(np.zeros(0, np.float32))
    model.release()
