"""A frame counter written into the pixels of a frame and read back after a video codec.

The code is a strip of ``CELLS`` black or white blocks across the frame near its top: a 16-bit
counter and a CRC-8 of it. The strip starts a tenth of the height down, clear of the
kindergarten watermark in the top-right corner (``streaming.watermark``). The blocks are large
(1/24 of the width, 1/20 of the height) so that VP8 at its lowest bitrate keeps them apart, and
the reader samples only the middle of each block, where ringing at the block edges does not
reach. A block that is neither clearly dark nor clearly light, or a CRC that does not match,
rejects the frame: a misread is counted, never matched.
"""

from __future__ import annotations

import numpy as np

COUNTER_BITS = 16
CRC_BITS = 8
CELLS = COUNTER_BITS + CRC_BITS
STRIP_FRACTION = 0.05  # of the frame height
TOP_FRACTION = 0.1  # of the frame height, above the strip
_MIN_STRIP_PX = 16
_DARK, _LIGHT = 100, 150  # luma levels a block must be clearly below / above
_CRC_POLY = 0x07  # CRC-8/SMBUS


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _bits(counter: int) -> list[int]:
    value = counter % (1 << COUNTER_BITS)
    word = (value << CRC_BITS) | crc8(value.to_bytes(2, "big"))
    return [(word >> (CELLS - 1 - i)) & 1 for i in range(CELLS)]


def _geometry(width: int, height: int) -> tuple[int, int, int]:
    """(cell width, first row, strip height) in pixels for a frame size."""
    return (
        width // CELLS,
        round(height * TOP_FRACTION),
        max(_MIN_STRIP_PX, round(height * STRIP_FRACTION)),
    )


def stamp(image: np.ndarray, counter: int) -> None:
    """Write ``counter`` (mod 2**16) into the strip of a BGR or grey image, in place."""
    height, width = image.shape[:2]
    cell, top, strip = _geometry(width, height)
    for i, bit in enumerate(_bits(counter)):
        image[top : top + strip, i * cell : (i + 1) * cell] = 255 if bit else 0


def read(luma: np.ndarray, height: int | None = None) -> int | None:
    """The counter stamped into a decoded frame's luma plane, or None if it cannot be trusted.

    ``luma`` may be only the first :func:`rows_needed` rows of a frame ``height`` rows high."""
    width = luma.shape[1]
    cell, top, strip = _geometry(width, luma.shape[0] if height is None else height)
    inset_x, inset_y = cell // 4, strip // 4
    rows = slice(top + inset_y, top + strip - inset_y)
    word = 0
    for i in range(CELLS):
        block = luma[rows, i * cell + inset_x : (i + 1) * cell - inset_x]
        level = float(block.mean())
        if level >= _LIGHT:
            bit = 1
        elif level <= _DARK:
            bit = 0
        else:
            return None
        word = (word << 1) | bit
    value, check = word >> CRC_BITS, word & ((1 << CRC_BITS) - 1)
    if crc8(value.to_bytes(2, "big")) != check:
        return None
    return value


def rows_needed(height: int) -> int:
    """Rows from the top of a frame a reader needs (down to the bottom of the strip)."""
    _, top, strip = _geometry(CELLS, height)
    return top + strip
