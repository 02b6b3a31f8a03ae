"""Where things are: the checkout, the test data in it, and ``../shared`` beside it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
"""The root of this checkout (``setup.cfg``, the app packages, ``deploy/``, ``docs/``)."""

TEST_DATA = REPO / "tests" / "data"
"""Files the tests read (a device database made by an old release, ...)."""

SHARED = REPO.parent / "shared"
"""Data and tools shared between projects (absent on most machines: tests that need it skip)."""

MODELS = REPO / "models"
"""The provisioned face-detection models (``make setup`` puts them there)."""
