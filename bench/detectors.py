"""Face-detector comparison on the annotated development set (../shared/data/faces-dev).

Run with ``python -m bench.detectors [--output docs/privacy-detectors.md]``.

For each detector configuration (single models, tiled variants, ensembles) and each clip it
measures, on the same decoded frames:

* recall of the annotated face boxes, per clip and per flag (profile, small, crowd, occluded,
  none), at the detectors' own low floor (0.2) and at 0.5. A face counts as found when some
  detection, enlarged 1.3x about its centre (as the redactor enlarges boxes), covers at least
  half of the face box;
* false positives: detections that match no face (no IoU >= 0.2 with any face box, not lying
  mostly inside one, and not covering half of one once enlarged), per frame;
* milliseconds per frame at the clip's own resolution, and on 640x480 frames (the design's
  budget size), with the whole process pinned to one CPU core and onnxruntime on one thread.

Videos are decoded once with PyAV (every ``--stride``-th frame) and held in memory, so decoding
is not timed. With ``--output`` the generated tables replace the block between the markers in
that Markdown file (the hand-written text around them is kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from privacy.detect import (
    BlazeFaceDetector,
    CenterFaceDetector,
    Detection,
    EnsembleDetector,
    FaceDetector,
    TiledDetector,
)
from privacy.models import ModelIntegrityError, default_models_dir, verified_model

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "faces-dev"
FLAGS = ("profile", "small", "crowd", "occluded", "none")
FLOOR = 0.2
CONFIDENT = 0.5
ENLARGE = 1.3
START = "<!-- bench:detectors:start -->"
END = "<!-- bench:detectors:end -->"


@dataclass
class Clip:
    """Decoded frames of one annotated clip and their face boxes."""

    name: str
    width: int
    height: int
    frames: list[tuple[int, np.ndarray]]
    faces: dict[int, list[tuple[tuple[float, float, float, float], tuple[str, ...]]]]


def load_clips(data_dir: Path, stride: int) -> list[Clip]:
    clips = []
    for ann_path in sorted(data_dir.glob("*.json")):
        ann = json.loads(ann_path.read_text())
        media = data_dir / ann["media"]
        frames: list[tuple[int, np.ndarray]] = []
        if ann.get("fps") is None:
            image = cv2.imread(str(media), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"cannot read {media}")
            frames.append((0, image))
        else:
            with av.open(str(media)) as container:
                for index, frame in enumerate(container.decode(video=0)):
                    if index % stride == 0:
                        frames.append((index, frame.to_ndarray(format="bgr24")))
        faces = {
            int(k): [(tuple(map(float, f["box"])), tuple(f.get("flags") or ("none",))) for f in v]
            for k, v in ann["frames"].items()
        }
        clips.append(Clip(ann_path.stem, ann["width"], ann["height"], frames, faces))  # type: ignore[arg-type]
    return clips


@dataclass
class Tally:
    """Counts for one detector on one clip."""

    faces: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("all", *FLAGS), 0))
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("all", *FLAGS), 0))
    found_confident: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("all", *FLAGS), 0)
    )
    false_pos: int = 0
    false_pos_confident: int = 0
    frames: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for key in self.faces:
            self.faces[key] += other.faces[key]
            self.found[key] += other.found[key]
            self.found_confident[key] += other.found_confident[key]
        self.false_pos += other.false_pos
        self.false_pos_confident += other.false_pos_confident
        self.frames += other.frames
        self.ms.extend(other.ms)


def _xyxy(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    out[:, 2] += out[:, 0]
    out[:, 3] += out[:, 1]
    return out


def _intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|A| x |B| intersection areas of xyxy boxes."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(iw, 0, None) * np.clip(ih, 0, None)


def score_frame(
    dets: list[Detection],
    faces: list[tuple[tuple[float, float, float, float], tuple[str, ...]]],
    tally: Tally,
) -> None:
    for _, flags in faces:
        for key in ("all", *flags):
            tally.faces[key] += 1
    tally.frames += 1
    if not dets:
        return
    scores = np.array([d.score for d in dets])
    raw = np.array([d.box for d in dets], dtype=np.float64)
    grown = np.array([d.scaled(ENLARGE).box for d in dets], dtype=np.float64)
    if not faces:
        tally.false_pos += len(dets)
        tally.false_pos_confident += int((scores >= CONFIDENT).sum())
        return
    gt = np.array([box for box, _ in faces], dtype=np.float64)
    gt_area = gt[:, 2] * gt[:, 3]
    raw_area = raw[:, 2] * raw[:, 3]
    covers = _intersections(_xyxy(grown), _xyxy(gt)) >= 0.5 * gt_area[None, :]  # D x G
    inter = _intersections(_xyxy(raw), _xyxy(gt))
    union = raw_area[:, None] + gt_area[None, :] - inter
    matched = covers | (inter >= 0.2 * union) | (inter >= 0.5 * raw_area[:, None])
    for threshold, found in ((FLOOR, tally.found), (CONFIDENT, tally.found_confident)):
        keep = scores >= threshold
        hit = covers[keep].any(axis=0)
        for g, (_, flags) in enumerate(faces):
            if hit[g]:
                for key in ("all", *flags):
                    found[key] += 1
    unmatched = ~matched.any(axis=1)
    tally.false_pos += int(unmatched.sum())
    tally.false_pos_confident += int((unmatched & (scores >= CONFIDENT)).sum())


def evaluate(detector: FaceDetector, clips: list[Clip]) -> dict[str, Tally]:
    out = {}
    for clip in clips:
        tally = Tally()
        # warm-up: the first calls at a new input size plan and allocate memory
        for _ in range(2):
            detector.detect(clip.frames[0][1])
        repeats = 3 if len(clip.frames) == 1 else 1  # a still image: median of a few runs
        for index, image in clip.frames:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                dets = detector.detect(image)
                times.append((time.perf_counter() - t0) * 1000)
            tally.ms.append(float(np.median(times)))
            score_frame(dets, clip.faces.get(index, []), tally)
        out[clip.name] = tally
    return out


def time_at_vga(detector: FaceDetector, frames: list[np.ndarray]) -> float:
    for _ in range(2):
        detector.detect(frames[0])
    t0 = time.perf_counter()
    for image in frames:
        detector.detect(image)
    return (time.perf_counter() - t0) * 1000 / len(frames)


def build_configs(models_dir: Path) -> list[tuple[str, Callable[[], FaceDetector]]]:
    def path(name: str) -> Path:
        return verified_model(name, models_dir).path

    def short() -> BlazeFaceDetector:
        return BlazeFaceDetector(path("blazeface_short_range"), min_score=FLOOR, name="short")

    def full() -> BlazeFaceDetector:
        return BlazeFaceDetector(path("blazeface_full_range"), min_score=FLOOR, name="full")

    def cf(width: int | None = None) -> CenterFaceDetector:
        return CenterFaceDetector(path("centerface"), min_score=FLOOR, input_width=width)

    return [
        ("short", short),
        ("full", full),
        ("centerface", cf),
        ("centerface@640", lambda: cf(640)),
        ("centerface@320", lambda: cf(320)),
        ("tiled 4x3 short (+full frame)", lambda: TiledDetector(short(), grid=(4, 3))),
        ("tiled 3x2 full (+full frame)", lambda: TiledDetector(full(), grid=(3, 2))),
        ("tiled 4x3 full (+full frame)", lambda: TiledDetector(full(), grid=(4, 3))),
        (
            "tiled 2x2 ×2 centerface (≈ centerface at 2× size)",
            lambda: TiledDetector(cf(), grid=(2, 2), upscale=2.0, full_frame=False),
        ),
        ("short + full", lambda: EnsembleDetector([short(), full()])),
        ("full + centerface@320", lambda: EnsembleDetector([full(), cf(320)])),
        ("full + centerface@640", lambda: EnsembleDetector([full(), cf(640)])),
        (
            "tiled 3x2 full + centerface@640",
            lambda: EnsembleDetector([TiledDetector(full(), grid=(3, 2)), cf(640)]),
        ),
        ("full + centerface", lambda: EnsembleDetector([full(), cf()])),
    ]


def _pct(found: int, total: int) -> str:
    return f"{100 * found / total:.0f}" if total else "–"


def render(
    results: dict[str, dict[str, Tally]],
    vga_ms: dict[str, float],
    clips: list[Clip],
    meta: dict[str, Any],
) -> str:
    lines = [
        f"Command: `python -m bench.detectors` ({meta['date']}); {meta['machine']}.",
        f"Frames: one video frame in {meta['stride']} and every image of faces-dev "
        f"({meta['frames']} frames, {meta['faces']} face boxes); process pinned to one CPU core, "
        "onnxruntime on one thread.",
        f"Recall in % at the detectors' floor ({FLOOR}) and, in brackets, at {CONFIDENT}; a face "
        f"is found when a detection enlarged {ENLARGE}× covers ≥ 50 % of its box. FP/frame: "
        "detections matching no face, per frame, at the floor (at 0.5). "
        "ms: mean per frame at the clips' own sizes, and at 640×480.",
        "",
        "### Recall per flag",
        "",
        "| configuration | all | profile | small | crowd | occluded | none | FP/frame | ms (clips) "
        "| ms @640×480 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, per_clip in results.items():
        total = Tally()
        for tally in per_clip.values():
            total.add(tally)
        cells = [
            f"{_pct(total.found[k], n)} ({_pct(total.found_confident[k], n)})"
            for k in ("all", *FLAGS)
            for n in [total.faces[k]]
        ]
        fp = (
            f"{total.false_pos / total.frames:.2f} ({total.false_pos_confident / total.frames:.2f})"
        )
        ms = f"{np.mean(total.ms):.1f}"
        lines.append(f"| {name} | {' | '.join(cells)} | {fp} | {ms} | {vga_ms[name]:.1f} |")
    lines += [
        "",
        "### Recall per clip (at the floor), and ms per frame at the clip's resolution",
        "",
        "| configuration | " + " | ".join(f"{c.name} {c.width}×{c.height}" for c in clips) + " |",
        "|---|" + "---:|" * len(clips),
    ]
    for name, per_clip in results.items():
        cells = []
        for clip in clips:
            t = per_clip[clip.name]
            cells.append(f"{_pct(t.found['all'], t.faces['all'])} % · {np.mean(t.ms):.0f} ms")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def write_block(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else f"# Face detectors\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{block}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.detectors", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA, help="annotated face set")
    parser.add_argument("--models", type=Path, default=None, help="provisioned models dir")
    parser.add_argument("--stride", type=int, default=2, help="use every Nth video frame")
    parser.add_argument("--only", default=None, help="run configurations whose name contains this")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file to update")
    parser.add_argument("--json", type=Path, default=None, help="also write raw numbers here")
    args = parser.parse_args(argv)

    if not args.data.is_dir() or not any(args.data.glob("*.json")):
        print(f"skipped: no annotated face set at {args.data}")
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    models_dir = args.models or default_models_dir()
    try:
        configs = build_configs(models_dir)
        for name in ("blazeface_short_range", "blazeface_full_range", "centerface"):
            verified_model(name, models_dir)
    except ModelIntegrityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.only:
        configs = [(n, f) for n, f in configs if args.only in n]

    t_start = time.perf_counter()
    clips = load_clips(args.data, args.stride)
    frames_total = sum(len(c.frames) for c in clips)
    faces_total = sum(len(c.faces.get(i, [])) for c in clips for i, _ in c.frames)
    print(f"{len(clips)} clips, {frames_total} frames, {faces_total} face boxes", flush=True)
    vga = [
        cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)
        for clip in clips
        if clip.name in {"opera_arcade", "animated_restaurant"}
        for _, image in clip.frames[:6]
    ]
    results: dict[str, dict[str, Tally]] = {}
    vga_ms: dict[str, float] = {}
    for name, make in configs:
        t0 = time.perf_counter()
        detector = make()
        results[name] = evaluate(detector, clips)
        vga_ms[name] = time_at_vga(detector, vga)
        for member in [
            detector,
            *getattr(detector, "detectors", []),
            getattr(detector, "inner", None),
        ]:
            close = getattr(member, "close", None)
            if close is not None:
                close()
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)

    meta = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}",
        "stride": args.stride,
        "frames": frames_total,
        "faces": faces_total,
    }
    block = render(results, vga_ms, clips, meta)
    print(block)
    print(f"total {time.perf_counter() - t_start:.0f} s")
    if args.output:
        write_block(args.output, block)
        print(f"updated {args.output}")
    if args.json:
        raw = {
            name: {
                clip: {
                    "faces": t.faces,
                    "found": t.found,
                    "found_confident": t.found_confident,
                    "false_pos": t.false_pos,
                    "false_pos_confident": t.false_pos_confident,
                    "frames": t.frames,
                    "ms_mean": float(np.mean(t.ms)),
                }
                for clip, t in per_clip.items()
            }
            for name, per_clip in results.items()
        }
        args.json.write_text(json.dumps({"meta": meta, "vga_ms": vga_ms, "results": raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
