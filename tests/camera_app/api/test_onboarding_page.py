"""Importing a class list in the owner app, in real Chromium on a phone-sized screen in Chinese,
against the real server: the template downloads, a GB18030 file with mistakes shows each
problem with its line and column and imports nothing, the corrected file previews as a table,
is imported on confirmation, and "Print invites" downloads a PDF whose QR codes are the links
the page shows for sharing; a parent types the code from a card on the sign-in page and joins."""

from __future__ import annotations

import codecs
import subprocess
from pathlib import Path

import cv2
from playwright.sync_api import Browser, Locator, Page, expect

from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory
from testkit.browser import PHONE, csp_violations, log_in, needs_chromium, open_page
from testkit.gates import KG_CAMERAS
from testkit.qr import qr_texts

pytestmark = needs_chromium

HEADER = "家庭,用户名,教室,观看时段,截止日期,语言\r\n"
GOOD = (
    HEADER + "王小明家,wang.xm,Sunflower,周一至周五 08:00-17:00,2027/7/15,中文\r\n"
    "李华家,li.hua,Rainbow,周一、周三 14:00-16:30,2027-07-15,\r\n"
    "Emma's family,emma.p,Sunflower,mon-fri 08:00-12:00,2027-07-15,en\r\n"
)
BAD = GOOD.replace("Rainbow", "Moon").replace("2027-07-15,en", "2027-02-30,en")


def upload(page: Page, path: Path, text: str, testid: str) -> Locator:
    """Choose ``text`` (written to ``path`` in GB18030, as Excel saves it in China) in the class
    list picker; returns what the page then shows with ``testid`` (problems or preview rows)."""
    path.write_bytes(text.encode("gb18030"))
    page.get_by_test_id("class-list-file").set_input_files(str(path))
    return page.get_by_test_id(testid)


def test_a_director_imports_a_class_list_and_prints_the_cards_on_a_phone(
    browser: Browser, start_api: ApiFactory, tmp_path: Path
) -> None:
    api = start_api(
        {"streaming": {"profile": "kindergarten", "live_childcare_viewing_permitted": True}},
        cameras=KG_CAMERAS,
    )
    owner = api.owner()
    page, log = open_page(browser, api.url, locale="zh-CN", viewport=PHONE)
    log_in(page, OWNER, OWNER_PASSWORD, zh=True)
    page.get_by_test_id("nav-viewers").click()
    expect(page.get_by_role("heading", name="导入班级名单")).to_be_visible()

    with page.expect_download() as template:
        page.get_by_test_id("class-list-template-zh").click()
    assert template.value.suggested_filename == "class-list-zh.csv"
    saved = Path(template.value.path()).read_bytes()
    assert saved.startswith(codecs.BOM_UTF8) and "用户名" in saved.decode("utf-8-sig")

    problems = upload(page, tmp_path / "班级名单-错误.csv", BAD, "class-list-problem")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("第 3 行, C 列（教室）")
    expect(problems.nth(0)).to_contain_text("没有摄像头在“Moon”教室")
    expect(problems.nth(1)).to_contain_text("第 4 行, E 列（截止日期）")
    expect(page.get_by_test_id("class-list-confirm")).to_have_count(0)
    assert owner.get("/api/viewers").body == []

    rows = upload(page, tmp_path / "班级名单.csv", GOOD, "class-list-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("王小明家")
    expect(rows.nth(0)).to_contain_text("周一至周五 08:00–17:00")
    page.get_by_test_id("class-list-confirm").click()
    links = page.get_by_test_id("class-list-link")
    expect(links).to_have_count(3)
    expect(page.get_by_test_id("viewer-item")).to_have_count(3)  # the list below refreshed
    shown = [links.nth(i).locator(".secret").inner_text() for i in range(3)]
    assert all(link.startswith(f"{api.url}/#join=") for link in shown)

    with page.expect_download() as sheet:
        page.get_by_test_id("class-list-print").click()
    pdf = Path(sheet.value.path())
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(tmp_path / "page")], check=True)
    (page_one,) = sorted(tmp_path.glob("page*.png"))
    image = cv2.imread(str(page_one))
    h, w = image.shape[:2]
    quarters = [image[r : r + h // 2, c : c + w // 2] for r in (0, h // 2) for c in (0, w // 2)]
    assert [qr_texts(q) for q in quarters[:3]] == [{link} for link in shown]

    assert csp_violations(page) == []
    assert log.unexpected_errors("/api/me") == []

    # Emma's parent types the code printed on her card on the sign-in page and joins
    code = shown[2].split("#join=")[1]
    parent, parent_log = open_page(browser, api.url, viewport=PHONE)
    parent.get_by_text("I have an invite code").click()
    parent.get_by_test_id("invite-code").fill(f" {code[:11]} {code[11:]} ")
    parent.get_by_role("button", name="Continue").click()
    join = parent.get_by_test_id("join-form")
    expect(join).to_contain_text("emma.p, you were invited")
    expect(join.get_by_test_id("join-hours")).to_contain_text("08:00")
    parent.get_by_test_id("join-consent").check()
    parent.get_by_label("Choose a password").fill("p4rent-pass!")
    parent.get_by_label("The password again").fill("p4rent-pass!")
    parent.get_by_role("button", name="Join").click()
    expect(parent.get_by_role("status")).to_contain_text("Welcome!")
    expect(parent.get_by_role("heading", name="Your viewing hours")).to_be_visible()
    assert owner.get("/api/viewers").body[2]["accepted_at"] is not None
    assert csp_violations(parent) == []
    assert parent_log.unexpected_errors("/api/me", "/api/cameras/kg-a/live") == []  # not live
