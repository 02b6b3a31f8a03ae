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


def _default(field: FieldInfo) -> str:
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
        "**Written by the owner app too.** `privacy_masks` and `motion.masks` are also edited in "
        "the owner app (`PUT /api/cameras/{camera_id}/masks`, see docs/api.md), which takes "
        "effect at once, without a restart. Saving rewrites this file: the new text is checked "
        "with the same loader first, the previous file is kept beside it as `<name>.bak`, the "
        "new one replaces it atomically with the same permissions, and an audit record "
        "`config_changed` names the owner. Values and key order are kept, **comments are not** "
        "(the rewritten file says so in its first lines). A file edited by hand since the "
        "service started is never overwritten: restart first. The service must be able to "
        "write the file and its directory; without `--config` (defaults only) masks cannot be "
        "saved. On a device installed by `deploy/install.sh` the file is root-owned and `/etc` "
        "is read-only for the service (`ProtectSystem=strict`), so saving is refused "
        "(`config_not_writable`) there until the install grants it.",
        "",
    ]
    for section, field in AppConfig.model_fields.items():
        model = field.default_factory() if field.default_factory else None  # type: ignore[call-arg]
        assert isinstance(model, BaseModel)
        doc = (type(model).__doc__ or "").strip()
        lines += [f"## `{section}:`", ""]
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += ["| key | default | allowed | meaning |", "|---|---|---|---|"]
        lines += _rows(section, type(model))
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
