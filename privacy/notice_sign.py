"""Merchant posted-notice kit: the printable sign a shop must post while it streams its customers.

The sign is an A4 PDF in Simplified Chinese and English: heading, camera pictogram, who operates
the camera and why, how to reach them, when it streams, the notice id, the privacy statement
and a QR code to the public notice page with its URL printed underneath.

The privacy statement (:class:`PrivacyStatement`) is worded from the device's configuration, so
that it stays true: how faces are redacted in the live stream (a solid box or pixelated, as
``privacy.method`` says), that the camera also keeps private recordings (faces not redacted),
who keeps them and for how long (``storage.retention_days``), and that nothing is used for
training.

The Chinese text is set in an embedded TrueType font (WenQuanYi Micro Hei, Debian package
``fonts-wqy-microhei``; Zen Hei from ``fonts-wqy-zenhei`` also works). reportlab's built-in CID
font ``STSong-Light`` is not used: it is not embedded, so the sign would only print where the
viewer happens to have an Adobe-GB1 font (poppler without ``poppler-data`` draws nothing at all).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

import segno
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

log = logging.getLogger(__name__)

__all__ = [
    "FONT_CANDIDATES",
    "MAX_LENGTHS",
    "NoticeInfo",
    "PrivacyStatement",
    "draw_qr",
    "new_notice_id",
    "render_notice_pdf",
    "render_preview_png",
]

# Ordered by preference; (path, index of the face inside a .ttc collection).
FONT_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)
_FONT_NAME = "NoticeCJK"

# Limits keep every field legible on one A4 page and the QR code at a size phones scan easily.
MAX_LENGTHS: dict[str, int] = {
    "notice_id": 32,
    "operator": 80,
    "purpose": 160,
    "contact": 120,
    "streaming_hours": 80,
    "notice_url": 256,
    "camera_name": 60,
}

# Crockford base32: no I, L, O, U, so an id read aloud or typed from paper is unambiguous.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_NOTICE_ID_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")

HEADING_ZH = "直播摄像提示"
HEADING_EN = "Live camera notice"
Redaction = Literal["fill", "pixelate"]
# How the live stream hides faces, by privacy.method: (zh, en)
_REDACTION_WORDS: dict[str, tuple[str, str]] = {
    "fill": ("用实心色块完全遮挡", "covered with solid blocks"),
    "pixelate": ("打上马赛克", "pixelated"),
}
SCAN_ZH = "扫码查看完整隐私说明"
SCAN_EN = "Scan for the full privacy notice"

_INK = HexColor("#1A1A1A")
_ACCENT = HexColor("#C62828")
_MUTED = HexColor("#555555")
_PANEL = HexColor("#F1F3F4")


def new_notice_id() -> str:
    """A fresh notice id such as ``N-7F3K-92QD``: 40 random bits, easy to read and type."""
    chars = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    return f"N-{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True)
class PrivacyStatement:
    """The promise printed on the sign, worded from the configuration it describes.

    ``redaction`` is ``privacy.method`` (``fill``: a solid box, ``pixelate``), and
    ``retention_days`` is ``storage.retention_days``, how long the private recordings are kept.
    """

    redaction: Redaction
    retention_days: float

    def __post_init__(self) -> None:
        if self.redaction not in _REDACTION_WORDS:
            raise ValueError(f"redaction must be one of {', '.join(_REDACTION_WORDS)}")
        days = self.retention_days
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650:
            raise ValueError("retention_days must be a number of days from 0 to 3650")

    def _days(self) -> str:
        return f"{self.retention_days:g}"

    def zh(self) -> str:
        redacted = _REDACTION_WORDS[self.redaction][0]
        return (
            f"直播：画面中的人脸在视频离开摄像头之前已自动{redacted}，无法确认的画面不会播出。"
            f"录像：本摄像头另有不公开的移动侦测录像（人脸未遮挡），由运营方保存在摄像头内，"
            f"最长保留 {self._days()} 天，不用于直播。"
            "本摄像头拍摄的任何画面都不会用于训练人工智能或其他模型。"
        )

    def en(self) -> str:
        redacted = _REDACTION_WORDS[self.redaction][1]
        unit = "day" if self.retention_days == 1 else "days"
        return (
            f"Live stream: faces are {redacted} automatically before the video leaves the "
            "camera; frames it cannot check are not streamed. Recordings: the camera also "
            "records motion privately, with faces not masked; the operator keeps these "
            f"recordings on the camera for at most {self._days()} {unit} and does not stream "
            "them. Nothing this camera captures is used to train AI or any other model."
        )


@dataclass(frozen=True)
class NoticeInfo:
    """What the posted notice says. Every text field is required, single-line and
    length-limited; construction raises ``ValueError`` on bad input."""

    notice_id: str
    operator: str
    purpose: str
    contact: str
    streaming_hours: str
    notice_url: str
    camera_name: str
    statement: PrivacyStatement

    def __post_init__(self) -> None:
        if not isinstance(self.statement, PrivacyStatement):
            raise ValueError("statement must be a PrivacyStatement")
        for field in fields(self):
            if field.name not in MAX_LENGTHS:
                continue
            value = getattr(self, field.name)
            if not isinstance(value, str):
                raise ValueError(f"{field.name} must be a string, not {type(value).__name__}")
            if not value.strip():
                raise ValueError(f"{field.name} must not be empty")
            limit = MAX_LENGTHS[field.name]
            if len(value) > limit:
                raise ValueError(f"{field.name} is longer than {limit} characters")
            if any(
                unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
                for ch in value
            ):
                raise ValueError(f"{field.name} must not contain control or invisible characters")
        if not _NOTICE_ID_RE.fullmatch(self.notice_id):
            raise ValueError("notice_id may contain only letters, digits and inner hyphens")
        _check_url(self.notice_url)


def _check_url(url: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise ValueError("notice_url must start with https:// or http://")
    if any(ch.isspace() for ch in url):
        raise ValueError("notice_url must not contain spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"notice_url is malformed: {exc}") from exc
    if not parts.hostname:
        raise ValueError("notice_url has no host")


def render_notice_pdf(info: NoticeInfo, out: Path, *, font_path: Path | None = None) -> None:
    """Write the A4 sign for ``info`` to ``out``.

    Raises ``ValueError`` (and writes nothing) if ``info`` is invalid or holds characters the
    font cannot print, since a sign with blank boxes in it would not inform anyone. Raises
    ``RuntimeError`` if no CJK font is installed (see the module docstring). The file is written
    to a temporary name and renamed, so ``out`` is either the whole sign or untouched.
    """
    if not isinstance(info, NoticeInfo):
        raise ValueError("info must be a NoticeInfo")
    # Re-validate: frozen stops plain assignment only; object.__setattr__ can still change a field.
    info.__post_init__()
    font = _register_font(font_path)
    for name in MAX_LENGTHS:
        missing = _missing_glyphs(font, getattr(info, name))
        if missing:
            raise ValueError(f"{name} has characters the sign cannot print: {missing!r}")

    out = Path(out)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        canvas = Canvas(
            str(tmp), pagesize=A4, invariant=True, pageCompression=1, initialFontName=_FONT_NAME
        )
        canvas.setTitle(f"{HEADING_ZH} / {HEADING_EN} — {info.notice_id}")
        canvas.setAuthor(info.operator)
        canvas.setSubject(info.notice_url)
        _draw_sign(canvas, info)
        canvas.showPage()
        canvas.save()
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("wrote posted notice %s to %s", info.notice_id, out)


PREVIEW_DPI = 96  # A4 at 96 dpi: 794 x 1123 pixels, a phone screen's worth of detail
_PREVIEW_TIMEOUT_S = 30.0


def render_preview_png(pdf: Path, *, dpi: int = PREVIEW_DPI) -> bytes:
    """The first page of the sign ``pdf`` as a PNG, for showing it before it is printed.

    Rendered by poppler's ``pdftoppm`` (Debian package ``poppler-utils``, which
    ``deploy/sysdeps.sh`` installs; none of the Python packages the app depends on renders
    PDF). Raises ``RuntimeError`` when it is missing or fails.
    """
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RuntimeError("pdftoppm is missing: install the Debian package poppler-utils")
    with tempfile.TemporaryDirectory(prefix="sign-preview.") as tmp:
        prefix = Path(tmp) / "page"
        args = [tool, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile"]
        try:
            subprocess.run(
                [*args, str(pdf), str(prefix)],
                check=True,
                capture_output=True,
                timeout=_PREVIEW_TIMEOUT_S,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f"pdftoppm could not render {pdf.name}: {err}") from None
        return prefix.with_suffix(".png").read_bytes()


@lru_cache(maxsize=4)
def _register_font(font_path: Path | None) -> TTFont:
    candidates = ((Path(font_path), 0),) if font_path is not None else FONT_CANDIDATES
    for path, index in candidates:
        if path.is_file():
            font = TTFont(_FONT_NAME, str(path), subfontIndex=index)
            pdfmetrics.registerFont(font)
            fixed = HEADING_ZH + HEADING_EN + SCAN_ZH + SCAN_EN
            fixed += "".join(zh + en for zh, en, _ in _ROWS)
            for method in get_args(Redaction):
                statement = PrivacyStatement(method, 14)
                fixed += statement.zh() + statement.en()
            missing = _missing_glyphs(font, fixed)
            if missing:
                raise RuntimeError(f"font {path} lacks glyphs for the sign text: {missing!r}")
            log.debug("notice font: %s", path)
            return font
    tried = ", ".join(str(p) for p, _ in candidates)
    raise RuntimeError(
        f"no CJK font for the posted notice (tried {tried}); "
        "install the Debian package fonts-wqy-microhei"
    )


def _missing_glyphs(font: TTFont, text: str) -> str:
    cmap = font.face.charToGlyph
    return "".join(sorted({ch for ch in text if not ch.isspace() and not cmap.get(ord(ch))}))


# (zh label, en label, NoticeInfo attribute), in the order they appear on the sign
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("运营方", "Operator", "operator"),
    ("用途", "Purpose", "purpose"),
    ("联系方式", "Contact", "contact"),
    ("直播时间", "Streaming hours", "streaming_hours"),
    ("摄像头", "Camera", "camera_name"),
    ("提示编号", "Notice ID", "notice_id"),
)

_W, _H = A4
_MARGIN = 40.0


def _draw_sign(c: Canvas, info: NoticeInfo) -> None:
    top = _H - _MARGIN
    band_h = 112.0
    c.setFillColor(_INK)
    c.roundRect(_MARGIN, top - band_h, _W - 2 * _MARGIN, band_h, 12, stroke=0, fill=1)
    _draw_camera_pictogram(c, _MARGIN + 16, top - band_h + 14, 84)
    text_x = _MARGIN + 122
    _bold_text(c, text_x, top - 54, HEADING_ZH, 42, white)
    c.setFont(_FONT_NAME, 26)
    c.setFillColor(white)
    c.drawString(text_x, top - 92, HEADING_EN)

    # The QR code and its caption take the bottom of the page; the rows get what is left.
    qr_size = 150.0
    qr_bottom = _MARGIN + 40
    body_top = top - band_h - 18
    rows_bottom = qr_bottom + qr_size + 14
    # The statement is the sign's promise: it gets the largest size that leaves room for the rows.
    for zh_size in (14.0, 13.0, 12.0):
        statement = _StatementLayout.of(info.statement, zh_size)
        rows = _RowsLayout.of(info, body_top - statement.height - 16 - rows_bottom)
        if rows is not None:
            break
    else:
        # MAX_LENGTHS is chosen so this cannot happen; kept so an overflow never prints silently.
        raise ValueError("the notice text is too long to fit on one page")
    _draw_statement(c, statement, body_top)
    _draw_rows(c, rows, body_top - statement.height - 16)

    draw_qr(c, info.notice_url, _MARGIN, qr_bottom, qr_size)
    cap_x = _MARGIN + qr_size + 20
    y = qr_bottom + qr_size / 2 + 8
    _bold_text(c, cap_x, y, SCAN_ZH, 20, _INK)
    c.setFont(_FONT_NAME, 15)
    c.setFillColor(_INK)
    c.drawString(cap_x, y - 24, SCAN_EN)
    # The URL goes directly under the code (for typing it in by hand), wrapped at any character.
    for url_size in (11.0, 10.0, 9.0, 8.0):
        url_lines = list(_wrap_chars(info.notice_url, url_size, _W - 2 * _MARGIN))
        if len(url_lines) <= 3:
            break
    c.setFont(_FONT_NAME, url_size)
    c.setFillColor(_MUTED)
    uy = qr_bottom - 2 - url_size
    for line in url_lines:
        c.drawString(_MARGIN, uy, line)
        uy -= url_size * 1.2


_STATEMENT_PAD = 14.0
_STATEMENT_TEXT_X = _MARGIN + _STATEMENT_PAD + 36


@dataclass(frozen=True)
class _StatementLayout:
    """The privacy statement broken into lines at one size (English a little smaller)."""

    zh_size: float
    en_size: float
    zh_lines: list[str]
    en_lines: list[str]

    @classmethod
    def of(cls, statement: PrivacyStatement, zh_size: float) -> _StatementLayout:
        en_size = round(zh_size * 0.8, 1)
        text_w = _W - _MARGIN - _STATEMENT_PAD - _STATEMENT_TEXT_X
        zh = _wrap(statement.zh(), zh_size, text_w)
        return cls(zh_size, en_size, zh, _wrap(statement.en(), en_size, text_w))

    @property
    def height(self) -> float:
        zh_h = len(self.zh_lines) * self.zh_size * 1.35
        en_h = len(self.en_lines) * self.en_size * 1.3
        return _STATEMENT_PAD * 2 + zh_h + 4 + en_h


def _draw_statement(c: Canvas, layout: _StatementLayout, top: float) -> None:
    """The privacy statement panel right under the heading."""
    pad = _STATEMENT_PAD
    height = layout.height
    c.setFillColor(_PANEL)
    c.roundRect(_MARGIN, top - height, _W - 2 * _MARGIN, height, 10, stroke=0, fill=1)
    c.setFillColor(_ACCENT)
    c.rect(_MARGIN, top - height, 6, height, stroke=0, fill=1)
    _draw_shield(c, _MARGIN + pad + 4, top - pad - 26, 24)
    y = top - pad - layout.zh_size
    for line in layout.zh_lines:
        _bold_text(c, _STATEMENT_TEXT_X, y, line, layout.zh_size, _INK)
        y -= layout.zh_size * 1.35
    y -= 4
    c.setFont(_FONT_NAME, layout.en_size)
    c.setFillColor(_INK)
    for line in layout.en_lines:
        c.drawString(_STATEMENT_TEXT_X, y + 4, line)
        y -= layout.en_size * 1.3


_ROW_VALUE_X = _MARGIN + 130


@dataclass(frozen=True)
class _RowsLayout:
    """The label/value rows at the largest value size that fits."""

    size: float
    blocks: list[list[str]]
    heights: list[float]

    @classmethod
    def of(cls, info: NoticeInfo, available: float) -> _RowsLayout | None:
        """None when the rows do not fit in ``available`` points even at the smallest size."""
        value_w = _W - _MARGIN - _ROW_VALUE_X
        for size in (15.0, 14.0, 13.0, 12.0, 11.0, 10.0, 9.0):
            blocks = [_wrap(getattr(info, attr), size, value_w) for _, _, attr in _ROWS]
            heights = [max(len(lines) * size * 1.3, 28.0) + 8 for lines in blocks]
            if sum(heights) <= available:
                return cls(size, blocks, heights)
        return None


def _draw_rows(c: Canvas, layout: _RowsLayout, top: float) -> None:
    """Label/value rows from ``top`` down."""
    size = layout.size
    c.setStrokeColor(HexColor("#D0D0D0"))
    c.setLineWidth(0.6)
    y = top
    for (zh, en, attr), lines, row_h in zip(_ROWS, layout.blocks, layout.heights, strict=True):
        c.line(_MARGIN, y, _W - _MARGIN, y)
        _bold_text(c, _MARGIN, y - 16, zh, 12, _INK)
        c.setFont(_FONT_NAME, 9)
        c.setFillColor(_MUTED)
        c.drawString(_MARGIN, y - 28, en)
        c.setFillColor(_ACCENT if attr == "notice_id" else _INK)
        c.setFont(_FONT_NAME, size)
        ly = y - 4 - size
        for line in lines:
            c.drawString(_ROW_VALUE_X, ly, line)
            ly -= size * 1.3
        y -= row_h
    c.line(_MARGIN, y, _W - _MARGIN, y)


def _bold_text(c: Canvas, x: float, y: float, text: str, size: float, color: Color) -> None:
    # The CJK font has no bold face: fill and stroke the outlines to embolden. The render mode
    # lives in the graphics state, hence save/restore so later text is not emboldened too.
    c.saveState()
    t = c.beginText(x, y)
    t.setFont(_FONT_NAME, size)
    t.setTextRenderMode(2)
    c.setFillColor(color)
    c.setStrokeColor(color)
    c.setLineWidth(size * 0.035)
    t.textOut(text)
    c.drawText(t)
    c.restoreState()


def _draw_camera_pictogram(c: Canvas, x: float, y: float, size: float) -> None:
    """A white-on-dark video camera with a red "live" dot, in a size x size box at (x, y)."""
    s = size / 100.0
    c.saveState()
    c.setFillColor(white)
    c.roundRect(x + 4 * s, y + 26 * s, 62 * s, 46 * s, 8 * s, stroke=0, fill=1)
    path = c.beginPath()  # the lens hood, a trapezoid on the right
    path.moveTo(x + 66 * s, y + 42 * s)
    path.lineTo(x + 96 * s, y + 28 * s)
    path.lineTo(x + 96 * s, y + 70 * s)
    path.lineTo(x + 66 * s, y + 56 * s)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    c.rect(x + 14 * s, y + 72 * s, 16 * s, 8 * s, stroke=0, fill=1)
    c.setFillColor(_INK)
    c.circle(x + 35 * s, y + 49 * s, 15 * s, stroke=0, fill=1)
    c.setFillColor(white)
    c.circle(x + 35 * s, y + 49 * s, 9 * s, stroke=0, fill=1)
    c.setFillColor(_ACCENT)
    c.circle(x + 58 * s, y + 12 * s, 9 * s, stroke=0, fill=1)
    c.setFillColor(white)
    c.setFont(_FONT_NAME, 12 * s)
    c.drawString(x + 70 * s, y + 8 * s, "LIVE")
    c.restoreState()


def _draw_shield(c: Canvas, x: float, y: float, size: float) -> None:
    """A small shield with a tick: the statement is a promise about protection."""
    s = size / 24.0
    c.saveState()
    c.setFillColor(_ACCENT)
    p = c.beginPath()
    p.moveTo(x + 12 * s, y + 26 * s)
    p.lineTo(x + 24 * s, y + 21 * s)
    p.curveTo(x + 24 * s, y + 9 * s, x + 19 * s, y + 3 * s, x + 12 * s, y)
    p.curveTo(x + 5 * s, y + 3 * s, x, y + 9 * s, x, y + 21 * s)
    p.close()
    c.drawPath(p, stroke=0, fill=1)
    c.setStrokeColor(white)
    c.setLineWidth(2.4 * s)
    c.setLineCap(1)
    c.setLineJoin(1)
    tick = c.beginPath()
    tick.moveTo(x + 6.5 * s, y + 13 * s)
    tick.lineTo(x + 10.5 * s, y + 9 * s)
    tick.lineTo(x + 17.5 * s, y + 18 * s)
    c.drawPath(tick, stroke=1, fill=0)
    c.restoreState()


def draw_qr(c: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code as vector squares (sharp at any print size) with its 4-module quiet zone."""
    qr = segno.make(url, error="m", micro=False)
    border = 4
    n = qr.symbol_size(border=0)[0]
    module = size / (n + 2 * border)
    c.saveState()
    c.setFillColor(white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(HexColor("#000000"))
    # One path for all dark runs: a single fill leaves no anti-aliasing seams between modules.
    path = c.beginPath()
    for row_index, row in enumerate(qr.matrix):
        top = y + size - (border + row_index) * module
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                path.rect(
                    x + (border + start) * module, top - module, (col - start) * module, module
                )
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_NO_LINE_START = frozenset("，。、；：？！）》」』”’,.;:?!)")
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+\s*|\s+")


def _tokens(text: str) -> Iterator[str]:
    """Split into wrap units: each CJK character alone, Latin words with their trailing space."""
    for match in _TOKEN_RE.finditer(text):
        yield match.group(0)


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy line breaking that works for Chinese (break anywhere) and English (at spaces)."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        candidate = line + token
        fits = pdfmetrics.stringWidth(candidate.rstrip(), _FONT_NAME, size) <= width
        # Chinese typesetting never starts a line with closing punctuation: it hangs instead.
        hangs = not fits and bool(line) and token in _NO_LINE_START
        if fits or not line or hangs:
            line = candidate
        else:
            lines.append(line.rstrip())
            line = token.lstrip()
        # A single over-long token (a long email or URL) is broken at characters.
        if not hangs and pdfmetrics.stringWidth(line.rstrip(), _FONT_NAME, size) > width:
            *full, line = _wrap_chars(line, size, width)
            lines.extend(full)
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _wrap_chars(text: str, size: float, width: float) -> Iterator[str]:
    line = ""
    for ch in text:
        if line and pdfmetrics.stringWidth(line + ch, _FONT_NAME, size) > width:
            yield line
            line = ""
        line += ch
    if line:
        yield line
