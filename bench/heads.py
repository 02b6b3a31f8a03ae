"""Head-detector measurement on the annotated development set (../shared/data/faces-dev).

Run with ``python -m bench.heads [--output docs/privacy-detectors.md]``.

For each head-detector configuration it measures, on the same decoded frames:

* face coverage, per flag (profile, small, crowd, occluded, none) and per clip: a face counts
  as covered when one head box, grown 1.6x about its centre, covers at least half of the face
  box; at the detector's floor (0.3) and at 0.5;
* recall of the ``persons_no_face`` boxes (people seen from behind in animated_restaurant): a
  person counts as found when at least half of one head box lies inside the person's box;
* false head boxes per frame: boxes that touch no annotated face and lie mostly (half or more)
  inside no ``persons_no_face`` box;
* milliseconds per frame at the clip's own resolution and on 640x480 frames, with the process
  pinned to one CPU core and the interpreter on one thread.

With ``--output`` the generated tables replace the block between the markers in that Markdown
file (appended at its end the first time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bench.detectors import DATA, FLAGS, Clip, load_clips
from privacy.detect import BlazeFaceDetector, Detection, FaceDetector, TiledDetector
from privacy.detect.head import HeadDetector
from privacy.models import ModelIntegrityError, default_models_dir, verified_model

FLOOR = 0.3
CONFIDENT = 0.5
GROW = 1.6
START = "<!-- bench:heads:start -->"
END = "<!-- bench:heads:end -->"

Box = tuple[float, float, float, float]


@dataclass
class Tally:
    """Counts for one configuration on one clip; ``[0]`` at the floor, ``[1]`` at 0.5."""

    faces: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("all", *FLAGS), 0))
    covered: list[dict[str, int]] = field(
        default_factory=lambda: [dict.fromkeys(("all", *FLAGS), 0) for _ in range(2)]
    )
    missed: int = 0  # faces BlazeFace full range misses (at its floor 0.2, enlarged 1.3x)
    missed_covered: list[int] = field(default_factory=lambda: [0, 0])
    persons: int = 0
    persons_found: list[int] = field(default_factory=lambda: [0, 0])
    false_boxes: list[int] = field(default_factory=lambda: [0, 0])
    frames: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for key in self.faces:
            self.faces[key] += other.faces[key]
            for level in range(2):
                self.covered[level][key] += other.covered[level][key]
        self.persons += other.persons
        self.missed += other.missed
        for level in range(2):
            self.missed_covered[level] += other.missed_covered[level]
            self.persons_found[level] += other.persons_found[level]
            self.false_boxes[level] += other.false_boxes[level]
        self.frames += other.frames
        self.ms.extend(other.ms)


class HogHeads:
    """OpenCV's HOG people detector (no weights to provision), its person boxes read as head
    boxes: in the 64x128 window the person stands from y = 16 to 112, the head is the top
    eighth of that. Bench-only, for comparison."""

    name = "hog"

    def __init__(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector()))

    def detect(self, image: np.ndarray) -> list[Detection]:
        rects, weights = self.hog.detectMultiScale(image, winStride=(8, 8), scale=1.1)
        out = []
        for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=True):
            side = 0.14 * h
            box = (x + w / 2 - side / 2, y + 0.125 * h, side, side)
            # SVM margin to a 0-1 score: 0.5 at a margin of ln 2
            out.append(Detection(box, float(1 - np.exp(-max(weight, 0.0))), self.name))
        return out


def _inter(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def score_frame(
    dets: list[Detection],
    faces: list[tuple[Box, tuple[str, ...]]],
    persons: list[Box],
    face_missed: list[bool],
    tally: Tally,
) -> None:
    tally.frames += 1
    tally.persons += len(persons)
    tally.missed += sum(face_missed)
    for _, flags in faces:
        for key in ("all", *flags):
            tally.faces[key] += 1
    for level, threshold in enumerate((FLOOR, CONFIDENT)):
        kept = [d for d in dets if d.score >= threshold]
        grown = [d.scaled(GROW).box for d in kept]
        for (face, flags), missed in zip(faces, face_missed, strict=True):
            if any(_inter(g, face) >= 0.5 * face[2] * face[3] for g in grown):
                for key in ("all", *flags):
                    tally.covered[level][key] += 1
                tally.missed_covered[level] += missed
        for person in persons:
            if any(_inter(d.box, person) >= 0.5 * d.area for d in kept):
                tally.persons_found[level] += 1
        for det in kept:
            touches_face = any(_inter(det.box, face) > 0 for face, _ in faces)
            in_person = any(_inter(det.box, p) >= 0.5 * det.area for p in persons)
            if not touches_face and not in_person:
                tally.false_boxes[level] += 1


def load_persons(data_dir: Path, clip: Clip) -> dict[int, list[Box]]:
    ann = json.loads((data_dir / f"{clip.name}.json").read_text())
    return {
        int(k): [tuple(map(float, p["box"])) for p in v]  # type: ignore[misc]
        for k, v in ann.get("persons_no_face", {}).items()
    }


def faces_missed_by(detector: FaceDetector, clips: list[Clip]) -> dict[tuple[str, int], list[bool]]:
    """Per frame, which annotated faces ``detector`` misses (at 0.2, boxes enlarged 1.3x, as
    bench.detectors counts them)."""
    out = {}
    for clip in clips:
        for index, image in clip.frames:
            grown = [d.scaled(1.3).box for d in detector.detect(image) if d.score >= 0.2]
            out[clip.name, index] = [
                not any(_inter(g, face) >= 0.5 * face[2] * face[3] for g in grown)
                for face, _ in clip.faces.get(index, [])
            ]
    return out


def evaluate(
    detector: FaceDetector,
    clips: list[Clip],
    data_dir: Path,
    missed: dict[tuple[str, int], list[bool]],
) -> dict[str, Tally]:
    out = {}
    for clip in clips:
        persons = load_persons(data_dir, clip)
        tally = Tally()
        for _ in range(2):  # warm-up
            detector.detect(clip.frames[0][1])
        repeats = 5 if len(clip.frames) == 1 else 1  # a still image: median of a few runs
        for index, image in clip.frames:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                dets = detector.detect(image)
                times.append((time.perf_counter() - t0) * 1000)
            tally.ms.append(float(np.median(times)))
            faces = clip.faces.get(index, [])
            score_frame(dets, faces, persons.get(index, []), missed[clip.name, index], tally)
        out[clip.name] = tally
    return out


def persons_on_regions(
    detector: FaceDetector, clips: list[Clip], data_dir: Path
) -> tuple[int, list[int], float]:
    """The detector run on each ``persons_no_face`` box grown 1.2x (as the stage would run it on
    a faceless motion blob): people, people found at the floor / at 0.5, mean ms per region."""
    total, found, times = 0, [0, 0], []
    for clip in clips:
        persons = load_persons(data_dir, clip)
        for index, image in clip.frames:
            height, width = image.shape[:2]
            for person in persons.get(index, []):
                x, y, w, h = Detection(person, 1.0, "").scaled(1.2).box
                x0, y0 = max(0, int(x)), max(0, int(y))
                x1, y1 = min(width, int(x + w)), min(height, int(y + h))
                t0 = time.perf_counter()
                dets = detector.detect(np.ascontiguousarray(image[y0:y1, x0:x1]))
                times.append((time.perf_counter() - t0) * 1000)
                total += 1
                for level, threshold in enumerate((FLOOR, CONFIDENT)):
                    boxes = [
                        (bx + x0, by + y0, bw, bh)
                        for (bx, by, bw, bh), score in ((d.box, d.score) for d in dets)
                        if score >= threshold
                    ]
                    found[level] += any(_inter(b, person) >= 0.5 * b[2] * b[3] for b in boxes)
    return total, found, float(np.mean(times)) if times else 0.0


REGION = 6  # side of the region around a face, in face heights


def faces_on_regions(detector: FaceDetector, clips: list[Clip]) -> Tally:
    """The detector run on a square region around each annotated face (REGION face heights, the
    face centred across it and in its top quarter, clipped to the frame), as the stage would
    run it on the motion blob of a person: coverage of that face only."""
    tally = Tally()
    for clip in clips:
        for index, image in clip.frames:
            height, width = image.shape[:2]
            for face, flags in clip.faces.get(index, []):
                x, y, w, h = face
                side = REGION * h
                cx, cy = x + w / 2, y + h / 2 + (REGION / 4) * h
                x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
                x1, y1 = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
                dets = [
                    Detection((d.box[0] + x0, d.box[1] + y0, d.box[2], d.box[3]), d.score, "")
                    for d in detector.detect(np.ascontiguousarray(image[y0:y1, x0:x1]))
                ]
                score_frame(dets, [(face, flags)], [], [False], tally)
    return tally


def time_at_vga(detector: FaceDetector, frames: list[np.ndarray]) -> float:
    for _ in range(2):
        detector.detect(frames[0])
    t0 = time.perf_counter()
    for image in frames:
        detector.detect(image)
    return (time.perf_counter() - t0) * 1000 / len(frames)


def build_configs(model: Path) -> list[tuple[str, Callable[[], FaceDetector]]]:
    def head() -> HeadDetector:
        return HeadDetector(model, min_score=FLOOR)

    return [
        ("head (full frame)", head),
        ("head tiled 2x2 + full", lambda: TiledDetector(head(), grid=(2, 2), overlap=0.3)),
        ("head tiled 3x2 + full", lambda: TiledDetector(head(), grid=(3, 2), overlap=0.3)),
        ("HOG people (OpenCV), top of the person", HogHeads),
    ]


def _pct(found: int, total: int) -> str:
    return "–" if total == 0 else f"{100 * found / total:.0f} % ({found}/{total})"


def render(
    results: dict[str, dict[str, Tally]],
    vga_ms: dict[str, float],
    meta: dict[str, str],
    regions: tuple[int, list[int], float] | None,
    face_regions: Tally | None,
) -> str:
    lines = [
        START,
        f"Measured {meta['date']} on {meta['machine']}, one core; {meta['frames']} frames "
        f"(every {meta['stride']}th video frame), {meta['faces']} face boxes, "
        f"{meta['persons']} `persons_no_face` boxes. Cells: at the floor {FLOOR} / at "
        f"{CONFIDENT}.",
        "",
        "| configuration | " + " | ".join(("all", *FLAGS)) + " | persons_no_face | "
        "faces BlazeFace full misses | false boxes / frame | ms / frame native | "
        "ms / frame 640x480 |",
        "|---" * (len(FLAGS) + 7) + "|",
    ]
    for name, per_clip in results.items():
        total = Tally()
        for tally in per_clip.values():
            total.add(tally)
        cells = [
            f"{_pct(total.covered[0][k], total.faces[k])} / "
            f"{100 * total.covered[1][k] / max(total.faces[k], 1):.0f} %"
            for k in ("all", *FLAGS)
        ]
        persons = (
            f"{_pct(total.persons_found[0], total.persons)} / "
            f"{100 * total.persons_found[1] / max(total.persons, 1):.0f} %"
        )
        missed = (
            f"{_pct(total.missed_covered[0], total.missed)} / "
            f"{100 * total.missed_covered[1] / max(total.missed, 1):.0f} %"
        )
        false = " / ".join(f"{n / total.frames:.2f}" for n in total.false_boxes)
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {persons} | {missed} | {false} | "
            f"{np.mean(total.ms):.1f} | {vga_ms[name]:.1f} |"
        )
    lines += [
        "",
        "Per clip, face coverage and false boxes per frame (at the floor / at 0.5):",
        "",
        "| clip | " + " | ".join(results) + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    for clip in next(iter(results.values())):
        cells = []
        for per_clip in results.values():
            t = per_clip[clip]
            cells.append(
                f"{_pct(t.covered[0]['all'], t.faces['all'])} / "
                f"{100 * t.covered[1]['all'] / max(t.faces['all'], 1):.0f} %; "
                f"fp {t.false_boxes[0] / t.frames:.2f} / {t.false_boxes[1] / t.frames:.2f}"
            )
        lines.append(f"| {clip} | " + " | ".join(cells) + " |")
    if face_regions is not None:
        t = face_regions
        lines += [
            "",
            f"On regions around people: `head` run on a square of {REGION} face heights around "
            "each annotated face (the face in its top quarter, as in a person's motion blob), "
            "coverage of that face at the floor / at 0.5:",
            "",
            "| " + " | ".join(("all", *FLAGS)) + " |",
            "|---" * (len(FLAGS) + 1) + "|",
            "| "
            + " | ".join(
                f"{_pct(t.covered[0][k], t.faces[k])} / "
                f"{100 * t.covered[1][k] / max(t.faces[k], 1):.0f} %"
                for k in ("all", *FLAGS)
            )
            + " |",
        ]
    if regions is not None:
        people, found, ms = regions
        lines += [
            "",
            f"On regions: `head` run on each `persons_no_face` box grown 1.2× (as on a faceless "
            f"motion blob) finds {_pct(found[0], people)} of them at the floor and "
            f"{_pct(found[1], people)} at {CONFIDENT}, {ms:.1f} ms per region.",
        ]
    lines.append(END)
    return "\n".join(lines)


def write_block(path: Path, block: str) -> None:
    text = path.read_text(encoding="utf-8")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heads", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA, help="annotated face set")
    parser.add_argument("--models", type=Path, default=None, help="provisioned models dir")
    parser.add_argument("--stride", type=int, default=1, help="use every Nth video frame")
    parser.add_argument("--only", default=None, help="run configurations whose name contains this")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)

    if not args.data.is_dir() or not any(args.data.glob("*.json")):
        print(f"skipped: no annotated face set at {args.data}")
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    models_dir = args.models or default_models_dir()
    try:
        model = verified_model("blazepose_detector", models_dir).path
        full_range = verified_model("blazeface_full_range", models_dir).path
    except ModelIntegrityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    clips = load_clips(args.data, args.stride)
    persons_total = sum(
        len(load_persons(args.data, c).get(i, [])) for c in clips for i, _ in c.frames
    )
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "stride": str(args.stride),
        "frames": str(sum(len(c.frames) for c in clips)),
        "faces": str(sum(len(c.faces.get(i, [])) for c in clips for i, _ in c.frames)),
        "persons": str(persons_total),
    }
    vga = [
        cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)
        for clip in clips
        if clip.name in {"opera_arcade", "animated_restaurant"}
        for _, image in clip.frames[:10]
    ]
    with BlazeFaceDetector(full_range) as baseline:
        missed = faces_missed_by(baseline, clips)
    results: dict[str, dict[str, Tally]] = {}
    vga_ms: dict[str, float] = {}
    configs = build_configs(model)
    if args.only:
        configs = [(n, f) for n, f in configs if args.only in n]
    for name, make in configs:
        t0 = time.perf_counter()
        detector = make()
        results[name] = evaluate(detector, clips, args.data, missed)
        vga_ms[name] = time_at_vga(detector, vga)
        close = getattr(getattr(detector, "inner", detector), "close", None)
        if close is not None:
            close()
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    regions, face_regions = None, None
    if not args.only or "head" in args.only:
        with HeadDetector(model, min_score=FLOOR) as head:
            regions = persons_on_regions(head, clips, args.data)
            face_regions = faces_on_regions(head, clips)
    block = render(results, vga_ms, meta, regions, face_regions)
    print(block)
    if args.output:
        write_block(args.output, block)
        print(f"updated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
