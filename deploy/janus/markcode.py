"""The relay's group mark: what ``marker.py`` burns into each group's copy of a camera's stream,
and how ``trace.py`` (and the tests) read it back from a picture.

A marked frame carries, twice (top-left and bottom-right, so cropping one corner keeps the
other), a **block code**: 16 × 4 solid black/white cells holding 64 bits,

    sync (8: 10110010) · group (8) · room tag (8: CRC-32 of the room id, low byte)
    · time (32: Unix seconds of the marking) · check (8: CRC-32 of the 7 bytes before, low byte)

and, bottom-left and top-right (where ``streaming/watermark.py`` puts a viewer's mark on the
device), the same in words: ``group 3 2026-12-07 09:30:00 UTC``. The text is for people; the
block code is for machines (no OCR), and survives a VP8/H.264 re-encode and a rescale: its cells
are placed in fractions of the frame's size, so a recording scaled to another size still reads.

Marks are drawn on the luma plane of I420 frames (what a VP8 decoder gives and an encoder takes),
so marking a frame costs no colour conversion. Only numpy and OpenCV: this file is installed on
the relay host beside ``marker.py`` and ``trace.py`` (deploy/janus/requirements-marker.txt).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

COLS, ROWS = 16, 4
SYNC = (1, 0, 1, 1, 0, 0, 1, 0)
WHITE, BLACK = 235, 16  # video-range luma
MIN_CONTRAST = 60  # luma between the sync bits' ones and zeros, below which nothing is read
_TEXT_ALPHA = 0.6
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Code:
    """What one block code says."""

    group: int
    room_tag: int
    time: int  # Unix seconds


def room_tag(room: str) -> int:
    """The room's 8-bit tag in the code (tells rooms apart in a trace; not a secret)."""
    return zlib.crc32(room.encode()) & 0xFF


def bits(code: Code) -> list[int]:
    """The 64 cells of ``code``, row by row (1 = white)."""
    if not (0 <= code.group < 256 and 0 <= code.room_tag < 256 and 0 <= code.time < 2**32):
        raise ValueError(f"cannot encode {code}")
    payload = bytes([code.group, code.room_tag]) + code.time.to_bytes(4, "big")
    check = zlib.crc32(bytes([0b10110010]) + payload) & 0xFF
    out = list(SYNC)
    for byte in payload + bytes([check]):
        out.extend((byte >> (7 - i)) & 1 for i in range(8))
    return out


def _decode(cells: list[int]) -> Code | None:
    if tuple(cells[:8]) != SYNC:
        return None
    data = bytes(int("".join(map(str, cells[i : i + 8])), 2) for i in range(8, 64, 8))
    if zlib.crc32(bytes([0b10110010]) + data[:6]) & 0xFF != data[6]:
        return None
    return Code(data[0], data[1], int.from_bytes(data[2:6], "big"))


def _cell(width: int, height: int) -> tuple[float, float]:
    """A cell's width and height: fractions of the frame's (640 × 480: 10 × 10 px, a block of
    160 × 40), so a recording rescaled to any size, even another aspect ratio, still reads."""
    return width / 64, height / 48


def block_origins(width: int, height: int) -> list[tuple[float, float]]:
    """Top-left corners of the two blocks: top-left and bottom-right of the frame."""
    cw, ch = _cell(width, height)
    return [(cw, ch), (width - (COLS + 1) * cw, height - (ROWS + 1) * ch)]


def _cells(width: int, height: int) -> list[list[tuple[int, int, int, int]]]:
    """Per block, each cell's pixel rectangle (x0, y0, x1, y1), row by row."""
    cw, ch = _cell(width, height)
    out = []
    for x, y in block_origins(width, height):
        out.append(
            [
                (
                    round(x + c * cw),
                    round(y + r * ch),
                    round(x + (c + 1) * cw),
                    round(y + (r + 1) * ch),
                )
                for r in range(ROWS)
                for c in range(COLS)
            ]
        )
    return out


