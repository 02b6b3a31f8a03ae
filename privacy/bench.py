"""``camera-app privacy-bench``: redact an annotated face set and judge every face on pixels."""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from privacy.leakcheck import crop, leak_score
from privacy.offline import (
    MediaError,
    is_image,
    read_image,
    redact_media,
    video_frames,
    write_report,
)
from privacy.stage import PrivacyStage

log = logging.getLogger(__name__)

FLAGS = ("profile", "small", "crowd", "occluded")
#: scene type of a clip whose annotation has no ``"scene"`` key (faces-dev has none)
UNLABELLED = "unlabelled"


def _frames(path: Path) -> Iterator[np.ndarray]:
    return iter([read_image(path)]) if is_image(path) else video_frames(path)[0]


def _flag_names(face: dict[str, Any]) -> list[str]:
    flags = [f for f in face.get("flags", []) if f in FLAGS]
    return flags or ["none"]


def bench_clip(annotation: Path, stage: PrivacyStage, workdir: Path) -> dict[str, Any]:
    """Redact one annotated clip and count leaked faces per flag."""
    try:
        meta = json.loads(annotation.read_text())
    except json.JSONDecodeError as err:
        raise MediaError(f"{annotation}: not valid JSON ({err})") from None
    media = annotation.parent / meta["media"]
    output = _redacted_output(annotation, media, workdir)
    result = redact_media(stage, media, output, progress=False)
    write_report(workdir / f"{annotation.stem}.report.json", result.report)
    statuses = [f["status"] for f in result.report["frames"]]
    faces: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    withheld_faces: Counter[str] = Counter()
    leaks: list[dict[str, Any]] = []
    for index, (orig, red) in enumerate(zip(_frames(media), _frames(output), strict=True)):
        if red.shape != orig.shape:
            red = cv2.resize(red, (orig.shape[1], orig.shape[0]))
        for face in meta["frames"].get(str(index), []):
            flags = _flag_names(face)
            for flag in [*flags, "all"]:
                faces[flag] += 1
            if statuses[index] != "streamed":
                for flag in [*flags, "all"]:
                    withheld_faces[flag] += 1
                continue
            o, r = crop(orig, face["box"]), crop(red, face["box"])
            if o is None or r is None:
                continue
            score = leak_score(o, r)
            if score.leaked:
                for flag in [*flags, "all"]:
                    leaked[flag] += 1
                leaks.append(
                    {
                        "frame": index,
                        "box": face["box"],
                        "flags": flags,
                        "retention": round(score.retention, 3),
                        "corr": round(score.corr, 3),
                    }
                )
    frames = len(statuses)
    covered = _redacted_fractions(result.report["frames"], meta["width"], meta["height"])
    return {
        "clip": annotation.stem,
        "scene": meta.get("scene") or UNLABELLED,
        "frames": frames,
        "withheld_frames": result.withheld,
        "withheld_ratio": result.withheld / frames if frames else 0.0,
        "faces": dict(faces),
        "leaked": dict(leaked),
        "faces_in_withheld_frames": dict(withheld_faces),
        # share of each streamed frame that is redacted: the scene must stay watchable
        "redacted_area": {
            "mean": sum(covered) / len(covered) if covered else 0.0,
            "max": max(covered, default=0.0),
        },
        "fps": result.report["fps"],
        "latency_ms": result.report["latency_ms"],
        "counts": result.report["counts"],
        "leaks": leaks,
        "models": result.report["models"],
    }


def _redacted_output(annotation: Path, media: Path, workdir: Path) -> Path:
    suffix = media.suffix if media.suffix != ".jpg" else ".png"
    return workdir / f"{annotation.stem}.redacted{suffix}"


def _write_judge_manifest(annotations: list[Path], workdir: Path) -> None:
    entries = []
    for annotation in annotations:
        media = annotation.parent / json.loads(annotation.read_text())["media"]
        entries.append(
            {
                "annotation": str(annotation.resolve()),
                "original": str(media.resolve()),
                "redacted": str(_redacted_output(annotation, media, workdir).resolve()),
                "report": str((workdir / f"{annotation.stem}.report.json").resolve()),
            }
        )
    (workdir / "judge-manifest.json").write_text(json.dumps(entries, indent=1))


