"""The posted-notice PDF: A4, Chinese and English text that really renders, a QR code that decodes
to the notice URL, and input validation that writes nothing on failure.

Needs poppler-utils (pdftoppm, pdftotext, pdffonts) and a CJK TrueType font
(fonts-wqy-microhei); both are installed by deploy/sysdeps.sh, so their absence is a failure.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from privacy.notice_sign import (
    MAX_LENGTHS,
    NoticeInfo,
    PrivacyStatement,
    new_notice_id,
    render_notice_pdf,
)
from testkit.qr import pdf_qr_texts

POPPLER = "the Debian package poppler-utils (deploy/sysdeps.sh installs it)"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: install {POPPLER}")
    return path


FILL_14_DAYS = PrivacyStatement("fill", 14)


def _info(statement: PrivacyStatement = FILL_14_DAYS, **changes: str) -> NoticeInfo:
    notice_id = changes.pop("notice_id", "N-7F3K-92QD")
    values = {
        "notice_id": notice_id,
        "operator": "张记小笼包 Zhang's Dumplings",
        "purpose": "直播店内制作过程 / Livestream of our kitchen and counter",
        "contact": "+86 21 5555 0100 · privacy@zhang-dumplings.example",
        "streaming_hours": "每日 Daily 10:00–14:00",
        "notice_url": f"https://notice.example.cn/n/{notice_id}",
        "camera_name": "前台 Front counter",
    }
    values.update(changes)
    return NoticeInfo(**values, statement=statement)


def _page_png(pdf: Path, tmp_path: Path) -> np.ndarray:
    prefix = tmp_path / "page"
    subprocess.run(
        [_tool("pdftoppm"), "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, prefix],
        check=True,
        capture_output=True,
    )
    image = cv2.imread(str(prefix.with_suffix(".png")))
    assert image is not None
    return image


def _decode_qr(image: np.ndarray) -> str:
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None, "no QR code found on the page"
    return text


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[NoticeInfo, Path, np.ndarray]:
    tmp = tmp_path_factory.mktemp("notice")
    info = _info()
    pdf = tmp / "notice.pdf"
    render_notice_pdf(info, pdf)
    return info, pdf, _page_png(pdf, tmp)


def test_qr_code_decodes_to_notice_url(rendered: tuple[NoticeInfo, Path, np.ndarray]) -> None:
    info, _, image = rendered
    assert _decode_qr(image) == info.notice_url


@pytest.mark.parametrize("notice_id", ["N-DBJ9-CHKG", "N-FNBB-W93M"])
def test_the_tests_qr_reader_reads_signs_a_lone_decoder_missed(
    notice_id: str, tmp_path: Path
) -> None:
    """OpenCV's classic detector alone, at 150 dpi, reads nothing on these two signs (so a test
    that drew such an id failed by chance); ``testkit.qr`` must read them."""
    url = f"https://shop-cam.example.com/notice/{notice_id}"
    pdf = tmp_path / "sign.pdf"
    render_notice_pdf(_info(notice_id=notice_id, notice_url=url), pdf)
    assert pdf_qr_texts(pdf, tmp_path) == {url}


def test_page_is_a4_and_single(rendered: tuple[NoticeInfo, Path, np.ndarray]) -> None:
    _, pdf, image = rendered
    out = subprocess.run([_tool("pdfinfo"), pdf], check=True, capture_output=True, text=True)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", out.stdout)
    assert size is not None, out.stdout
    assert float(size[1]) == pytest.approx(595, abs=1)
    assert float(size[2]) == pytest.approx(842, abs=1)
    assert re.search(r"Pages:\s+1\n", out.stdout)
    # A4 at 150 dpi, give or take poppler's rounding
    assert abs(image.shape[0] - 1754) <= 1
    assert abs(image.shape[1] - 1240) <= 1


def test_text_is_extractable_in_both_languages(
    rendered: tuple[NoticeInfo, Path, np.ndarray],
) -> None:
    info, pdf, _ = rendered
    out = subprocess.run(
        [_tool("pdftotext"), "-layout", pdf, "-"], check=True, capture_output=True, text=True
    )
    text = out.stdout
    for expected in (
        "直播摄像提示",
        "Live camera notice",
        "人脸",
        "训练",
        "used to train",
        info.operator,
        info.notice_id,
        info.streaming_hours,
        info.notice_url,
    ):
        assert expected in text


def _statement_text(pdf: Path) -> tuple[str, str]:
    """The sign's text in reading order: Chinese with every space and line break removed (it
    wraps at any character), English with runs of white space made one space."""
    out = subprocess.run([_tool("pdftotext"), pdf, "-"], check=True, capture_output=True, text=True)
    return re.sub(r"\s+", "", out.stdout), re.sub(r"\s+", " ", out.stdout)


@pytest.mark.parametrize(
    ("statement", "zh_says", "en_says"),
    [
        (
            FILL_14_DAYS,
            ["用实心色块完全遮挡", "最长保留14天"],
            ["faces are covered with solid blocks", "for at most 14 days"],
        ),
        (
            PrivacyStatement("pixelate", 30),
            ["打上马赛克", "最长保留30天"],
            ["faces are pixelated", "for at most 30 days"],
        ),
        (PrivacyStatement("fill", 1), ["最长保留1天"], ["for at most 1 day and"]),
        (PrivacyStatement("fill", 2.5), ["最长保留2.5天"], ["for at most 2.5 days"]),
    ],
)
def test_statement_says_what_the_device_does(
    tmp_path: Path, statement: PrivacyStatement, zh_says: list[str], en_says: list[str]
) -> None:
    """Worded from the config: how the stream redacts (never "blurred", which neither method
    is), that private recordings with faces exist, who keeps them and for how long."""
    pdf = tmp_path / "notice.pdf"
    render_notice_pdf(_info(statement), pdf)
    zh, en = _statement_text(pdf)
    for says in (
        *zh_says,
        "直播：画面中的人脸",
        "不公开的移动侦测录像（人脸未遮挡）",
        "由运营方保存在摄像头内",
        "无法确认的画面不会播出",
    ):
        assert says in zh, says
    for says in (
        *en_says,
        "Live stream: faces are",
        "the camera also records motion privately, with faces not masked",
        "the operator keeps these recordings on the camera",
        "frames it cannot check are not streamed",
    ):
        assert says in en, says
    assert "blur" not in en.lower() and "模糊" not in zh


@pytest.mark.parametrize(
    ("redaction", "days"), [("blur", 14), ("fill", 0), ("fill", -1), ("fill", 3651), ("fill", True)]
)
def test_statement_refuses_what_it_cannot_word(redaction: str, days: float) -> None:
    with pytest.raises(ValueError):
        PrivacyStatement(redaction, days)  # type: ignore[arg-type]


def test_fonts_are_embedded_so_nothing_depends_on_the_viewer(
    rendered: tuple[NoticeInfo, Path, np.ndarray],
) -> None:
    _, pdf, _ = rendered
    out = subprocess.run([_tool("pdffonts"), pdf], check=True, capture_output=True, text=True)
    rows = out.stdout.splitlines()[2:]
    assert rows, out.stdout
    for row in rows:
        # columns: name type encoding emb sub uni object-id generation
        assert row.split()[-5] == "yes", row


def test_heading_glyphs_render_and_are_distinct(
    rendered: tuple[NoticeInfo, Path, np.ndarray],
) -> None:
    """Tofu (missing-glyph boxes) would be six identical shapes; real glyphs are all different."""
    _, _, image = rendered
    # Heading band at 150 dpi: 40 pt margin, Chinese heading baseline 54 pt below the top margin.
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = 150 / 72
    top, bottom = int((40 + 8) * scale), int((40 + 60) * scale)
    # stop short of the band's rounded right end, where the white page shows through
    left, right = int((40 + 120) * scale), int((595 - 40 - 14) * scale)
    band = gray[top:bottom, left:right]
    ink = band > 128  # white text on the dark band
    assert 0.1 < ink.mean() < 0.6, ink.mean()
    columns = np.flatnonzero(ink.any(axis=0))
    # split into glyphs at empty columns
    glyphs = np.split(columns, np.flatnonzero(np.diff(columns) > 3) + 1)
    assert len(glyphs) == 6, [len(g) for g in glyphs]
    crops = []
    for g in glyphs:
        crop = ink[:, g[0] : g[-1] + 1].astype(np.uint8)
        crops.append(cv2.resize(crop, (40, 60), interpolation=cv2.INTER_AREA))
    for i in range(6):
        for j in range(i + 1, 6):
            assert np.mean(crops[i] != crops[j]) > 0.05, (i, j)


def test_longest_allowed_inputs_fit_and_qr_still_decodes(tmp_path: Path) -> None:
    values = {name: "摄" * limit for name, limit in MAX_LENGTHS.items()}
    values["notice_id"] = "N" * MAX_LENGTHS["notice_id"]
    url = "https://notice.example.cn/n/"
    values["notice_url"] = url + "a" * (MAX_LENGTHS["notice_url"] - len(url))
    # the longest statement: pixelated, and a retention period with decimals
    info = NoticeInfo(**values, statement=PrivacyStatement("pixelate", 3649.5))
    pdf = tmp_path / "long.pdf"
    render_notice_pdf(info, pdf)
    assert _decode_qr(_page_png(pdf, tmp_path)) == info.notice_url


def test_render_replaces_an_existing_file(tmp_path: Path) -> None:
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(b"old")
    render_notice_pdf(_info(), pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in tmp_path.iterdir()] == ["notice.pdf"]


def test_new_notice_id_format_and_uniqueness() -> None:
    ids = {new_notice_id() for _ in range(2000)}
    assert len(ids) == 2000
    for notice_id in ids:
        assert re.fullmatch(r"N-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", notice_id)
    _info(notice_id=next(iter(ids)))  # accepted by the validator


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("operator", ""),
        ("operator", "   "),
        ("operator", "x" * (MAX_LENGTHS["operator"] + 1)),
        ("purpose", "line one\nline two"),
        ("contact", "zero\u200bwidth"),
        ("camera_name", "x" * (MAX_LENGTHS["camera_name"] + 1)),
        ("streaming_hours", ""),
        ("notice_id", "N 7F3K"),
        ("notice_id", "-N7F3K"),
        ("notice_url", "ftp://notice.example.cn/n/1"),
        ("notice_url", "notice.example.cn/n/1"),
        ("notice_url", "https://notice.example.cn/n/has space"),
        ("notice_url", "https://notice.example.cn/n/tab\there"),
        ("notice_url", "https:///no-host"),
        ("notice_url", "https://notice.example.cn:99999/"),
        ("notice_url", "https://x.example/" + "a" * MAX_LENGTHS["notice_url"]),
    ],
)
def test_bad_inputs_raise(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field if field != "notice_id" else "notice_id"):
        _info(**{field: value})


def test_bad_inputs_write_nothing(tmp_path: Path) -> None:
    pdf = tmp_path / "notice.pdf"
    bad = _info()
    # A frozen dataclass can still be changed behind its back; rendering re-validates.
    object.__setattr__(bad, "notice_url", "javascript:alert(1)")
    with pytest.raises(ValueError, match="notice_url"):
        render_notice_pdf(bad, pdf)
    # Characters the font has no glyph for would print as blank boxes.
    with pytest.raises(ValueError, match="operator"):
        render_notice_pdf(_info(operator="Café \U0001f600"), pdf)
    with pytest.raises(ValueError):
        render_notice_pdf(dataclasses.asdict(_info()), pdf)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