def read(luma: np.ndarray) -> Code | None:
    """The code in a frame's luma (or grey) plane, from either corner; None when neither reads
    (no mark, the corner cropped or covered, or two frames blended)."""
    height, width = luma.shape[:2]
    for rects in _cells(width, height):
        means = []
        for x0, y0, x1, y1 in rects:
            # the middle of the cell: its edges bleed into the neighbours after a re-encode
            dx, dy = max(0, (x1 - x0) // 4), max(0, (y1 - y0) // 4)
            means.append(float(luma[y0 + dy : y1 - dy, x0 + dx : x1 - dx].mean()))
        ones = [m for m, b in zip(means, SYNC, strict=False) if b]
        zeros = [m for m, b in zip(means, SYNC, strict=False) if not b]
        if min(ones) - max(zeros) < MIN_CONTRAST:
            continue
        threshold = (sum(ones) / len(ones) + sum(zeros) / len(zeros)) / 2
        code = _decode([int(m > threshold) for m in means])
        if code is not None:
            return code
    return None


def label(group: int, when: int) -> str:
    """The human-readable mark."""
    return f"group {group} {dt.datetime.fromtimestamp(when, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


class GroupMark:
    """Draws one group's mark into I420 frames (a ``(H * 3 / 2, W)`` array, as PyAV's
    ``VideoFrame.to_ndarray()`` gives for ``yuv420p``), in place. The text layer is rendered
    once a second (it changes once a second)."""

    def __init__(self, group: int, room: str) -> None:
        self.group = group
        self.room_tag = room_tag(room)
        self._key: tuple[int, int, int] | None = None
        self._text: tuple[np.ndarray, np.ndarray] | None = None  # where the text is, its luma
        self._blocks: list[np.ndarray] | None = None  # the two block codes' luma
        self._areas: list[tuple[int, int, int, int]] = []  # and where they go

    def __call__(self, i420: np.ndarray, when: int) -> np.ndarray:
        height, width = i420.shape[0] * 2 // 3, i420.shape[1]
        if self._key != (when, width, height):
            self._render(when, width, height)
            self._key = (when, width, height)
        assert self._text is not None and self._blocks is not None
        luma = i420[:height]
        mask, ink = self._text
        luma[mask] = ((1 - _TEXT_ALPHA) * luma[mask] + _TEXT_ALPHA * ink[mask]).astype(np.uint8)
        for (x0, y0, x1, y1), block in zip(self._areas, self._blocks, strict=True):
            luma[y0:y1, x0:x1] = block
            # grey cells: the chroma under a block (quarter size, in the U and V quarters) is 128
            self._neutral(i420, height, width, x0, y0, x1, y1)
        return i420

    @staticmethod
    def _neutral(i420: np.ndarray, height: int, width: int, *box: int) -> None:
        x0, y0, x1, y1 = (v // 2 for v in box)
        chroma = i420[height:].reshape(2, height // 2, width // 2)  # U then V, each W/2 × H/2
        chroma[:, y0:y1, x0:x1] = 128

    def _render(self, when: int, width: int, height: int) -> None:
        self._text = _text_layer(label(self.group, when), width, height)
        cells = bits(Code(self.group, self.room_tag, when))
        self._areas = []
        blocks = []
        for rects in _cells(width, height):
            x0, y0 = rects[0][:2]
            x1, y1 = rects[-1][2:]
            block = np.full((y1 - y0, x1 - x0), BLACK, np.uint8)
            for (cx0, cy0, cx1, cy1), bit in zip(rects, cells, strict=True):
                if bit:
                    block[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = WHITE
            self._areas.append((x0, y0, x1, y1))
            blocks.append(block)
        self._blocks = blocks


def _text_layer(text: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the text goes (bottom-left and top-right) and its luma: white, outlined black."""
    scale = max(0.35, width / 1600)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    margin = max(4, th // 2)
    outline = np.zeros((height, width), np.uint8)
    fill = np.zeros((height, width), np.uint8)
    corners = [(margin, height - margin - base), (width - tw - margin, margin + th)]
    for x, y in corners:
        cv2.putText(outline, text, (x, y), _FONT, scale, 255, thick + 2, cv2.LINE_AA)
        cv2.putText(fill, text, (x, y), _FONT, scale, 255, thick, cv2.LINE_AA)
    mask = outline > 0
    ink = np.where(fill > 0, WHITE, BLACK).astype(np.uint8)
    return mask, ink
