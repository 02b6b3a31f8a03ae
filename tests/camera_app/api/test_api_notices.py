"""The merchant's notice sign through the owner API: the public address its QR code opens (refused
when a customer's phone could not open it, in the caller's language), the preview image, and the
privacy statement worded from the device's configuration on the sign and on the notice page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from testkit.api import ApiFactory, Client, RunningApi
from testkit.gates import DAILY_9_TO_21
from testkit.qr import qr_texts

NOTICE = {
    "operator": "Smith & Sons (Shanghai) Ltd.",
    "purpose": "Livestream of our kitchen",
    "contact": "+86 21 5555 0100",
    "hours": DAILY_9_TO_21,
}


def merchant(start_api: ApiFactory, **streaming: object) -> tuple[RunningApi, Client]:
    api = start_api(
        {
            "camera": {"id": "counter", "name": "Front counter"},
            "streaming": {"profile": "merchant", **streaming},
        }
    )
    return api, api.owner()


def stored_notices(api: RunningApi) -> list[tuple[str, str]]:
    conn = api.db()
    try:
        return [tuple(r) for r in conn.execute("SELECT id, url FROM notices").fetchall()]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("public_url", "check"),
    [
        ("http://127.0.0.1:8443", "loopback"),
        ("https://localhost", "loopback"),
        ("https://[::1]:8443", "loopback"),
        ("http://169.254.10.20", "link_local"),
        ("https://[fe80::1]", "link_local"),
        ("https://192.168.1.20:8443", "private"),
        ("https://10.0.0.5", "private"),
        ("https://172.16.3.4", "private"),
        ("https://[fd12:3456::1]", "private"),
        ("https://shop-cam.local", "local_name"),
        ("https://camera.lan", "local_name"),
        ("https://camera.home.arpa", "local_name"),
        ("https://camera", "single_label"),
        ("ftp://shop-cam.example.com", "format"),
        ("shop-cam.example.com", "format"),
        ("https://shop-cam.example.com/?x=1", "format"),
        ("https://user:pw@shop-cam.example.com", "format"),
        ("", "missing"),
    ],
)
def test_a_sign_a_phone_cannot_open_is_refused_and_nothing_is_made(
    start_api: ApiFactory, public_url: str, check: str
) -> None:
    api, owner = merchant(start_api)
    refused = owner.post("/api/cameras/counter/notices", {**NOTICE, "public_url": public_url})
    assert refused.status == 422, refused.body
    assert refused.error == "unreachable_public_url" and refused.body["check"] == check
    assert stored_notices(api) == []
    assert not any(api.paths.notices.iterdir())


def test_without_any_public_address_the_refusal_says_what_to_do_in_both_languages(
    start_api: ApiFactory,
) -> None:
    """The device's own http://<hostname>:<port> is no longer printed silently."""
    api, owner = merchant(start_api)
    english = owner.post("/api/cameras/counter/notices", NOTICE)
    assert english.status == 422 and english.body["check"] == "missing"
    assert "streaming.public_url" in english.body["reason"]
    chinese = owner.post(
        "/api/cameras/counter/notices", NOTICE, headers={"Accept-Language": "zh-CN,zh;q=0.9"}
    )
    assert chinese.status == 422 and "公网地址" in chinese.body["reason"]
    private = owner.post(
        "/api/cameras/counter/notices",
        {**NOTICE, "public_url": "https://192.168.1.20"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert "私有" in private.body["reason"]
    assert stored_notices(api) == []


def test_the_body_s_public_url_is_printed_and_stored(start_api: ApiFactory, tmp_path: Path) -> None:
    api, owner = merchant(start_api, public_url="https://configured.example.com")
    made = owner.post(
        "/api/cameras/counter/notices", {**NOTICE, "public_url": "https://shop-cam.example.com/"}
    )
    assert made.status == 201, made.body
    url = f"https://shop-cam.example.com/notice/{made.body['id']}"
    assert made.body["url"] == url
    assert stored_notices(api) == [(made.body["id"], url)]
    # without one in the body, streaming.public_url applies
    default = owner.post("/api/cameras/counter/notices", NOTICE)
    assert default.status == 201, default.body
    assert default.body["url"] == f"https://configured.example.com/notice/{default.body['id']}"

    # the preview: the page as a PNG whose QR code opens the stored URL
    preview = owner.get(made.body["preview"])
    assert preview.status == 200 and preview.headers["Content-Type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(preview.raw, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and abs(image.shape[0] - 1123) <= 1 and abs(image.shape[1] - 794) <= 1
    assert url in qr_texts(image)
    assert api.client().get(made.body["preview"]).status == 401
    assert owner.get("/api/notices/N-0000-0000/sign.png").status == 404
    # a sign file that went missing is said so, not rendered from nothing
    (api.paths.root / "notices" / f"{made.body['id']}.pdf").unlink()
    assert owner.get(made.body["preview"]).status == 410


def _words(text: str) -> tuple[str, str]:
    return re.sub(r"\s+", "", text), re.sub(r"\s+", " ", text)


def test_sign_and_notice_page_word_the_configured_redaction_and_retention(
    start_api: ApiFactory, tmp_path: Path
) -> None:
    api, owner = merchant(
        start_api,
        public_url="https://shop-cam.example.com",
    )
    made = owner.post("/api/cameras/counter/notices", NOTICE).body
    pdf = tmp_path / "sign.pdf"
    pdf.write_bytes(owner.get(made["sign"]).raw)
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: install poppler-utils (deploy/sysdeps.sh)"
    out = subprocess.run([tool, pdf, "-"], check=True, capture_output=True, text=True).stdout
    zh, en = _words(out)
    # the defaults: a solid box (privacy.method: fill), 14 days (storage.retention_days)
    assert "用实心色块完全遮挡" in zh and "最长保留14天" in zh and "人脸未遮挡" in zh
    assert "faces are covered with solid blocks" in en and "for at most 14 days" in en
    assert "blur" not in en.lower() and "模糊" not in zh
    page_zh, page_en = _words(api.client().get(urlsplit(made["url"]).path).raw.decode())
    assert "用实心色块完全遮挡" in page_zh and "for at most 14 days" in page_en


def test_a_pixelating_device_with_a_month_of_recordings_says_so(
    start_api: ApiFactory, tmp_path: Path
) -> None:
    api = start_api(
        {
            "camera": {"id": "counter", "name": "Front counter"},
            "streaming": {"profile": "merchant", "public_url": "https://shop-cam.example.com"},
            "privacy": {"method": "pixelate"},
            "storage": {"retention_days": 30},
        }
    )
    owner = api.owner()
    made = owner.post("/api/cameras/counter/notices", NOTICE).body
    pdf = tmp_path / "sign.pdf"
    pdf.write_bytes(owner.get(made["sign"]).raw)
    out = subprocess.run(
        [shutil.which("pdftotext") or "pdftotext", pdf, "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    zh, en = _words(out)
    assert "打上马赛克" in zh and "最长保留30天" in zh
    assert "faces are pixelated" in en and "for at most 30 days" in en
    assert "Smith & Sons (Shanghai) Ltd." in en  # a company name with & and parentheses
    page = api.client().get(urlsplit(made["url"]).path).raw.decode()
    assert "faces are pixelated" in page and "30 days" in page
