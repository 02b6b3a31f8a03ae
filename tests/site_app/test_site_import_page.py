"""The class-list import and the invite link in real Chromium, in Chinese at phone size: staff
import a GB18030 class list on ``/import.html`` and download the sheet; the QR code on a card
decodes to the site's invite link; a parent opens it, picks a username and a password, accepts
the viewing terms and sees their room's cameras. The site is real (mosquitto, two devices)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from testkit.api import RunningApi
from testkit.browser import (
    PHONE,
    csp_violations,
    log_in,
    needs_chromium,
    open_page,
    save_screenshot,
)
from testkit.qr import pdf_cards, qr_texts
from testkit.site import (
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
)

CLASS = (
    "家庭,教室,观看时段,截止日期,语言\r\n"
    "王小明家,Sunflower,每天 00:00-24:00,2099/7/15,中文\r\n"
    "李华家,Rainbow,周一至周五 08:00-17:00,2099-07-15,zh-CN\r\n"
    "Emma's family,Moon,mon-fri 08:00-12:00,2099-07-15,en\r\n"
)

pytestmark = needs_chromium


def test_staff_import_a_class_and_a_parent_joins_from_the_card(
    browser: Browser, site: RunningSite, devices: tuple[RunningApi, RunningApi], tmp_path: Path
) -> None:
    site.add_account(STAFF, STAFF_PASSWORD)
    staff, staff_log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    log_in(staff, STAFF, STAFF_PASSWORD, zh=True)
    staff.get_by_role("link", name="导入班级名单").click()  # from the staff pages
    expect(staff.get_by_role("heading", level=1)).to_have_text("邀请全班家长")
    staff.get_by_test_id("class-list-file").set_input_files(
        files=[{"name": "大一班.csv", "mimeType": "text/csv", "buffer": CLASS.encode("gb18030")}]
    )
    expect(staff.get_by_test_id("class-list-row")).to_have_count(3)
    expect(staff.get_by_test_id("class-list-preview")).to_contain_text("（由家长设置）")
    assert site.service.invites.pending() == []  # a preview makes nothing
    staff.get_by_role("button", name="邀请这 3 个家庭").click()
    expect(staff.get_by_role("status").first).to_contain_text("已生成 3 份邀请")
    expect(staff.get_by_test_id("pending-invite")).to_have_count(3)
    links = staff.get_by_test_id("class-list-link")
    expect(links).to_have_count(3)
    first_link = links.first.locator(".secret").inner_text()
    assert first_link.startswith(f"{site.url}/#join=")
    with staff.expect_download() as download:
        staff.get_by_role("button", name="打印邀请卡（PDF）").click()
    pdf = Path(download.value.path()).read_bytes()
    cards = pdf_cards(pdf, tmp_path)
    assert qr_texts(cards[0]) == {first_link}  # 王小明家's card: Sunflower
    save_screenshot(staff, "site-import-zh")
    assert csp_violations(staff) == []
    assert staff_log.unexpected_errors("/api/me") == []

    # the parent scans the card: the site's page opens the join form with the code
    link = next(iter(qr_texts(cards[0])))
    parent, parent_log = open_page(
        browser, site.url, locale="zh-CN", viewport=PHONE, path=link.removeprefix(site.url)
    )
    join = parent.locator("#join")
    expect(join.get_by_test_id("join-grant")).to_contain_text("教室：Sunflower")
    assert "#join" not in parent.url  # the code left the address bar
    expect(parent.locator("#login")).to_be_hidden()
    join.get_by_label("用户名").fill("wang.xm")
    join.get_by_label("设置密码").fill(PARENT_PASSWORD)
    expect(join.get_by_test_id("join-terms")).to_contain_text("观看时段")
    join.get_by_label("我已阅读并同意观看条款").check()
    save_screenshot(parent, "site-join-zh")
    join.get_by_role("button", name="创建我的账户").click()
    listed = parent.get_by_test_id("camera-list")
    expect(listed).to_contain_text("Sunflower room")
    expect(listed).to_contain_text("Sunflower nap room")
    expect(listed).not_to_contain_text("Rainbow")
    expect(listed).not_to_contain_text("Moon")
    expect(parent.locator("#who")).to_have_text("已登录：wang.xm")
    expect(parent.get_by_test_id("my-grant")).to_contain_text(
        "您的观看时段：周一至周日 00:00–24:00 · 有效期至 2099年7月15日"
    )
    # the parent can change the password they chose on the same page
    parent.locator("#password-box summary").click()
    parent.get_by_label("当前密码").fill(PARENT_PASSWORD)
    parent.get_by_label("新密码（至少 10 个字符）").fill("wang-family-new-password")
    parent.get_by_role("button", name="修改密码").click()
    expect(parent.locator("#password-status")).to_have_text(
        "密码已修改。您在其他设备上的登录已退出。"
    )
    assert site.login("wang.xm", "wang-family-new-password").get("/api/me").status == 200
    account = site.service.accounts.by_username("wang.xm")
    assert account is not None
    assert site.acknowledged("kg1", {account.id}) and site.acknowledged("kg2", {account.id})
    # the card cannot be used twice; staff see two invites left
    again, _ = open_page(
        browser, site.url, locale="zh-CN", viewport=PHONE, path=link.removeprefix(site.url)
    )
    expect(again.locator("#join [role=alert]")).to_have_text(
        "此邀请已被使用。请用您的用户名登录，或向幼儿园索取新的邀请。"
    )
    staff.reload()
    expect(staff.get_by_test_id("pending-invite")).to_have_count(2)
    assert csp_violations(parent) == [] and csp_violations(again) == []
    assert parent_log.unexpected_errors("/api/me") == []


def test_staff_invite_one_family_and_withdraw_a_lost_card(
    browser: Browser, site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    """One family from the form (the same checks as a class list's line), then its invite
    withdrawn: the card's link then says so."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff, staff_log = open_page(browser, site.url, path="/import.html")
    expect(staff.get_by_role("alert").first).to_have_text(
        "Log in as staff on the site's page first."
    )
    staff.goto(site.url + "/")
    log_in(staff, STAFF, STAFF_PASSWORD)
    staff.get_by_role("link", name="Import a class list").click()
    form = staff.locator("#one")
    form.get_by_label("Family").fill('Emma\'s family, "the Parkers"')
    form.get_by_label("Rainbow").check()
    form.get_by_label("Viewing hours").fill("mon-fri 8-17")
    form.get_by_label("Last day").fill("2099-07-15")
    form.get_by_label("Language").select_option("en")
    form.get_by_role("button", name="Make the invite").click()
    expect(staff.get_by_test_id("one-problems")).to_contain_text(
        "Viewing hours: 'mon-fri 8-17' is not a schedule"
    )
    assert site.service.invites.pending() == []
    form.get_by_label("Viewing hours").fill("mon-fri 08:00-17:00")
    form.get_by_role("button", name="Make the invite").click()
    link = staff.get_by_test_id("class-list-link")
    expect(link).to_contain_text('Emma\'s family, "the Parkers"')
    (made,) = site.service.invites.pending()
    assert made.spec.rooms == ("Rainbow",) and made.spec.lang == "en"
    assert made.spec.schedule.describe("en") == "Mon–Fri 08:00–17:00"
    url = link.locator(".secret").inner_text()
    staff.get_by_test_id("pending-invite").get_by_role("button", name="Withdraw").click()
    expect(staff.get_by_test_id("pending-invites")).to_have_text("None.")
    parent, _ = open_page(browser, site.url, path=url.removeprefix(site.url))
    expect(parent.locator("#join [role=alert]")).to_have_text(
        "This invite was withdrawn. Ask the school for a new one."
    )
    assert csp_violations(staff) == [] and csp_violations(parent) == []
    assert staff_log.unexpected_errors("/api/me") == []
