"""The printable invite sheet: one card per family, four to an A4 page, to cut and hand out.

Each card is in the family's language (zh-CN or en) and carries the QR code of the invite link
(the code in the link's fragment, as the app's invite links do: a browser never sends it to a
server), the link and the code typed out, the username, rooms, viewing hours, the end of access,
until when the invitation can be used, and how to join. The Chinese is set in the CJK font the
posted-notice sign embeds (:data:`privacy.notice_sign.FONT_CANDIDATES`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal
from xml.sax.saxutils import escape

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import registerFontFamily
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from privacy.notice_sign import FONT_CANDIDATES, draw_qr

log = logging.getLogger(__name__)

__all__ = ["MAX_CARDS", "InviteCard", "invite_link", "render_invite_sheet"]

MAX_CARDS = 200
_FONT = "InviteCJK"
_INK = HexColor("#1A1A1A")
_MUTED = HexColor("#555555")
_W, _H = A4
_MARGIN = 28.0
_COLS, _ROWS = 2, 2
_CARD_W = (_W - 2 * _MARGIN) / _COLS
_CARD_H = (_H - 2 * _MARGIN) / _ROWS
_PAD = 14.0
_QR = 128.0

# (English, Chinese)
_TEXTS: dict[str, tuple[str, str]] = {
    "heading": ("Invitation to watch live", "实时观看邀请"),
    "scan": ("Scan with your phone's camera", "请用手机相机扫码"),
    "link": ("Or open this link", "或打开此链接"),
    "code": ("Invite code", "邀请码"),
    "username": ("Your username", "您的用户名"),
    "rooms": ("Room", "教室"),
    "hours": ("Viewing hours", "观看时段"),
    "until": ("Access ends after", "观看权限截止"),
    "use_by": (
        "Join by {date}; the invitation works once.",
        "请在 {date} 前加入；邀请只能使用一次。",
    ),
    "how": (
        "How to join: scan the code (or open the link), read the viewing terms, accept them and "
        "choose a password. Then log in with your username during your viewing hours. Keep this "
        "card private: whoever uses the code first becomes this account.",
        "加入方法：扫码（或打开链接），阅读并同意观看条款，设置密码。之后在观看时段内用您的用户名登录。"
        "请妥善保管此卡片：先使用邀请码的人即成为该账户。",
    ),
    # a card without a username: the parent picks one when joining (a site's invite)
    "how_pick": (
        "How to join: scan the code (or open the link), choose a username and a password, read "
        "the viewing terms and accept them. Then log in during your viewing hours. Keep this "
        "card private: whoever uses the code first gets this access.",
        "加入方法：扫码（或打开链接），设置用户名和密码，阅读并同意观看条款。之后在观看时段内登录。"
        "请妥善保管此卡片：先使用邀请码的人即获得此观看权限。",
    ),
}


def _t(key: str, lang: str) -> str:
    en, zh = _TEXTS[key]
    return zh if lang == "zh" else en


@dataclass(frozen=True, slots=True)
class InviteCard:
    """What one family's card says."""

    label: str | None  # the class list's family label, or None (the username is shown)
    username: str | None  # None: the parent picks one when joining
    rooms: tuple[str, ...]
    hours: str  # the viewing hours as text in ``lang``
    access_until: date
    join_by: date
    link: str  # the whole invite link, code included
    code: str
    lang: Literal["en", "zh"]


def invite_link(base_url: str, code: str) -> str:
    """The app's join link: the code in the fragment, as ``POST /api/viewers`` gives it."""
    return f"{base_url.rstrip('/')}/#join={code}"


@lru_cache(maxsize=1)
def _font() -> TTFont:
    for path, index in FONT_CANDIDATES:
        if path.is_file():
            font = TTFont(_FONT, str(path), subfontIndex=index)
            pdfmetrics.registerFont(font)
            # one face for every style: <b> in a paragraph must not look for a bold file
            registerFontFamily(_FONT, normal=_FONT, bold=_FONT, italic=_FONT, boldItalic=_FONT)
            return font
    tried = ", ".join(str(p) for p, _ in FONT_CANDIDATES)
    raise RuntimeError(
        f"no CJK font for the invite sheet (tried {tried}); install fonts-wqy-microhei"
    )


