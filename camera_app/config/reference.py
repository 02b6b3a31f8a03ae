"""Generates the configuration reference (docs/configuration.md) from the pydantic models.

``python -m camera_app.config.reference > docs/configuration.md``; a test keeps the file in step.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from camera_app.config.app import AppConfig
from camera_app.config.cameras import CameraEntry


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{json.dumps(value, default=str)}`"


def _limits(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            parts.append(f"matches `{pattern}`")
    annotation = getattr(field.annotation, "__args__", None)
    if annotation and all(isinstance(a, str) for a in annotation):
        parts.append("one of " + ", ".join(f"`{a}`" for a in annotation))
    return "; ".join(parts)


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "One YAML file (`camera-app run --config FILE`, check it with `camera-app check-config "
        "FILE`). Every key is optional and has a safe default; unknown keys are errors. "
        "Polygons are lists of `[x, y]` corners in 0..1 frame coordinates (0,0 top left).",
        "",
        "Generated from the pydantic models by `python -m camera_app.config.reference`.",
        "",
        "**Masks saved in the owner app win over this file's.** `privacy_masks.color`, "
        "`privacy_masks.areas` and `motion.masks` are also edited in the owner app (`PUT "
        "/api/cameras/{camera_id}/masks`, see docs/api.md), which takes effect at once, without "
        "a restart. The app never writes this file (on a device installed by "
        "`deploy/install.sh` it is root's and `/etc` is read-only to the service, on purpose). "
        "It saves the owner's masks to `owner-masks.yaml` in `storage.data_dir`, which the "
        "service owns: written atomically (a power cut leaves the old file or the new one, "
        "never half), mode 0640, audited as `config_changed` with the owner as actor. Wherever "
        "the service loads its config (`camera-app run`, and `camera-app check-config FILE`, "
        "which prints a line when they replace this file's masks) the three keys of that file "
        "replace these three whole; every other key, `motion.threshold` included, is this "
        "file's. Without an `owner-masks.yaml` this file's masks apply. So a mask added here "
        "after the owner saved masks in the app does not apply (the start logs which keys are "
        "replaced); to go back to this file's masks, delete `owner-masks.yaml` and restart.",
        "",
        "`owner-masks.yaml` holds the same keys as here, every one required: "
        "`privacy_masks: {color: [B, G, R], areas: [...]}` and `motion: {masks: [...]}`. "
        "**A broken one fails closed:** if it cannot be read, is not YAML, or misses or "
        "misspells a key, the service does not start (exit 3, a config error, which systemd "
        "does not retry) and the message names the file and the key path "
        "(`privacy_masks.areas[0].points[1][0]: ...`). Starting with this file's masks instead "
        "would record what the owner hid, and the two cannot be merged when the owner's cannot "
        "be read. Fix it, or delete it to go back to this file's masks.",
        "",
        "**Several cameras** (`cameras:`, see docs/multi-camera.md): each entry has its own "
        "`capture`, `privacy_masks` and `motion_masks`, and the owner app saves each camera's "
        "masks to `owner-masks/<camera id>.yaml` in `storage.data_dir` (the same keys as "
        "`owner-masks.yaml`), laid over that entry's. A config gives either `cameras:` or "
        "`camera:` + `capture:`, never both; with `cameras:` the top-level `privacy_masks.areas` "
        "and `motion.masks` must be empty, an `owner-masks.yaml` of the one-camera form is "
        "refused (move it to `owner-masks/<camera id>.yaml`), and `--source` is refused.",
        "",
    ]
    for section, field in AppConfig.model_fields.items():
        if section == "cameras":
            model_type: type[BaseModel] = CameraEntry
            prefix = "cameras[N]"
        else:
            model = field.default_factory() if field.default_factory else None  # type: ignore[call-arg]
            assert isinstance(model, BaseModel)
            model_type, prefix = type(model), section
        doc = (model_type.__doc__ or "").strip()
        lines += [f"## `{section}:`", ""]
        if section == "cameras":
            lines += [" ".join((field.description or "").split()), ""]
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += ["| key | default | allowed | meaning |", "|---|---|---|---|"]
        lines += _rows(prefix, model_type)
        lines.append("")
    return "\n".join(lines)


def _rows(prefix: str, model: type[BaseModel]) -> list[str]:
    """One row per key; a nested section gets its own row, then one per key inside it."""
    rows = []
    for name, sub in model.model_fields.items():
        text = " ".join((sub.description or "").split())
        rows.append(f"| `{prefix}.{name}` | {_default(sub)} | {_limits(sub)} | {text} |")
        nested = sub.default_factory() if sub.default_factory else None  # type: ignore[call-arg]
        if isinstance(nested, BaseModel):
            rows += _rows(f"{prefix}.{name}", type(nested))
    return rows


if __name__ == "__main__":
    sys.stdout.write(render())
