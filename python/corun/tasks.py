"""corun's task pipelines as functions returning plain Python objects.

    >>> import corun.tasks
    >>> [d.label for d in corun.tasks.detect("dog.jpg")]
    ['dog', 'bicycle', 'truck', 'car']

Images are paths, encoded bytes (JPEG, PNG, ...), or numpy uint8 arrays in OpenCV's BGR order
(H x W x 3, H x W x 4 or H x W). Audio is a path to a WAV file or a 1-D float array with its
sample_rate. The zoo models come from $CORUN_CACHE_DIR, else the checkout's .cache
(scripts/fetch_models.sh); each pipeline is created once per VDevice and options, on the
VDevice given or on a default one (group "SHARED", the same group as `corun` in-process).
"""

import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from . import _corun
from ._corun import VDevice

_native = _corun.tasks


@dataclass(frozen=True)
class Detection:
    """One object: its COCO label, score, and box (x1, y1, x2, y2) in image pixels."""

    label: str
    label_id: int
    score: float
    box: Tuple[float, float, float, float]


@dataclass(frozen=True)
class Face:
    """One face: score, box (x1, y1, x2, y2) and six keypoints (x, y) in image pixels: right eye,
    left eye, nose tip, mouth centre, right ear, left ear (the subject's right)."""

    score: float
    box: Tuple[float, float, float, float]
    keypoints: List[Tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class TextLine:
    """One line of text read: the text, its confidence, and its box's four corners (clockwise
    from the top left) in image pixels."""

    text: str
    confidence: float
    box: List[Tuple[float, float]]
    box_score: float
    rotated: bool


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of speech, in seconds from the start of the audio."""

    start_s: float
    end_s: float


_lock = threading.Lock()
_default_vdevice: Optional[VDevice] = None
_pipelines: Dict[tuple, object] = {}


def _device(vdevice):
    global _default_vdevice
    if vdevice is not None:
        return vdevice
    with _lock:
        if _default_vdevice is None:
            _default_vdevice = VDevice()
        return _default_vdevice


def _pipeline(kind, vdevice, options, create):
    """The pipeline of this kind and options on this VDevice, created on first use."""
    device = _device(vdevice)
    key = (kind, id(device), options)
    with _lock:
        pipeline = _pipelines.get(key)
    if pipeline is None:
        pipeline = create(device)
        with _lock:
            pipeline = _pipelines.setdefault(key, pipeline)
    return pipeline


def model_paths(cache_dir: Optional[str] = None) -> Dict[str, str]:
    """Where the task models are: the zoo's files under cache_dir (default_cache_dir())."""
    return _native.default_model_paths(cache_dir or _native.default_cache_dir())


def detect(image, *, score_threshold: float = 0.35, iou_threshold: float = 0.6,
           letterbox: bool = False, vdevice: Optional[VDevice] = None) -> List[Detection]:
    """COCO objects in the image (NanoDet), best first."""
    paths = model_paths()
    detector = _pipeline(
        "detect", vdevice, (score_threshold, iou_threshold, letterbox),
        lambda device: _native.ObjectDetector(device, paths["nanodet"], paths["coco_labels"],
                                              score_threshold, iou_threshold, letterbox))
    return [Detection(**found) for found in detector.detect(image)]


def faces(image, *, score_threshold: float = 0.75,
          vdevice: Optional[VDevice] = None) -> List[Face]:
    """Faces in the image (BlazeFace, the back-camera model), best first."""
    paths = model_paths()
    detector = _pipeline(
        "faces", vdevice, (score_threshold,),
        lambda device: _native.FaceDetector(device, paths["blazeface"], score_threshold))
    return [Face(**found) for found in detector.detect(image)]


def ocr(image, *, vdevice: Optional[VDevice] = None) -> List[TextLine]:
    """The text lines of the image (PP-OCRv4), in reading order."""
    paths = model_paths()
    pipeline = _pipeline(
        "ocr", vdevice, (),
        lambda device: _native.OcrPipeline(device, paths["ocr_detector"], paths["ocr_recognizer"],
                                           paths["ocr_classifier"], paths["ocr_keys"]))
    return [TextLine(**line) for line in pipeline.read(image)]


def vad(audio, sample_rate: int = 16000, *, threshold: float = 0.5,
        vdevice: Optional[VDevice] = None) -> List[SpeechSegment]:
    """Speech segments (Silero VAD) of a WAV file or of float samples at sample_rate."""
    paths = model_paths()
    detector = _pipeline(
        "vad", vdevice, (threshold,),
        lambda device: _native.VoiceActivityDetector(device, paths["silero_vad"], threshold))
    return [SpeechSegment(**segment) for segment in detector.detect(audio, sample_rate)]


__all__ = ["Detection", "Face", "TextLine", "SpeechSegment", "detect", "faces", "ocr", "vad",
           "model_paths"]
