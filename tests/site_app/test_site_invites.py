"""Invites and class-list import on the site, all real: mosquitto with deploy/mosquitto's config
and ACL, two kindergarten devices (real owner-API servers linked to the site) and ``site_app``.

kg1 films Sunflower (kg-a) and Rainbow (kg-b); kg2 films Sunflower's nap room (kg-c) and Moon
(kg-d). No relay here: a ticket the device would issue is refused ``not_on_relay`` by the
device, which shows the request reached it and passed its rules (the parent's grant, room,
schedule, end date, consent); ``test_site_relay`` plays a ticket through Janus.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from privacy.gates.viewers import TERMS_VERSION
from testkit.api import Client, Reply, RunningApi
from testkit.clock import FakeClock
from testkit.concurrency import all_at_once
from testkit.qr import pdf_cards, qr_texts
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
)

DAY = 86400.0
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
# as Excel on Chinese Windows saves it: GB18030, Chinese headers, no username column (each
# parent picks their own when joining)
CLASS = (
    "家庭,教室,观看时段,截止日期,语言\r\n"
    "王小明家,Sunflower,周一至周五 08:00-17:00,2027/7/15,中文\r\n"
    "李华家,Sunflower,每天 00:00-24:00,2027-07-15,zh-CN\r\n"
    "Emma's family,Rainbow,mon-fri 08:00-12:00,2027-07-15,en\r\n"
)


@pytest.fixture
def staff(site: RunningSite, devices: tuple[RunningApi, RunningApi]) -> Client:
    site.add_account(STAFF, STAFF_PASSWORD)
    return site.login(STAFF, STAFF_PASSWORD)


def csv_post(client: Client, path: str, data: bytes, **kw: object) -> Reply:
    return client.post(path, raw=data, content_type="text/csv", **kw)


def invite(staff: Client, rooms: list[str], **extra: object) -> Reply:
    body = {"rooms": rooms, "schedule": EVERY_DAY, "expires_on": "2099-07-15", **extra}
    return staff.post("/api/invites", body)


def redeem(guest: Client, code: str, username: str | None = "li") -> Reply:
    body = {"code": code, "password": PARENT_PASSWORD, "terms": TERMS_VERSION}
    return guest.post("/api/invites/redeem", body | ({"username": username} if username else {}))


def test_a_gb18030_class_list_with_chinese_headers_becomes_invites(
    site: RunningSite, staff: Client, tmp_path: Path
) -> None:
    data = CLASS.encode("gb18030")
    preview = csv_post(staff, "/api/import/preview", data, headers=ZH)
    assert preview.status == 200, preview.body
    assert preview.body["ok"] and preview.body["encoding"] == "gb18030"
    assert [f["family"] for f in preview.body["families"]] == [
        "王小明家",
        "李华家",
        "Emma's family",
    ]
    assert preview.body["families"][0]["schedule_text"] == "周一至周五 08:00–17:00"
    assert staff.get("/api/invites").body == []  # a preview makes nothing

    imported = csv_post(staff, "/api/import", data, headers=ZH)
    assert imported.status == 201, imported.body
    made = imported.body["invites"]
    assert imported.body["imported"] == 3 and imported.body["encoding"] == "gb18030"
    assert [(i["family"], i["rooms"], i["language"]) for i in made] == [
        ("王小明家", ["Sunflower"], "zh-CN"),
        ("李华家", ["Sunflower"], "zh-CN"),
        ("Emma's family", ["Rainbow"], "en"),
    ]
    assert all(i["username"] is None and i["state"] == "pending" for i in made)
    assert made[0]["invite_path"] == f"/#join={made[0]['code']}"
    assert made[0]["access_until"] == "2027-07-15"
    # 14 days to use the code (invites.valid_days)
    assert made[0]["expires_at"] - made[0]["created_at"] == pytest.approx(14 * DAY)
    pending = staff.get("/api/invites").body
    assert [p["id"] for p in pending] == [i["id"] for i in made]
    assert all("code" not in p for p in pending)  # shown once, never again
    # the site keeps only the codes' hashes
    conn = site.service.conn
    stored = conn.execute("SELECT * FROM invites").fetchall()
    assert not any(i["code"] in str(row) for i in made for row in stored)
    # the site's audit log: each invite and the import, by the staff member; no code in it
    log = staff.get("/api/audit?limit=10").body["records"]
    events = [(r["actor"], r["event"]) for r in log[:4]]
    assert events == [(STAFF, "site_invites_imported")] + [(STAFF, "site_invite_created")] * 3
    assert log[0]["details"]["count"] == 3 and log[0]["details"]["encoding"] == "gb18030"
    assert not any(i["code"] in str(log) for i in made)

    base = "https://kg.example.org"
    sheet = staff.post("/api/import/sheet", {"base_url": base, "codes": [i["code"] for i in made]})
    assert sheet.status == 200, sheet.body
    assert sheet.headers["Content-Type"] == "application/pdf"
    cards = pdf_cards(sheet.raw, tmp_path)
    assert [qr_texts(card) for card in cards[:3]] == [{f"{base}/#join={i['code']}"} for i in made]
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=sheet.raw, capture_output=True, check=True
    ).stdout.decode()
    assert "王小明家" in text and "Emma's family" in text and made[2]["code"] in text
    assert "设置用户名和密码" in text  # the parent picks a username: the card says so
    # a class list that names usernames keeps them for their families
    named = (
        "家庭,用户名,教室,观看时段,截止日期\r\n张伟家,zhang.w,Moon,工作日 08:00-17:00,2099-1-31\r\n"
    )
    one = csv_post(staff, "/api/import", named.encode("utf-8")).body["invites"][0]
    assert one["username"] == "zhang.w"
    again = csv_post(staff, "/api/import/preview", named.encode("utf-8"))
    assert [p["code"] for p in again.body["problems"]] == ["username_taken"]
    guest = site.client()
    assert redeem(guest, one["code"], "other").error == "username_fixed"
    joined = redeem(guest, one["code"], None)
    assert joined.status == 201 and joined.body["username"] == "zhang.w"
    assert Client(site.url, joined.body["token"]).get("/api/me").body["username"] == "zhang.w"


def test_a_bad_row_imports_nothing(site: RunningSite, staff: Client) -> None:
    bad = CLASS + "陈静家,Star,周八 08:00-17:00,2020-01-01,fr\r\n"
    for lang, headers in (("zh", ZH), ("en", {})):
        reply = csv_post(staff, "/api/import", bad.encode("gb18030"), headers=headers)
        assert (reply.status, reply.error) == (422, "invalid_class_list")
        problems = [(p["line"], p["letter"], p["code"]) for p in reply.body["problems"]]
        assert problems == [
            (5, "B", "unknown_room"),
            (5, "C", "bad_schedule"),
            (5, "D", "date_passed"),
            (5, "E", "bad_language"),
        ]
        message = reply.body["problems"][0]["message"]
        if lang == "zh":
            assert message.startswith("没有摄像头在“Star”教室") and "Moon" in message
        else:
            assert message.startswith("no camera is in room 'Star'")
    # another room of the site is fine: Moon is filmed by kg2
    assert csv_post(staff, "/api/import/preview", CLASS.replace("Rainbow", "Moon").encode()).body[
        "ok"
    ]
    phone = CLASS.replace("Emma's family,", "Emma,").replace(",en", ",en,13800138000")
    assert csv_post(staff, "/api/import", phone.encode()).body["problems"][0]["code"] == (
        "extra_cells"
    )
    assert csv_post(staff, "/api/import", b"\xff\xfe\x00a").body["problems"][0]["code"] == "utf16"
    assert staff.get("/api/invites").body == []
    assert site.service.conn.execute("SELECT count(*) FROM invites").fetchone()[0] == 0
    # parents may not import or see invites
    site.add_account("p", PARENT_PASSWORD, "parent")
    parent = site.login("p", PARENT_PASSWORD)
    assert csv_post(parent, "/api/import", CLASS.encode()).status == 403
    assert parent.get("/api/invites").status == 403


def test_a_redeemed_invite_is_a_parent_with_the_grant_on_each_device(
    site: RunningSite, staff: Client, devices: tuple[RunningApi, RunningApi]
) -> None:
    made = invite(staff, ["Sunflower"], family="李华家")
    assert made.status == 201, made.body
    code = made.body["code"]
    guest = site.client()
    # what the invite gives, before joining (typed from the card: any case, O for 0)
    typed = code.lower().replace("-", " ").replace("0", "O")
    shown = guest.post("/api/invites/preview", {"code": typed})
    assert shown.status == 200, shown.body
    assert shown.body["rooms"] == ["Sunflower"] and shown.body["username"] is None
    assert (
        shown.body["terms"]["version"] == TERMS_VERSION and "观看时段" in shown.body["terms"]["zh"]
    )
    # the device's password rules; the terms must be today's
    weak = guest.post(
        "/api/invites/redeem", {"code": code, "username": "li", "password": "x", "terms": "1"}
    )
    assert weak.error == "terms_changed"
    weak = guest.post(
        "/api/invites/redeem",
        {"code": code, "username": "li", "password": "123", "terms": TERMS_VERSION},
    )
    assert weak.error == "bad_password"
    assert redeem(guest, code, STAFF).error == "username_taken"

    joined = redeem(guest, code)
    assert joined.status == 201, joined.body
    assert joined.body["role"] == "parent"
    account = site.service.accounts.by_username("li")
    assert account is not None
    # the grant reaches both devices that film Sunflower, acknowledged on up/grants
    assert site.acknowledged("kg1", {account.id}) and site.acknowledged("kg2", {account.id})
    viewer = devices[1].server.live.controller.viewers.by_username(f"site:{account.id}")  # type: ignore[union-attr]
    assert viewer is not None and viewer.consent_at is not None and viewer.rooms == ("Sunflower",)
    assert any(c.startswith("site_session=") and "HttpOnly" in c for c in joined.set_cookies)
    guest = Client(site.url, joined.body["token"])  # logged in by joining
    me = guest.get("/api/me").body
    assert me["terms"]["required"] is False
    assert [(c["device"], c["camera"]) for c in me["cameras"]] == [("kg1", "kg-a"), ("kg2", "kg-c")]
    # their room's camera: the device's rules pass (only the relay is missing here); not another
    for device, camera in (("kg1", "kg-a"), ("kg2", "kg-c")):
        assert guest.post(f"/api/watch/{device}/{camera}").error == "not_on_relay"
    for device, camera in (("kg1", "kg-b"), ("kg2", "kg-d")):
        assert guest.post(f"/api/watch/{device}/{camera}").error == "wrong_camera"
    # the password works for a later login
    assert site.login("li", PARENT_PASSWORD).get("/api/me").status == 200
    # used: refused, and no second account
    again = redeem(site.client(), code, "li2")
    assert (again.status, again.error) == (410, "invite_used")
    assert site.service.accounts.by_username("li2") is None
    assert staff.get("/api/invites").body == []


def test_expired_withdrawn_and_unknown_codes_are_refused(site: RunningSite, staff: Client) -> None:
    first = invite(staff, ["Sunflower"]).body
    second = invite(staff, ["Rainbow"]).body
    assert invite(staff, ["Star"]).error == "unknown_room"
    assert invite(staff, ["Sunflower"], expires_on="2020-01-01").error == "date_passed"
    assert [i["id"] for i in staff.get("/api/invites").body] == [first["id"], second["id"]]

    assert staff.call("DELETE", f"/api/invites/{second['id']}").status == 200
    assert staff.call("DELETE", f"/api/invites/{second['id']}").status == 404
    guest = site.client()
    withdrawn = redeem(guest, second["code"])
    assert (withdrawn.status, withdrawn.error) == (410, "invite_withdrawn")
    assert guest.post("/api/invites/preview", {"code": second["code"]}).error == (
        "invite_withdrawn"
    )
    unknown = redeem(guest, "ABCD-EFGH-JKMN-PQRS")
    assert (unknown.status, unknown.error) == (404, "invite_unknown")

    clock = site.service.clock
    assert isinstance(clock, FakeClock)
    clock.advance(14 * DAY + 1)
    expired = redeem(guest, first["code"])
    assert (expired.status, expired.error) == (410, "invite_expired")
    staff = site.login(STAFF, STAFF_PASSWORD)  # the earlier login has ended too
    assert staff.get("/api/invites").body == []
    assert site.service.accounts.by_username("li") is None
    sheet = staff.post("/api/import/sheet", {"base_url": "https://x.org", "codes": [first["code"]]})
    assert (sheet.status, sheet.error) == (422, "unknown_invite")


def test_wrong_codes_count_as_guesses_and_lock_the_address_out_for_a_while(
    site: RunningSite, staff: Client
) -> None:
    code = invite(staff, ["Sunflower"]).body["code"]
    guest = site.client()
    for _ in range(8):  # a good code is no guess: a parent may open the card's link again
        assert guest.post("/api/invites/preview", {"code": code}).status == 200
    for letter in "STUVW":
        wrong = guest.post("/api/invites/preview", {"code": f"ABCD-EFGH-JKMN-PQR{letter}"})
        assert (wrong.status, wrong.error) == (404, "invite_unknown")
    locked = guest.post("/api/invites/preview", {"code": code})
    assert (locked.status, locked.error) == (429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) > 0
    assert redeem(guest, code).status == 429
    assert site.service.accounts.by_username("li") is None  # nothing made while locked out
    clock = site.service.clock
    assert isinstance(clock, FakeClock)
    clock.advance(15 * 60 + 1)
    assert redeem(guest, code).status == 201


def test_two_redemptions_at_once_make_one_account(site: RunningSite, staff: Client) -> None:
    code = invite(staff, ["Sunflower"]).body["code"]
    first, second = site.client(), site.client()
    replies = all_at_once(
        [lambda: redeem(first, code, "li"), lambda: redeem(second, code, "li.hua")]
    )
    outcomes = sorted((r.status, r.error) for r in replies)
    assert outcomes == [(201, None), (410, "invite_used")], outcomes
    parents = [a.username for a in site.service.accounts.all() if a.role == "parent"]
    assert len(parents) == 1
    grants = site.service.grants.all()
    assert [g.rooms for g in grants] == [("Sunflower",)]