def _missing_glyphs(font: TTFont, text: str) -> str:
    cmap = font.face.charToGlyph
    return "".join(sorted({ch for ch in text if not ch.isspace() and not cmap.get(ord(ch))}))


def render_invite_sheet(cards: Sequence[InviteCard], *, title: str) -> bytes:
    """The sheet of ``cards`` as PDF bytes. Raises ``ValueError`` when there is no card, too
    many, or a text the font cannot print (a card with blank boxes would not be understood);
    ``RuntimeError`` when no CJK font is installed."""
    if not cards:
        raise ValueError("no invitation to print")
    if len(cards) > MAX_CARDS:
        raise ValueError(f"at most {MAX_CARDS} invitations per sheet")
    font = _font()
    for card in cards:
        text = f"{card.label or ''}{card.username or ''}{''.join(card.rooms)}{card.hours}"
        missing = _missing_glyphs(font, text)
        if missing:
            who = card.label or card.username or card.code
            raise ValueError(f"{who}: characters the sheet cannot print: {missing!r}")
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True, pageCompression=1, initialFontName=_FONT)
    canvas.setTitle(title)
    per_page = _COLS * _ROWS
    for index, card in enumerate(cards):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        col, row = slot % _COLS, slot // _COLS
        _draw_card(canvas, card, _MARGIN + col * _CARD_W, _H - _MARGIN - (row + 1) * _CARD_H)
    canvas.showPage()
    canvas.save()
    log.info("rendered an invite sheet of %d cards", len(cards))
    return out.getvalue()


def _style(size: float, *, color: HexColor = _INK, mono: bool = False) -> ParagraphStyle:
    return ParagraphStyle(
        f"s{size}{mono}",
        fontName="Courier" if mono else _FONT,
        fontSize=size,
        leading=size * 1.3,
        textColor=color,
        wordWrap="CJK",
    )


def _draw_card(c: Canvas, card: InviteCard, x: float, y: float) -> None:
    """One card with its lower left corner at (x, y), a dashed border to cut along."""
    c.saveState()
    c.setDash(4, 3)
    c.setStrokeColor(_MUTED)
    c.rect(x, y, _CARD_W, _CARD_H, stroke=1, fill=0)
    c.restoreState()
    lang = card.lang
    width = _CARD_W - 2 * _PAD
    top = y + _CARD_H - _PAD

    def para(text: str, style: ParagraphStyle, gap: float = 3.0) -> None:
        nonlocal top
        paragraph = Paragraph(text, style)
        _, height = paragraph.wrap(width, _CARD_H)
        paragraph.drawOn(c, x + _PAD, top - height)
        top -= height + gap

    para(escape(_t("heading", lang)), _style(9, color=_MUTED))
    rooms = "、".join(card.rooms) if lang == "zh" else ", ".join(card.rooms)
    para(escape(card.label or card.username or rooms), _style(15))
    draw_qr(c, card.link, x + (_CARD_W - _QR) / 2, top - _QR, _QR)
    top -= _QR + 2
    para(escape(_t("scan", lang)), _style(8, color=_MUTED))
    para(f"{escape(_t('link', lang))}:", _style(7.5, color=_MUTED), gap=0)
    para(escape(card.link), _style(7, mono=True))
    para(
        f"{escape(_t('code', lang))}: <font name='Courier'>{escape(card.code)}</font>", _style(8.5)
    )
    rows = (
        *((("username", card.username),) if card.username else ()),
        ("rooms", rooms),
        ("hours", card.hours),
        ("until", card.access_until.isoformat()),
    )
    for key, value in rows:
        para(f"{escape(_t(key, lang))}: <b>{escape(value)}</b>", _style(8.5), gap=1.5)
    para(escape(_t("use_by", lang).format(date=card.join_by.isoformat())), _style(8))
    para(escape(_t("how" if card.username else "how_pick", lang)), _style(7, color=_MUTED))
