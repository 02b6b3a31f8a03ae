"""A frame counter written into the pixels of a frame and read back after a video codec.

The code is a strip of ``CELLS`` black or white blocks along the bottom edge of the frame: a
16-bit counter and a CRC-8 of it. It covers the right ``1 - LEFT_FRACTION`` of the width, clear
of the device's watermark (``streaming.watermark``: bottom-left and top-right, the bottom-left
one under 37 % of the width at any size). The blocks are solid and as tall as a twentieth of the
frame, so that VP8 at its lowest bitrate keeps them apart, and the reader samples only the middle
of each block, where ringing at the block edges does not reach. A block that is neither clearly
dark nor clearly light, or a CRC that does not match, rejects the frame: a misread is counted,
never matched.

Why the bottom edge: the privacy stage reads a row of flipping black and white blocks with room
above it as a person. With the strip a tenth of the height down (as it was first), the head
detector found "heads" sitting on it and the moving blocks were searched for heads on every
frame; the redacted heads covered cells of the strip. Flush with the bottom edge, it has no room
above it to be shoulders under a head, and the stage leaves it alone.
"""

from __future__ import annotations

import numpy as np

COUNTER_BITS = 16
CRC_BITS = 8
CELLS = COUNTER_BITS + CRC_BITS
STRIP_FRACTION = 0.05  # of the frame height
LEFT_FRACTION = 0.4  # of the frame width, left of the strip (the watermark's corner)
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


def _geometry(width: int, height: int) -> tuple[int, int, int, int]:
    """(first column, cell width, first row, strip height) in pixels for a frame size."""
    left = round(width * LEFT_FRACTION)
    strip = max(_MIN_STRIP_PX, round(height * STRIP_FRACTION))
    return left, (width - left) // CELLS, height - strip, strip


def stamp(image: np.ndarray, counter: int) -> None:
    """Write ``counter`` (mod 2**16) into the strip of a BGR or grey image, in place."""
    height, width = image.shape[:2]
    left, cell, top, strip = _geometry(width, height)
    for i, bit in enumerate(_bits(counter)):
        x = left + i * cell
        image[top : top + strip, x : x + cell] = 255 if bit else 0


def read(luma: np.ndarray, height: int | None = None) -> int | None:
    """The counter stamped into a decoded frame's luma plane, or None if it cannot be trusted.

    ``luma`` may be only the last :func:`rows_needed` rows of a frame ``height`` rows high."""
    rows_in, width = luma.shape[:2]
    height = rows_in if height is None else height
    left, cell, top, strip = _geometry(width, height)
    top -= height - rows_in  # the rows above ``luma`` were left out
    inset_x, inset_y = cell // 4, strip // 4
    rows = slice(top + inset_y, top + strip - inset_y)
    word = 0
    for i in range(CELLS):
        x = left + i * cell
        block = luma[rows, x + inset_x : x + cell - inset_x]
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
    """Rows from the bottom of a frame a reader needs (the strip's)."""
    return _geometry(CELLS, height)[3]
