"""The device layer: camera capture backends, static privacy masks and storage paths."""

from firmware.frames import Frame

__all__ = ["Frame"]
