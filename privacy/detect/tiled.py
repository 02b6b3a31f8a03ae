"""Detector combinators: overlapping tiles (for small faces) and ensembles of detectors.

Detectors that letterbox the whole frame into a small input (BlazeFace: 128 or 192 px) shrink a
far face below what they can see; running them on tiles gives each face more input pixels.
For a fully convolutional detector (CenterFace) the tile itself must be enlarged (``upscale``)
to gain anything, since it already sees the frame at its native resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from firmware.geometry import PixelBox, clip
from privacy.detect.base import Detection, FaceDetector, check_image, nms

log = logging.getLogger(__name__)

# a tile fragment lying this much inside a kept box is the same face cut by a tile edge
CONTAIN = 0.8


@lru_cache(maxsize=32)
def tile_grid(
    width: int, height: int, columns: int, rows: int, overlap: float
) -> tuple[PixelBox, ...]:
    """Tiles covering a ``width`` x ``height`` frame in ``columns`` x ``rows``, each
    overlapping its neighbours by ``overlap`` of its own size."""

    def spans(length: int, count: int) -> list[tuple[int, int]]:
        if count <= 1:
            return [(0, length)]
        size = length / (count - (count - 1) * overlap)
        step = size * (1 - overlap)
        out = []
        for i in range(count):
            start = round(i * step)
            end = length if i == count - 1 else min(length, round(i * step + size))
            out.append((start, end - start))
        return out

    return tuple((x, y, w, h) for y, h in spans(height, rows) for x, w in spans(width, columns))


class TiledDetector:
    """Runs ``inner`` on overlapping tiles (and, with ``full_frame``, on the whole frame) and
    merges the boxes, mapped back to frame pixels, with NMS.

    ``grid`` is (columns, rows); ``overlap`` is the fraction of a tile shared with each
    neighbour, so a face smaller than that band is whole in at least one tile; ``upscale``
    enlarges each tile before detection.
    """

    def __init__(
        self,
        inner: FaceDetector,
        *,
        grid: tuple[int, int] = (2, 2),
        overlap: float = 0.2,
        upscale: float = 1.0,
        full_frame: bool = True,
        nms_iou: float = 0.4,
        name: str | None = None,
    ) -> None:
        if grid[0] < 1 or grid[1] < 1:
            raise ValueError(f"grid must be at least (1, 1), got {grid}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        if upscale <= 0:
            raise ValueError(f"upscale must be positive, got {upscale}")
        self.inner = inner
        self.grid = (int(grid[0]), int(grid[1]))
        self.overlap = float(overlap)
        self.upscale = float(upscale)
        self.full_frame = full_frame
        self.nms_iou = nms_iou
        scale = "" if self.upscale == 1.0 else f"x{self.upscale:g}"
        full = "+full" if full_frame else ""
        self.name = name or f"tiled{self.grid[0]}x{self.grid[1]}{scale}{full}[{inner.name}]"

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a BGR uint8 image, from every tile (and the full frame), merged."""
        check_image(image)
        height, width = image.shape[:2]
        found: list[Detection] = []
        if self.full_frame:
            found.extend(self.inner.detect(image))
        for tx, ty, tw, th in tile_grid(width, height, *self.grid, self.overlap):
            tile = image[ty : ty + th, tx : tx + tw]
            if self.upscale != 1.0:
                size = (max(1, round(tw * self.upscale)), max(1, round(th * self.upscale)))
                interp = cv2.INTER_LINEAR if self.upscale > 1 else cv2.INTER_AREA
                tile = cv2.resize(tile, size, interpolation=interp)
            else:
                tile = np.ascontiguousarray(tile)
            sx, sy = tw / tile.shape[1], th / tile.shape[0]
            for det in self.inner.detect(tile):
                bx, by, bw, bh = det.box
                box = clip((tx + bx * sx, ty + by * sy, bw * sx, bh * sy), width, height)
                if box is not None:
                    found.append(det.moved(box))
        return nms(found, self.nms_iou, contain=CONTAIN)

    def __repr__(self) -> str:
        return f"TiledDetector({self.name!r})"


class EnsembleDetector:
    """Runs several detectors on the same frame and merges their boxes with NMS; overlapping
    boxes collapse to the highest-scored one, so the merged score is the maximum."""

    def __init__(
        self,
        detectors: Sequence[FaceDetector],
        *,
        nms_iou: float = 0.4,
        name: str | None = None,
    ) -> None:
        if not detectors:
            raise ValueError("an ensemble needs at least one detector")
        self.detectors = list(detectors)
        self.nms_iou = nms_iou
        self.name = name or "+".join(d.name for d in self.detectors)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces found by any member, merged."""
        check_image(image)
        found: list[Detection] = []
        for detector in self.detectors:
            found.extend(detector.detect(image))
        return nms(found, self.nms_iou, contain=CONTAIN)

    def __repr__(self) -> str:
        return f"EnsembleDetector({self.name!r})"


class BoundedDetector:
    """Runs ``inner`` on images of at most ``max_pixels`` (camera and video frames up to
    1280x960); a larger image (a photo) is searched in overlapping tiles of at most
    ``tile_pixels`` at full resolution (its small faces keep their pixels), plus once as a
    whole, shrunk to ``tile_pixels`` (its big faces, which a tile edge may cut, stay whole).
    Memory then follows the tile, not the photo: a fully convolutional detector's activations
    grow with its input (CenterFace: about 200 MB at 1111x833)."""

    def __init__(
        self,
        inner: FaceDetector,
        *,
        max_pixels: int = 1280 * 960,
        tile_pixels: int = 800 * 600,
        overlap: float = 0.2,
    ) -> None:
        if not 64 * 64 <= tile_pixels <= max_pixels:
            raise ValueError(f"need 4096 <= tile_pixels ({tile_pixels}) <= max_pixels")
        self.inner = inner
        self.max_pixels = max_pixels
        self.tile_pixels = tile_pixels
        self.overlap = overlap
        self.name = inner.name

    def detect(self, image: np.ndarray) -> list[Detection]:
        check_image(image)
        height, width = image.shape[:2]
        if width * height <= self.max_pixels:
            return self.inner.detect(image)
        shrink = (self.tile_pixels / (width * height)) ** 0.5
        small = cv2.resize(
            image,
            (max(1, round(width * shrink)), max(1, round(height * shrink))),
            interpolation=cv2.INTER_AREA,
        )
        found = [
            d.moved((x / shrink, y / shrink, w / shrink, h / shrink))
            for d in self.inner.detect(small)
            for x, y, w, h in [d.box]
        ]
        # tiles of at most tile_pixels: n tiles overlapping by o span n - (n - 1) o tile lengths
        count = max(1, int(np.ceil((1 / shrink - self.overlap) / (1 - self.overlap))))
        tiled = TiledDetector(
            self.inner, grid=(count, count), overlap=self.overlap, full_frame=False
        )
        found.extend(tiled.detect(image))
        return nms(found, 0.4, contain=CONTAIN)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"BoundedDetector({self.inner!r}, max_pixels={self.max_pixels})"
