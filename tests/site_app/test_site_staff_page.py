"""The site's staff pages in real Chromium, in Chinese, at phone size, with the real site, the real
mosquitto and two real devices: the office adds a parent, gives them the Sunflower room with
viewing hours and a last day (bad input first: refused on the page, nothing changed), sees the
grant held on both devices once the parent accepted the viewing terms, withdraws it, and reads
the site's own log and the devices' trails, each chain verified. Nothing breaks the page's CSP.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

from site_app.db import DATABASE
from testkit.api import RunningApi
from testkit.broker import MqttBroker, publish_and_wait
from testkit.browser import (
    PHONE,
    csp_violations,
    log_in,
    needs_chromium,
    open_page,
    save_screenshot,
)
from testkit.net import wait_until
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
    accept_terms,
)


def _events(site: RunningSite, event: str | None, about: str | None = None) -> list[str]:
    """The site log's records of ``event`` (every record: None), about account ``about``
    (anyone's: None), read from its database on a connection of the test's own (the site's
    belongs to its loop)."""
    with contextlib.closing(sqlite3.connect(site.service.config.data_dir / DATABASE)) as conn:
        rows = conn.execute(
            "SELECT event FROM audit WHERE (?1 IS NULL OR event = ?1)"
            " AND (?2 IS NULL OR json_extract(details, '$.account') = ?2)",
            (event, about),
        ).fetchall()
    return [r[0] for r in rows]


def _site_follows(site: RunningSite, device: str, event: str, viewer: str) -> bool:
    """Whether the site kept ``device``'s record of ``event`` for ``viewer`` (within 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for record in site.service.trails.records(device, 500):
            details = record["details"]
            if (
                record["event"] == event
                and isinstance(details, dict)
                and details.get("viewer") == viewer
            ):
                return True
        time.sleep(0.1)
    return False


@needs_chromium
def test_the_office_manages_a_parent_on_a_phone(
    browser: Browser, site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    kg1, kg2 = devices
    site.add_account(STAFF, STAFF_PASSWORD)
    page, log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    log_in(page, STAFF, STAFF_PASSWORD, zh=True)
    expect(page.get_by_role("tab", name="家长")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#staff-who")).to_have_text(f"已登录：{STAFF}")
    # the class-list import (/import.html): its link shows since the site serves that page
    expect(page.get_by_role("link", name="导入班级名单")).to_be_visible()

    # add a parent
    adding = page.get_by_test_id("add-account")
    adding.get_by_label("用户名").fill("li")
    adding.get_by_label("初始密码").fill(PARENT_PASSWORD)
    adding.get_by_role("button", name="添加").click()
    expect(page.locator(".page-status")).to_have_text("已添加账号 li，请为其开通教室。")
    card = page.get_by_test_id("parent").filter(has_text="li")
    expect(card).to_contain_text("尚未开通教室。")
    li = next(a.id for a in site.service.accounts.all() if a.username == "li")

    # the grant: the Sunflower room, weekdays 08:00-18:00 (the editor's first window)
    card.get_by_role("button", name="修改授权").click()
    editor = card.get_by_test_id("grant-editor")
    expect(editor.get_by_role("checkbox", name="Moon")).to_be_visible()  # the devices' rooms
    editor.get_by_role("checkbox", name="Sunflower").check()
    alert = editor.get_by_role("alert")
    # bad input first: no day ticked, then a last day gone by; each refused, nothing changes
    for day in ("周一", "周二", "周三", "周四", "周五"):
        editor.get_by_role("checkbox", name=day).uncheck()
    editor.get_by_role("button", name="保存").click()
    expect(alert).to_contain_text("观看时段无效")
    for day in ("周一", "周二", "周三", "周四", "周五"):
        editor.get_by_role("checkbox", name=day).check()
    yesterday = dt.date.today() - dt.timedelta(days=1)
    editor.get_by_test_id("grant-until").fill(yesterday.isoformat())
    editor.get_by_role("button", name="保存").click()
    expect(alert).to_have_text("最后一天必须是将来的日期。")
    assert site.service.grants.get(li) is None
    last_day = dt.date.today() + dt.timedelta(days=90)
    editor.get_by_test_id("grant-until").fill(last_day.isoformat())
    editor.get_by_role("button", name="保存").click()
    expect(page.locator(".page-status")).to_have_text("已为 li 保存授权。")
    card = page.get_by_test_id("parent").filter(has_text="li")
    expect(card).to_contain_text("教室：Sunflower")
    expect(card).to_contain_text("时段：周一至周五 08:00–18:00")
    expect(card).to_contain_text("尚未同意观看条款")
    expect(card.get_by_test_id("grant-devices")).to_contain_text("kg1：等待家长同意观看条款")
    grant = site.service.grants.get(li)
    assert grant is not None and grant.rooms == ("Sunflower",)
    assert dt.date.fromtimestamp(grant.expires_at) == last_day

    # the parent accepts the viewing terms: both devices hold the grant, and the page says so
    accept_terms(site.login("li", PARENT_PASSWORD))
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    page.get_by_role("tab", name="家长").click()
    card = page.get_by_test_id("parent").filter(has_text="li")
    expect(card).to_contain_text("已同意观看条款")
    expect(card.get_by_test_id("grant-devices")).to_have_text("kg1：已生效kg2：已生效")
    save_screenshot(page, "site-staff-zh")
    page.get_by_role("tab", name="教室与设备").click()
    kg2_card = page.get_by_test_id("device").filter(has_text="kg2")
    expect(kg2_card).to_contain_text("在线")
    expect(kg2_card).to_contain_text("Moon · Moon room")
    expect(kg2_card).to_contain_text("已生效的授权：li")

    # withdraw it: both devices revoke the parent's viewer
    page.get_by_role("tab", name="家长").click()
    page.get_by_test_id("parent").filter(has_text="li").get_by_role(
        "button", name="撤回授权"
    ).click()
    expect(page.locator(".page-status")).to_have_text("已撤回 li 的授权。")
    assert site.acknowledged("kg1", set()) and site.acknowledged("kg2", set())
    for device in (kg1, kg2):
        assert device.server.live.controller.viewers.by_username(f"site:{li}").revoked_at  # type: ignore[union-attr]

    # the audit: the site's own log and the devices' trails, each chain verified (the site
    # follows a device's log head, which the device re-sends within a second of a change)
    for device in ("kg1", "kg2"):  # (the filtered trails below count both revocations)
        assert _site_follows(site, device, "viewer_revoked", f"site:{li}")
    page.get_by_role("tab", name="审计").click()
    expect(page.get_by_test_id("site-chain")).to_contain_text("✓ 哈希链已验证")
    site_log = page.get_by_test_id("site-audit")
    for event in ("site_grant_withdrawn", "site_grant_put", "site_account_created", "login_ok"):
        expect(site_log.locator(f"[data-event={event}]").first).to_be_visible()
    # filtered: the grants saved, then what li did; and the whole log downloaded
    page.get_by_test_id("site-audit-event").select_option(label="保存授权")
    expect(site_log.locator("li")).to_have_count(len(_events(site, "site_grant_put")))
    expect(site_log.locator("[data-event=site_grant_put]")).to_have_count(
        len(_events(site, "site_grant_put"))
    )
    page.get_by_test_id("site-audit-event").select_option("")
    page.get_by_test_id("site-audit-actor").select_option("li")
    expect(site_log.locator("li")).to_have_count(1)
    expect(site_log.locator("[data-event=site_terms_accepted]")).to_have_count(1)
    save_screenshot(page, "site-audit-zh")
    page.get_by_test_id("site-audit-actor").select_option("")
    # everything about li's account, whoever did it
    page.get_by_test_id("site-audit-about").select_option(label="li")
    expect(site_log.locator("li")).to_have_count(len(_events(site, None, about=li)))
    expect(site_log.locator("[data-event=site_grant_put]").first).to_be_visible()
    page.get_by_test_id("site-audit-about").select_option("")
    with page.expect_download() as download:
        page.get_by_test_id("site-audit-download").click()
    assert download.value.suggested_filename == "site-audit.jsonl"
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert len(lines) == len(_events(site, None))
    expect(page.get_by_test_id("trail-states")).to_contain_text("kg1：✓ 哈希链已验证")
    expect(page.get_by_test_id("trail-states")).to_contain_text("kg2：✓ 哈希链已验证")
    page.get_by_test_id("trail-device").select_option("kg2")
    trail = page.get_by_test_id("device-audit")
    expect(trail.locator("[data-event=viewer_revoked]").first).to_contain_text(f"site:{li}")
    expect(trail.locator("[data-event=viewer_invited]").first).to_contain_text(f"site:{li}")
    # what the devices kept about li, then only the revocations of li's viewer, on every device
    page.get_by_test_id("trail-device").select_option("")
    page.get_by_test_id("trail-account").select_option(label="li")
    page.get_by_test_id("trail-event").select_option("viewer_revoked")
    expect(trail.locator("li")).to_have_count(2)  # one revocation on each device
    expect(trail.locator("[data-event=viewer_revoked]")).to_have_count(2)
    for record in trail.locator("li").all():
        expect(record).to_contain_text(f"site:{li}")

    # disabling an account asks first
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("tab", name="家长").click()
    page.get_by_test_id("parent").filter(has_text="li").get_by_role(
        "button", name="停用账号"
    ).click()
    assert site.service.accounts.by_username("li") is not None

    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_test_id("parent").filter(has_text="li").get_by_role(
        "button", name="停用账号"
    ).click()
    expect(page.locator(".page-status")).to_have_text("账号 li 已停用。")
    assert site.service.accounts.by_username("li") is None
    # enabled again from the folded list: the account is back, without a grant
    page.get_by_test_id("disabled-accounts").locator("summary").click()
    expect(page.get_by_test_id("disabled-accounts").locator("summary")).to_have_text(
        "已停用的账号（1）"
    )
    page.get_by_test_id("disabled-account").get_by_role("button", name="重新启用").click()
    expect(page.locator(".page-status")).to_contain_text("账号 li 已重新启用")
    expect(page.get_by_test_id("parent").filter(has_text="li")).to_contain_text("尚未开通教室。")
    expect(page.get_by_test_id("disabled-accounts")).to_have_count(0)
    assert site.service.accounts.by_username("li") is not None
    # the same pages in English
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("tab", name="Parents")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Audit").click()
    expect(page.get_by_test_id("site-chain")).to_contain_text("✓ Chain verified")
    expect(page.get_by_test_id("site-audit")).to_contain_text("Account disabled")
    assert csp_violations(page) == []
    assert log.unexpected_errors("/api/me", "/import.html", "/api/grants/" + li) == []


@needs_chromium
def test_a_camera_id_two_devices_use_is_shown_on_the_devices_tab(
    browser: Browser,
    site: RunningSite,
    devices: tuple[RunningApi, RunningApi],
    mqtt_broker: MqttBroker,
) -> None:
    """A third device (a bare MQTT client with its own certificate) also calls its camera kg-a:
    the devices tab says so under both devices' cameras, in words, and under no other."""
    kg3 = mqtt_broker.client("kg3")
    cameras = {"device": "kg3", "cameras": [
        {"id": "kg-a", "name": "Hall", "room": "Hall", "profile": "kindergarten"}
    ]}  # fmt: skip
    assert not publish_and_wait(kg3, "site/kg3/up/cameras", json.dumps(cameras)).is_failure
    assert wait_until(lambda: "kg-a" in site.service.directory.clashes(), 10)
    site.add_account(STAFF, STAFF_PASSWORD)
    page, log = open_page(browser, site.url, viewport=PHONE)
    log_in(page, STAFF, STAFF_PASSWORD)
    page.get_by_role("tab", name="Rooms & devices").click()
    clashes = page.get_by_test_id("camera-clash")
    expect(clashes).to_have_count(2)
    kg1 = page.locator("[data-testid=device][data-device=kg1]")
    expect(kg1.locator("[data-camera=kg-a]")).to_contain_text(
        "The camera id kg-a is also used by kg3: the relay cannot tell them apart"
    )
    expect(kg1.locator("[data-camera=kg-b]").get_by_test_id("camera-clash")).to_have_count(0)
    expect(page.locator("[data-device=kg3] [data-camera=kg-a]")).to_contain_text("also used by kg1")
    assert csp_violations(page) == []
    assert log.unexpected_errors("/api/me", "/import.html") == []


@needs_chromium
def test_a_new_site_is_set_up_from_a_phone_with_the_setup_code(
    browser: Browser, site: RunningSite
) -> None:
    """No staff account yet: the page shows the set-up form, not the log-in; a wrong code is
    refused in words; the right one makes the office account and opens the staff pages."""
    code = site.setup_code()
    page, log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    form = page.locator("#setup")
    expect(form.get_by_role("heading")).to_have_text("设置本站点")
    expect(page.locator("#login")).to_be_hidden()
    form.get_by_label("设置码").fill("ABCD-EFGH-JKMN-PQRS")
    form.get_by_label("用户名").fill(STAFF)
    form.get_by_label("密码（至少 10 个字符）").fill(STAFF_PASSWORD)
    form.get_by_role("button", name="创建办公室账号").click()
    expect(page.locator("#setup-error")).to_contain_text("设置码错误、已使用或已过期")
    form.get_by_label("设置码").fill(code)
    save_screenshot(page, "site-setup-zh")
    form.get_by_role("button", name="创建办公室账号").click()
    expect(page.locator("#staff-who")).to_have_text(f"已登录：{STAFF}")
    expect(form).to_be_hidden()
    page.reload()  # logged in by the cookie; and no set-up form for anyone now
    expect(page.locator("#staff-who")).to_have_text(f"已登录：{STAFF}")
    other, _ = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    expect(other.locator("#login")).to_be_visible()
    expect(other.locator("#setup")).to_be_hidden()
    assert csp_violations(page) == []
    assert log.unexpected_errors("/api/me", "/api/setup", "/import.html") == []


@needs_chromium
def test_the_office_pauses_a_room_and_its_parent_sees_it_paused(
    browser: Browser, site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    """On a phone, in Chinese: Rooms & devices → Pause viewing for Sunflower, for 30 minutes
    (asks first, naming when it ends); the parent's page then shows both Sunflower cameras
    paused, with no Watch button; Resume."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    made = staff.post(
        "/api/accounts", {"username": "li", "password": PARENT_PASSWORD, "role": "parent"}
    )
    grant = {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_at": time.time() + 86400}
    assert staff.put(f"/api/grants/{made.body['id']}", grant).status == 200
    accept_terms(site.login("li", PARENT_PASSWORD))

    page, log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    log_in(page, STAFF, STAFF_PASSWORD, zh=True)
    page.get_by_role("tab", name="教室与设备").click()
    sunflower = page.locator("[data-testid=room][data-room=Sunflower]")
    page.once("dialog", lambda dialog: dialog.dismiss())  # asked first: not now
    sunflower.get_by_role("button", name="暂停观看").click()
    expect(sunflower).to_have_attribute("data-paused", "no")
    length = sunflower.get_by_test_id("pause-length")
    expect(length.locator("option")).to_have_text(
        ["直到我恢复", "15 分钟", "30 分钟", "1 小时", "2 小时"]
    )
    length.select_option(label="30 分钟")
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    sunflower.get_by_role("button", name="暂停观看").click()
    expect(page.locator(".page-status")).to_have_text(
        "已暂停 Sunflower 的观看，正在观看的家长已被断开。"
    )
    assert asked and "家长可在" in asked[0], asked
    expect(sunflower).to_have_attribute("data-paused", "yes")
    expect(sunflower).to_contain_text(f"由 {STAFF} 暂停至")
    (pause,) = staff.get("/api/rooms/paused").body
    assert pause["ends_at"] == pytest.approx(time.time() + 1800, abs=60)
    save_screenshot(page, "site-room-paused-zh")

    parent, parent_log = open_page(browser, site.url, locale="zh-CN", viewport=PHONE)
    log_in(parent, "li", PARENT_PASSWORD, zh=True)
    listed = parent.get_by_test_id("camera-list")
    expect(listed.locator("li")).to_have_count(2)
    expect(listed).to_contain_text("幼儿园已暂停观看，至")
    expect(listed.get_by_role("button")).to_have_count(0)

    page.locator("[data-testid=room][data-room=Sunflower]").get_by_role(
        "button", name="恢复观看"
    ).click()
    expect(page.locator(".page-status")).to_have_text("已恢复 Sunflower 的观看。")
    parent.reload()
    expect(
        parent.get_by_test_id("camera-list").get_by_role("button", name="观看 Sunflower room")
    ).to_be_visible()
    for p in (page, parent):
        assert csp_violations(p) == []
    assert log.unexpected_errors("/api/me", "/import.html") == []
    assert parent_log.unexpected_errors("/api/me") == []
