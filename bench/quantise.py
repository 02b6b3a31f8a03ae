"""Int8 CenterFace against the fp32 one: speed on one core and agreement on faces-dev.

    python -m bench.quantise [--methods MinMax Entropy Percentile] [--keep-float NODE ...]
                             [--stride N] [--runs N] [--json FILE]

For each calibration method, the pinned fp32 CenterFace (made shape-dynamic as the detector
does, at opset 13) is run over the calibration images -- the photographs that the scikit-image
wheel bundles and two mosaics of its LFW face crops, never a faces-dev frame
(``skimage.data.astronaut()`` is left out: faces-dev holds it) -- and onnxruntime's static
quantiser makes a QDQ model from those activation ranges: weights int8 per output channel,
activations uint8 per tensor. Every int8 model is quantised twice (are the bytes identical?)
and run twice (is the result identical?), loaded by the unchanged ``CenterFaceDetector``.

Then, all models at the stage's floor (0.15), one core (pin the process with ``taskset``):
ms per ``detect`` call at 640x480 and 1280x720 (real frames, median of ``--runs`` runs,
interleaved between models; thread CPU time and wall time), and on every annotated face of
faces-dev the best score among detections that overlap it (IoU >= 0.3 or the detection's
centre inside the face box): faces found at 0.15 and at 0.5 per flag, faces the fp32 model
finds and an int8 one does not, and detections >= 0.5 that overlap no face, per frame.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.detectors import DATA, FLAGS, Clip, load_clips
from bench.monitoring import cpu_name
from privacy.detect import CenterFaceDetector, Detection
from privacy.detect.centerface import input_blob
from privacy.models import verified_model

log = logging.getLogger(__name__)

# QuantizeLinear/DequantizeLinear with per-channel axes need opset 13; the upstream file is 9
OPSET = 13

FLOOR = 0.15
CONFIDENT = 0.5
MATCH_IOU = 0.3
# calibration images: the photographs bundled in the scikit-image wheel (no download), minus
# astronaut.png (it is faces-dev's astronaut_portrait); lfw_subset adds 200 small face crops
CALIBRATION_FILES = (
    "camera.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "brick.png",
    "grass.png",
    "gravel.png",
    "coins.png",
    "moon.png",
    "page.png",
    "text.png",
    "ihc.png",
    "retina.jpg",
)
CALIBRATION_SIZE = (640, 480)


def calibration_images() -> list[tuple[str, np.ndarray]]:
    """BGR uint8 calibration images, 640x480 each: the bundled skimage photographs and two
    mosaics of the skimage LFW subset's 25x25 faces (at 2x and 4x)."""
    import skimage
    from skimage import data

    base = Path(skimage.__file__).parent / "data"
    out = []
    for name in CALIBRATION_FILES:
        image = cv2.imread(str(base / name), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read {base / name}")
        out.append((name, image))
    faces = (np.clip(data.lfw_subset(), 0, 1) * 255).round().astype(np.uint8)  # 200 x 25 x 25
    for zoom, count, cols in ((2, 200, 20), (4, 50, 10)):
        rows = count // cols
        grid = faces[:count].reshape(rows, cols, 25, 25).transpose(0, 2, 1, 3)
        mosaic = grid.reshape(rows * 25, cols * 25)
        mosaic = cv2.resize(mosaic, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        out.append((f"lfw_subset x{zoom}", cv2.cvtColor(mosaic, cv2.COLOR_GRAY2BGR)))
    return [(name, _fit(image)) for name, image in out]


def _fit(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk to fit 640x480 if larger, placed top-left on a black 640x480 canvas (the
    histogram calibrators need one input shape; the detector zero-pads the same way)."""
    width, height = CALIBRATION_SIZE
    scale = min(1.0, width / image.shape[1], height / image.shape[0])
    if scale < 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[: image.shape[0], : image.shape[1]] = image
    return canvas


METHODS = ("MinMax", "Entropy", "Percentile")  # onnxruntime CalibrationMethod names
PERCENTILE = 99.999


class _Frames:
    """An onnxruntime CalibrationDataReader over a list of input blobs."""

    def __init__(self, input_name: str, images: list[np.ndarray]) -> None:
        self._input = input_name
        self._it: Iterator[np.ndarray] = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        blob = next(self._it, None)
        return None if blob is None else {self._input: blob}


def prepare_for_quantisation(fp32: bytes) -> Any:
    """The fp32 CenterFace as the quantiser (and the calibration) see it: shape-dynamic, without
    weights listed as inputs (:func:`~privacy.detect.centerface.make_dynamic`), at opset 13.
    Returns an ``onnx.ModelProto``."""
    import onnx
    from onnx import version_converter

    from privacy.detect.centerface import make_dynamic

    model = onnx.load_from_string(make_dynamic(fp32))
    model = version_converter.convert_version(model, OPSET)
    # the export leaves nodes unnamed; name them after their first output so that recipes can
    # name the nodes they keep in float
    for node in model.graph.node:
        if not node.name:
            node.name = f"{node.op_type}_{node.output[0]}"
    return model


def quantise_centerface(
    fp32: bytes, ranges: dict[str, Any], *, keep_float: Sequence[str] = (), qoperator: bool = False
) -> bytes:
    """The int8 model (QDQ, or QOperator) made from the fp32 CenterFace bytes and activation
    ``ranges`` (from :func:`calibrate`): weights int8 per output channel, activations uint8 per
    tensor; the nodes in ``keep_float`` stay fp32."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    method = CalibrationMethod[ranges["method"]]
    table = TensorsData(
        method,
        {
            name: TensorData(lowest=np.float32(low), highest=np.float32(high))
            for name, (low, high) in sorted(ranges["ranges"].items())
        },
    )
    model = prepare_for_quantisation(fp32)
    with tempfile.TemporaryDirectory(prefix="centerface-int8-") as tmp:
        cache = Path(tmp) / "ranges.json"
        save_tensors_data(table, cache)
        out = Path(tmp) / "centerface_int8.onnx"
        quantize_static(
            model,
            out,
            calibration_data_reader=None,
            quant_format=QuantFormat.QOperator if qoperator else QuantFormat.QDQ,
            nodes_to_exclude=list(keep_float),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=method,
            calibration_cache_path=cache,
        )
        quantised = onnx.load(str(out))
    # the quantiser stamps its own version; keep the file about the model and the recipe only
    quantised.producer_name, quantised.producer_version = "camera-app", "centerface-int8"
    data: bytes = quantised.SerializeToString()
    return data


def calibrate(fp32: bytes, method: str, images: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Activation ranges of the prepared fp32 model over ``images`` (BGR):
    ``{"method", "source", "ranges": {tensor: [low, high]}}``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    model = prepare_for_quantisation(fp32)
    with tempfile.TemporaryDirectory(prefix="centerface-calib-") as tmp:
        path = Path(tmp) / "model.onnx"
        onnx.save_model(model, str(path))
        calibrator = create_calibrator(
            path,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod[method],
            extra_options=(
                {"percentile": PERCENTILE}
                if method == "Percentile"
                else {"max_intermediate_outputs": 4}
                if method == "MinMax"
                else {}
            ),
        )
        blobs = [input_blob(image) for _, image in images]
        calibrator.collect_data(_Frames(model.graph.input[0].name, blobs))
        table = calibrator.compute_data()
    import skimage

    return {
        "method": method,
        "source": {
            "images": [name for name, _ in images],
            "package": f"scikit-image=={skimage.__version__}",
            "note": "skimage/data photographs and lfw_subset mosaics, fitted into 640x480",
            "percentile": PERCENTILE if method == "Percentile" else None,
        },
        "ranges": {
            name: [_scalar(data.range_value[0]), _scalar(data.range_value[1])]
            for name, data in sorted(table.data.items())
        },
    }


def _scalar(value: Any) -> float:
    array = np.asarray(value, dtype=np.float32)
    if array.size != 1:
        raise ValueError(f"expected one range value per tensor, got shape {array.shape}")
    return float(array.reshape(()))


# --- comparison on faces-dev ------------------------------------------------------------------


def _matches(det: Detection, face: tuple[float, ...]) -> bool:
    x, y, w, h = det.box
    cx, cy = x + w / 2, y + h / 2
    if face[0] <= cx <= face[0] + face[2] and face[1] <= cy <= face[1] + face[3]:
        return True
    ix = max(0.0, min(x + w, face[0] + face[2]) - max(x, face[0]))
    iy = max(0.0, min(y + h, face[1] + face[3]) - max(y, face[1]))
    inter = ix * iy
    return inter >= MATCH_IOU * (w * h + face[2] * face[3] - inter)


def best_scores(dets: list[Detection], faces: list[tuple[tuple[float, ...], Any]]) -> list[float]:
    """For each face, the best score among the detections that overlap it (0 when none)."""
    return [max((d.score for d in dets if _matches(d, box)), default=0.0) for box, _ in faces]


def false_detections(dets: list[Detection], faces: list[tuple[tuple[float, ...], Any]]) -> int:
    """Detections scoring >= 0.5 that overlap no annotated face."""
    return sum(
        1 for d in dets if d.score >= CONFIDENT and not any(_matches(d, b) for b, _ in faces)
    )


def agreement(
    detectors: dict[str, CenterFaceDetector], clips: list[Clip]
) -> tuple[list[dict[str, Any]], dict[str, int], int]:
    """Per face: clip, frame, flags and each detector's best score; false detections per
    detector; frames."""
    faces_out: list[dict[str, Any]] = []
    false = dict.fromkeys(detectors, 0)
    frames = 0
    for clip in clips:
        for index, image in clip.frames:
            faces = clip.faces.get(index, [])
            frames += 1
            row = [{"clip": clip.name, "frame": index, "flags": list(f)} for _, f in faces]
            for name, det in detectors.items():
                dets = det.detect(image)
                false[name] += false_detections(dets, faces)
                for entry, score in zip(row, best_scores(dets, faces), strict=True):
                    entry[name] = score
            faces_out.extend(row)
        log.info("scored %s (%d frames)", clip.name, len(clip.frames))
    return faces_out, false, frames


def per_flag(faces: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """Per flag (and "all"): faces, found at the floor and at 0.5 by each detector, faces the
    first detector finds at the floor and another does not (lost), and score differences."""
    out: dict[str, dict[str, Any]] = {}
    ref = names[0]
    for flag in ("all", *FLAGS):
        group = [f for f in faces if flag == "all" or flag in f["flags"]]
        row: dict[str, Any] = {"faces": len(group)}
        for name in names:
            row[f"{name}>=floor"] = sum(f[name] >= FLOOR for f in group)
            row[f"{name}>=0.5"] = sum(f[name] >= CONFIDENT for f in group)
        for name in names[1:]:
            row[f"{name} lost"] = sum(f[ref] >= FLOOR > f[name] for f in group)
            row[f"{name} lost@0.5"] = sum(f[ref] >= CONFIDENT > f[name] for f in group)
            diff = np.array([f[name] - f[ref] for f in group if f[ref] >= FLOOR] or [0.0])
            row[f"{name} mean |diff|"] = round(float(np.abs(diff).mean()), 4)
            row[f"{name} worst drop"] = round(float(diff.min()), 4)
        out[flag] = row
    return out


# --- speed --------------------------------------------------------------------------------------


def speed(
    detectors: dict[str, CenterFaceDetector], frames: list[np.ndarray], runs: int
) -> dict[str, dict[str, float]]:
    """Median ms per ``detect`` call (CPU time of this thread, and wall time) on ``frames``;
    runs interleave the detectors so load changes on a shared machine hit all alike; two
    warm-up calls each first. onnxruntime runs on the calling thread (one intra-op thread)."""
    cpu: dict[str, list[float]] = {k: [] for k in detectors}
    wall: dict[str, list[float]] = {k: [] for k in detectors}
    for detector in detectors.values():
        for _ in range(2):
            detector.detect(frames[0])
    for i in range(runs):
        frame = frames[i % len(frames)]
        for key, detector in detectors.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            detector.detect(frame)
            cpu[key].append((time.thread_time() - c0) * 1000)
            wall[key].append((time.perf_counter() - t0) * 1000)
    return {
        k: {"cpu_ms": float(np.median(cpu[k])), "wall_ms": float(np.median(wall[k]))}
        for k in detectors
    }


def speed_frames(clips: list[Clip], size: tuple[int, int]) -> list[np.ndarray]:
    """Real frames at ``size`` (w, h): the first frame of each faces-dev clip, resized."""
    return [cv2.resize(c.frames[0][1], size, interpolation=cv2.INTER_AREA) for c in clips]


# --- the command --------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _markdown(result: dict[str, Any], names: list[str]) -> str:
    lines = [
        f"Speed (one core, median of {result['runs']} runs after 2 warm-ups, ms per frame: "
        "CPU time of the thread / wall time):",
        "",
        "| model | " + " | ".join(result["speed"]) + " |",
        "|---|" + "---|" * len(result["speed"]),
    ]
    for name in names:
        cells = [
            f"{v[name]['cpu_ms']:.1f} / {v[name]['wall_ms']:.1f}" for v in result["speed"].values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "per_flag" not in result:
        return "\n".join(lines)
    lines += [
        "",
        f"Faces found at >= {FLOOR} / >= {CONFIDENT} (best score of an overlapping detection); "
        f"in brackets, faces {names[0]} finds at that threshold and the model does not:",
        "",
        "| flag | faces | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for flag, row in result["per_flag"].items():
        cells = [f"{row[f'{names[0]}>=floor']} / {row[f'{names[0]}>=0.5']}"]
        for n in names[1:]:
            cells.append(
                f"{row[f'{n}>=floor']} / {row[f'{n}>=0.5']} "
                f"(lost {row[f'{n} lost']} / {row[f'{n} lost@0.5']})"
            )
        lines.append(f"| {flag} | {row['faces']} | " + " | ".join(cells) + " |")
    overall = result["per_flag"]["all"]
    lines += [
        "",
        f"Score change against {names[0]} on the faces it finds at {FLOOR} (mean |Δ|, worst "
        "drop): "
        + ", ".join(
            f"{n} {overall[f'{n} mean |diff|']:.3f}, {overall[f'{n} worst drop']:+.3f}"
            for n in names[1:]
        ),
    ]
    frames = result["frames"]
    lines += [
        "",
        f"False detections >= {CONFIDENT} per frame ({frames} frames): "
        + ", ".join(f"{n} {result['false'][n] / frames:.3f}" for n in names),
    ]
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Build the int8 models, check determinism, time and score them against fp32; print the
    Markdown tables and return the numbers."""
    fp32_info = verified_model("centerface", args.models)
    fp32 = fp32_info.path.read_bytes()
    images = calibration_images()
    recipes: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}
    for method in args.methods:
        log.info("calibrating with %s on %d images", method, len(images))
        ranges = calibrate(fp32, method, images)
        recipes[f"int8 {method}"] = (ranges, ())
        if args.keep_float:
            recipes[f"int8 {method} +float"] = (ranges, tuple(args.keep_float))
    tmp = Path(tempfile.mkdtemp(prefix="centerface-int8-"))
    detectors = {"fp32": CenterFaceDetector(fp32_info.path, min_score=FLOOR, name="fp32")}
    determinism: dict[str, Any] = {}
    for name, (ranges, keep_float) in recipes.items():
        data = quantise_centerface(fp32, ranges, keep_float=keep_float)
        again = quantise_centerface(fp32, ranges, keep_float=keep_float)
        path = tmp / f"{name.replace(' ', '_')}.onnx"
        path.write_bytes(data)
        determinism[name] = {"sha256": _sha(data), "requantised_identical": data == again}
        detectors[name] = CenterFaceDetector(path, min_score=FLOOR, name=name)
    clips = load_clips(DATA, args.stride)
    for name, det in list(detectors.items())[1:]:
        twin = CenterFaceDetector(tmp / f"{name.replace(' ', '_')}.onnx", min_score=FLOOR)
        same = all(
            [(d.box, d.score) for d in det.detect(image)]
            == [(d.box, d.score) for d in twin.detect(image)]
            == [(d.box, d.score) for d in det.detect(image)]
            for clip in clips
            for _, image in clip.frames[:3]
        )
        determinism[name]["same_result_twice"] = same
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "host": f"{platform.machine()}, {cpu_name()}",
        "runs": args.runs,
        "determinism": determinism,
        "recipes": {
            k: {"method": r["method"], "source": r["source"], "keep_float": list(f)}
            for k, (r, f) in recipes.items()
        },
    }
    result["speed"] = {
        f"{w}x{h}": speed(detectors, speed_frames(clips, (w, h)), args.runs)
        for w, h in ((640, 480), (1280, 720))
    }
    log.info("speed: %s", result["speed"])
    names = list(detectors)
    faces: list[dict[str, Any]] = []
    if not args.speed_only:
        faces, false, frames = agreement(detectors, clips)
        result.update(per_flag=per_flag(faces, names), false=false, frames=frames)
    print(_markdown(result, names))
    if args.json:
        args.json.write_text(json.dumps({**result, "faces": faces}, indent=1) + "\n")
    print("determinism:", json.dumps(determinism, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quantise",
        description="fp32 vs int8 CenterFace on faces-dev: speed on one core and agreement",
    )
    parser.add_argument("--models", type=Path, default=None, help="models directory")
    parser.add_argument(
        "--methods", nargs="+", choices=sorted(METHODS), default=["Percentile"],
        help="calibration methods, one int8 model each (default: Percentile)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-float", nargs="+", default=[], metavar="NODE",
        help="also score, per method, a model with these nodes left in fp32 (e.g. Conv_536)",
    )  # fmt: skip
    parser.add_argument("--stride", type=int, default=1, help="every N-th video frame")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per model and size")
    parser.add_argument("--speed-only", action="store_true", help="time, do not score")
    parser.add_argument("--json", type=Path, default=None, help="also write all numbers here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    compare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