def _redacted_fractions(records: list[dict[str, Any]], width: int, height: int) -> list[float]:
    out = []
    for rec in records:
        if rec["status"] != "streamed":
            continue
        mask = np.zeros((height, width), np.uint8)
        for x, y, w, h in rec["regions"]:
            mask[y : y + h, x : x + w] = 1
        out.append(float(mask.mean()))
    return out


def run_bench(
    data_dir: Path, make_stage: Callable[[], PrivacyStage], keep: Path | None = None
) -> dict[str, Any]:
    """Bench every ``*.json`` annotation in ``data_dir`` (each clip gets a fresh stage).

    With ``keep``, the redacted media and each clip's report stay there, with
    ``judge-manifest.json`` for the reference judge (``score_redaction.py --manifest``)."""
    annotations = sorted(p for p in data_dir.glob("*.json") if "media" in p.read_text()[:4096])
    if not annotations:
        raise MediaError(f"{data_dir}: no annotated clips (*.json with a 'media' key)")
    clips = []
    with tempfile.TemporaryDirectory(prefix="privacy-bench-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for annotation in annotations:
            stage = make_stage()
            try:
                clips.append(bench_clip(annotation, stage, workdir))
            finally:
                stage.close()
            log.info("%s: done", annotation.stem)
        if keep is not None:
            _write_judge_manifest(annotations, keep)
    per_flag: dict[str, dict[str, int]] = defaultdict(lambda: {"faces": 0, "leaked": 0})
    for clip in clips:
        for flag, n in clip["faces"].items():
            per_flag[flag]["faces"] += n
            per_flag[flag]["leaked"] += clip["leaked"].get(flag, 0)
    frames = sum(c["frames"] for c in clips)
    withheld = sum(c["withheld_frames"] for c in clips)
    return {
        "clips": clips,
        "per_flag": dict(per_flag),
        "per_scene": per_scene(clips),
        "total": {
            "frames": frames,
            "withheld_frames": withheld,
            "withheld_ratio": withheld / frames if frames else 0.0,
            "faces": per_flag["all"]["faces"],
            "leaked": per_flag["all"]["leaked"],
        },
    }


def per_scene(clips: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Faces, leaks and withheld frames summed over the clips of each scene type."""
    scenes: dict[str, dict[str, Any]] = {}
    for clip in clips:
        s = scenes.setdefault(
            clip["scene"], {"clips": 0, "frames": 0, "withheld_frames": 0, "faces": 0, "leaked": 0}
        )
        s["clips"] += 1
        s["frames"] += clip["frames"]
        s["withheld_frames"] += clip["withheld_frames"]
        s["faces"] += clip["faces"].get("all", 0)
        s["leaked"] += clip["leaked"].get("all", 0)
    for s in scenes.values():
        s["withheld_ratio"] = s["withheld_frames"] / s["frames"] if s["frames"] else 0.0
    return dict(sorted(scenes.items()))


def format_table(result: dict[str, Any]) -> str:
    lines = [
        "| clip | frames | withheld | faces | leaked | redacted area mean / max "
        "| fps | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in result["clips"]:
        area = c["redacted_area"]
        lines.append(
            f"| {c['clip']} | {c['frames']} | {c['withheld_ratio']:.0%} | "
            f"{c['faces'].get('all', 0)} | {c['leaked'].get('all', 0)} | "
            f"{area['mean']:.0%} / {area['max']:.0%} | {c['fps']:.1f} | "
            f"{c['latency_ms']['p50']:.1f} | {c['latency_ms']['p95']:.1f} |"
        )
    t = result["total"]
    lines.append(
        f"| **all** | {t['frames']} | {t['withheld_ratio']:.0%} | {t['faces']} | {t['leaked']} "
        "| | | | |"
    )
    lines += ["", "| flag | faces | leaked |", "|---|---:|---:|"]
    for flag in (*FLAGS, "none", "all"):
        if flag in result["per_flag"]:
            f = result["per_flag"][flag]
            lines.append(f"| {flag} | {f['faces']} | {f['leaked']} |")
    lines += [
        "",
        "| scene | clips | frames | withheld frames | withheld | faces | leaked |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scene, s in result["per_scene"].items():
        lines.append(
            f"| {scene} | {s['clips']} | {s['frames']} | {s['withheld_frames']} | "
            f"{s['withheld_ratio']:.0%} | {s['faces']} | {s['leaked']} |"
        )
    return "\n".join(lines)
