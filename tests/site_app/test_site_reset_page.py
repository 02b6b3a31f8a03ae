"""A password reset in real Chromium, at phone size, with the real site and broker and two real
devices: the office makes li a reset link from li's card (in Chinese); li opens it on a phone,
sees their username, sets a new password (a weak one refused first) and is in, watching list
and all; the lost phone's login ended; the link cannot be used again. Nothing breaks the
page's CSP."""

from __future__ import annotations

import time

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
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
    accept_terms,
)

NEW_PASSWORD = "li-family-new-password"


@needs_chromium
def test_the_office_sends_a_reset_link_and_the_parent_sets_a_password_on_a_phone(
    browser: Browser, site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    site.add_account(STAFF, STAFF_PASSWORD)
    li = site.add_account("li", PARENT_PASSWORD, "parent")
    grant = {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_at": time.time() + 86400}
    assert site.login(STAFF, STAFF_PASSWORD).put(f"/api/grants/{li}", grant).status == 200
    lost_phone = site.login("li", PARENT_PASSWORD)
    accept_terms(lost_phone)

    office, office_log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    log_in(office, STAFF, STAFF_PASSWORD, zh=True)
    card = office.locator("[data-testid=parent][data-username=li]")
    card.get_by_role("button", name="密码重置链接").click()
    shown = card.get_by_test_id("reset-link")
    expect(shown).to_contain_text("li 可用此链接设置新密码。仅可使用一次")
    expect(shown.get_by_role("button", name="复制链接")).to_be_visible()
    link = shown.locator(".secret").inner_text()
    assert link.startswith(f"{site.url}/#reset=")
    save_screenshot(office, "site-reset-link-zh")
    # the staff list has its own links (another member of staff may forget too)
    expect(office.get_by_test_id("staff-account")).to_have_text(f"{STAFF}密码重置链接")

    phone, phone_log = open_page(
        browser, site.url, locale="zh-CN", viewport=PHONE, path=link.removeprefix(site.url)
    )
    form = phone.locator("#reset")
    expect(form.get_by_test_id("reset-for")).to_have_text("账号：li")
    assert "#reset" not in phone.url  # the code left the address bar
    expect(phone.locator("#login")).to_be_hidden()
    form.get_by_label("新密码").fill("short")
    form.get_by_role("button", name="保存并登录").click()
    expect(form.get_by_role("alert")).to_contain_text("密码太弱")
    form.get_by_label("新密码").fill(NEW_PASSWORD)
    save_screenshot(phone, "site-reset-zh")
    form.get_by_role("button", name="保存并登录").click()
    expect(phone.locator("#who")).to_have_text("已登录：li")
    expect(phone.get_by_test_id("camera-list")).to_contain_text("Sunflower room")
    expect(form).to_be_hidden()

    assert lost_phone.get("/api/me").status == 401  # the lost phone's login ended
    assert site.login("li", NEW_PASSWORD).get("/api/me").status == 200
    again, again_log = open_page(
        browser, site.url, locale="zh-CN", viewport=PHONE, path=link.removeprefix(site.url)
    )
    expect(again.locator("#reset [role=alert]")).to_have_text(
        "此重置链接已被使用。请直接登录，或向幼儿园索取新的链接。"
    )
    again.locator("#reset").get_by_role("button", name="返回登录").click()
    expect(again.locator("#login")).to_be_visible()
    for page in (office, phone, again):
        assert csp_violations(page) == []
    assert office_log.unexpected_errors("/api/me") == []
    assert phone_log.unexpected_errors("/api/me", "/api/reset") == []  # the weak password
    assert again_log.unexpected_errors("/api/me", "/api/reset/preview") == []
