"""Two measured choices of the privacy stage, on single frames of ../shared/data/faces-dev:

- ``crop_scale``: how many small faces (< 20 px) CenterFace finds when the picture is enlarged
  1x, 1.5x or 2x before detection (the stage enlarges its crops);
- ``dark_lift_below``: how many faces CenterFace + BlazeFace find in frames darkened to a mean
  grey of about 12 and 6 (with sensor noise), searched as they are or brightened (gamma to a
  mean of 110, as ``privacy.quality.lift``).

``python -m bench.conditions`` prints both tables (markdown). A face counts as found when the
centre of its annotated box lies in a detection at or above the stage's floors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from firmware.geometry import Box
from privacy.detect.base import Detection
from privacy.detect.blazeface import BlazeFaceDetector
from privacy.detect.centerface import CenterFaceDetector
from privacy.models import verified_model
from privacy.offline import video_frames
from privacy.quality import lift

FACES_DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces-dev"


def samples(names: list[str], every: int) -> Iterator[tuple[np.ndarray, list[dict[str, Any]]]]:
    """Every ``every``-th frame of the named clips (images whole) with their face boxes."""
    for name in names:
        meta = json.loads((FACES_DEV / f"{name}.json").read_text())
        media = FACES_DEV / meta["media"]
        if media.suffix == ".mp4":
            for i, image in enumerate(video_frames(media)[0]):
                if i % every == 0:
                    yield image, meta["frames"].get(str(i), [])
        else:
            image = cv2.imread(str(media))
            yield image, meta["frames"]["0"]


def found(face: dict[str, Any], boxes: list[Box]) -> bool:
    x, y, w, h = face["box"]
    cx, cy = x + w / 2, y + h / 2
    return any(bx <= cx <= bx + bw and by <= cy <= by + bh for bx, by, bw, bh in boxes)


def crop_scale_table(centerface: CenterFaceDetector) -> str:
    rows = ["| enlarged | faces < 20 px found | all faces found |", "|---|---:|---:|"]
    frames = list(samples(["volleyball_celebration", "opera_arcade"], 10))
    for scale in (1.0, 1.5, 2.0):
        small = small_total = hits = total = 0
        for image, faces in frames:
            big = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale)
            boxes = [tuple(v / scale for v in d.box) for d in centerface.detect(big)]
            for face in faces:
                total += 1
                hits += found(face, boxes)
                if face["box"][3] < 20:
                    small_total += 1
                    small += found(face, boxes)
        rows.append(f"| {scale:g}x | {small}/{small_total} | {hits}/{total} |")
    return "\n".join(rows)


def dark_table(centerface: CenterFaceDetector, blazeface: BlazeFaceDetector) -> str:
    names = [
        "friends_poker",
        "friends_steps",
        "volleyball_celebration",
        "opera_arcade",
        "animated_restaurant",
    ]
    frames = list(samples(names, 25))
    rows = [
        "| darkened to | mean grey | found as is | found brightened |",
        "|---|---:|---:|---:|",
    ]
    rng = np.random.default_rng(1)
    for factor in (1.0, 0.15, 0.08):
        plain = lifted = total = 0
        means = []
        for image, faces in frames:
            noise = rng.normal(0, 1.5, image.shape)
            dark = np.clip(image.astype(np.float32) * factor + noise, 0, 255).astype(np.uint8)
            mean = float(cv2.cvtColor(dark, cv2.COLOR_BGR2GRAY).mean())
            means.append(mean)
            for picture, counter in ((dark, "plain"), (lift(dark, mean), "lifted")):
                dets: list[Detection] = centerface.detect(picture) + blazeface.detect(picture)
                n = sum(found(f, [d.box for d in dets]) for f in faces)
                if counter == "plain":
                    plain += n
                else:
                    lifted += n
            total += len(faces)
        grey = float(np.mean(means))
        rows.append(
            f"| {factor:g} of the light | {grey:.1f} | {plain}/{total} | {lifted}/{total} |"
        )
    return "\n".join(rows)


def main() -> None:
    if not FACES_DEV.is_dir():
        raise SystemExit(f"{FACES_DEV} is not present")
    centerface = CenterFaceDetector(verified_model("centerface").path, min_score=0.15)
    blazeface = BlazeFaceDetector(verified_model("blazeface_full_range").path, min_score=0.45)
    print("Crop enlargement (CenterFace, every 10th frame of opera_arcade, volleyball):\n")
    print(crop_scale_table(centerface))
    print("\nDark frames (CenterFace + BlazeFace, every 25th frame, the photos):\n")
    print(dark_table(centerface, blazeface))
    blazeface.close()


if __name__ == "__main__":
    main()
