"""Bulk onboarding through the real owner API: the template, a dry-run preview that changes
nothing, an import that is all or nothing and audited, and the invite sheet whose QR codes
decode to invite links that a parent can accept."""

from __future__ import annotations

import codecs
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from camera_app.onboarding import MAX_BYTES
from testkit.api import ApiFactory, Client, RunningApi
from testkit.gates import KG_CAMERAS, audit_events
from testkit.qr import pdf_cards, qr_texts

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
CLASS = (
    "家庭,用户名,教室,观看时段,截止日期,语言\r\n"
    "王小明家,wang.xm,Sunflower,周一至周五 08:00-17:00,2027/7/15,中文\r\n"
    "李华家,li.hua,Sunflower,周一、周三 14:00-16:30,2027-07-15,zh-CN\r\n"
    "Emma's family,emma.p,Rainbow,mon-fri 08:00-12:00,2027-07-15,en\r\n"
    "张伟家,zhang.w,Rainbow;Sunflower,full-day,2027-07-15,\r\n"
    "陈静家,chen.j,Sunflower,每天 07:30-08:30,2027-01-31,中文\r\n"
)
BROKEN = (
    "家庭,用户名,教室,观看时段,截止日期,电话\r\n"
    "王小明家,wang.xm,Moon,周一至周五 08:00-17:00,2027/7/15,13800138000\r\n"
)
FULL_DAY = {
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}]
}
PASSWORD = "p4rent-pass!"


def csv_post(client: Client, path: str, data: bytes, **kw) -> object:
    return client.post(path, raw=data, content_type="text/csv", **kw)


@pytest.fixture
def school(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    api = start_api(
        {
            "streaming": {"profile": "kindergarten", "live_childcare_viewing_permitted": True},
            "onboarding": {"schedules": {"full-day": FULL_DAY}},
        },
        cameras=KG_CAMERAS,
    )
    return api, api.owner()


def viewer_names(owner: Client) -> list[str]:
    return [v["username"] for v in owner.get("/api/viewers").body]


@pytest.mark.parametrize(("lang", "header"), [("en", "username"), ("zh", "用户名")])
def test_the_template_downloads_in_both_languages(school, lang: str, header: str) -> None:
    api, owner = school
    reply = owner.get(f"/api/onboarding/template.csv?lang={lang}")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in reply.headers["Content-Disposition"]
    assert reply.raw.startswith(codecs.BOM_UTF8)
    assert header in reply.raw.decode("utf-8-sig").splitlines()[0]
    assert api.client().get("/api/onboarding/template.csv").status == 401


def test_the_preview_lists_every_family_and_changes_nothing(school) -> None:
    api, owner = school
    reply = csv_post(owner, "/api/onboarding/preview", CLASS.encode("gb18030"), headers=ZH)
    assert reply.status == 200, reply.body
    assert reply.body["ok"] is True and reply.body["encoding"] == "gb18030"
    assert reply.body["problems"] == []
    families = reply.body["families"]
    assert [f["username"] for f in families] == ["wang.xm", "li.hua", "emma.p", "zhang.w", "chen.j"]
    assert families[0]["family"] == "王小明家" and families[0]["line"] == 2
    assert families[0]["schedule_text"] == "周一至周五 08:00–17:00"
    assert families[3]["schedule_name"] == "full-day"
    assert families[3]["rooms"] == ["Rainbow", "Sunflower"]
    assert viewer_names(owner) == []
    assert not [e for e in audit_events(api) if e["event"].startswith("viewer")]


def test_problems_come_with_line_column_and_words_in_the_owner_s_language(school) -> None:
    api, owner = school
    data = BROKEN.encode("gb18030")
    preview = csv_post(owner, "/api/onboarding/preview", data, headers=ZH)
    assert preview.status == 200 and preview.body["ok"] is False
    (problem,) = preview.body["problems"]
    assert problem["line"] == 1 and problem["letter"] == "F" and problem["header"] == "电话"
    assert "不保存电话或证件号码" in problem["message"]
    fixed = BROKEN.replace(",电话", "").replace(",13800138000", "").encode("gb18030")
    preview = csv_post(owner, "/api/onboarding/preview", fixed)
    assert [(p["line"], p["column"], p["code"]) for p in preview.body["problems"]] == [
        (2, "rooms", "unknown_room")
    ]
    assert "Rainbow, Sunflower" in preview.body["problems"][0]["message"]
    refused = csv_post(owner, "/api/onboarding/import", fixed)
    assert refused.status == 422 and refused.error == "invalid_class_list"
    assert refused.body["problems"][0]["code"] == "unknown_room"
    assert viewer_names(owner) == []
    assert not [e for e in audit_events(api) if e["event"].startswith("viewer")]


def test_unreadable_uploads_are_refused_clearly(school) -> None:
    _, owner = school
    utf16 = csv_post(owner, "/api/onboarding/preview", CLASS.encode("utf-16"))
    assert utf16.status == 200 and utf16.body["problems"][0]["code"] == "utf16"
    assert "CSV UTF-8" in utf16.body["problems"][0]["message"]
    big = csv_post(owner, "/api/onboarding/preview", b"a," * (MAX_BYTES // 2 + 1))
    assert big.body["problems"][0]["code"] == "too_big"
    huge = csv_post(owner, "/api/onboarding/preview", b"a," * 40_000)
    assert huge.status == 413
    json_body = owner.post("/api/onboarding/import", {"csv": CLASS})
    assert json_body.status == 415
    assert viewer_names(owner) == []


def test_a_device_without_kindergarten_rooms_says_so(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    reply = csv_post(owner, "/api/onboarding/preview", CLASS.encode())
    assert reply.status == 422 and reply.error == "no_kindergarten_room"


def test_a_parent_cannot_import(school) -> None:
    api, owner = school
    imported = csv_post(owner, "/api/onboarding/import", CLASS.encode("gb18030"))
    code = imported.body["invites"][0]["code"]
    guest = api.client()
    assert (
        guest.post(
            "/api/invites/accept", {"code": code, "password": PASSWORD, "consent": True}
        ).status
        == 201
    )
    parent = guest.login("wang.xm", PASSWORD)
    assert csv_post(parent, "/api/onboarding/preview", CLASS.encode()).status == 403
    assert parent.post("/api/onboarding/sheet", {"invites": [{"code": code}]}).status == 403


def test_import_then_print_then_a_parent_joins_from_the_sheet(school, tmp_path: Path) -> None:
    api, owner = school
    imported = csv_post(owner, "/api/onboarding/import", CLASS.encode("gb18030"), headers=ZH)
    assert imported.status == 201, imported.body
    assert imported.body["imported"] == 5
    invites = imported.body["invites"]
    assert [i["username"] for i in invites] == ["wang.xm", "li.hua", "emma.p", "zhang.w", "chen.j"]
    assert all(i["role"] == "parent" and i["watermark"] for i in invites)
    assert invites[0]["invite_path"] == f"/#join={invites[0]['code']}"
    assert invites[0]["invite_url"] is None  # no public address: the app uses its own
    assert invites[2]["language"] == "en" and invites[0]["family"] == "王小明家"
    assert sorted(viewer_names(owner)) == sorted(i["username"] for i in invites)
    events = audit_events(api)
    assert [e["event"] for e in events].count("viewer_invited") == 5
    (record,) = [e for e in events if e["event"] == "viewers_imported"]
    assert record["count"] == 5 and record["encoding"] == "gb18030"
    assert record["rooms"] == ["Rainbow", "Sunflower"]
    # the same list again: every username is taken now, nothing more is made
    again = csv_post(owner, "/api/onboarding/import", CLASS.encode("gb18030"))
    assert again.status == 422
    assert {p["code"] for p in again.body["problems"]} == {"username_taken"}

    base = "http://kg-cam.example.com:8443"
    body = {
        "base_url": base,
        "invites": [
            {"code": i["code"], "family": i["family"], "language": i["language"]} for i in invites
        ],
    }
    sheet = owner.post("/api/onboarding/sheet", body)
    assert sheet.status == 200, sheet.body
    assert sheet.headers["Content-Type"] == "application/pdf"
    assert sheet.headers["Cache-Control"] == "no-store"
    cards = pdf_cards(sheet.raw, tmp_path)
    assert len(cards) == 8  # two pages of four; three slots of the second page are empty
    links = [f"{base}/#join={i['code']}" for i in invites]
    assert [qr_texts(card) for card in cards[:5]] == [{link} for link in links]
    assert all(not qr_texts(card) for card in cards[5:])
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=sheet.raw, capture_output=True, check=True
    ).stdout.decode()
    assert "王小明家" in text and "Emma's family" in text
    assert invites[0]["code"] in text  # the code typed out
    assert "周一至周五 08:00–17:00" in text and "Mon–Fri 08:00–12:00" in text
    assert "2027-07-15" in text and "实时观看邀请" in text and "Invitation to watch live" in text

    # a parent scans the first card and joins with the code in the link's fragment
    code = urlsplit(next(iter(qr_texts(cards[0])))).fragment.removeprefix("join=")
    guest = api.client()
    preview = guest.post("/api/invites/preview", {"code": code})
    assert preview.status == 200 and preview.body["rooms"] == ["Sunflower"]
    accepted = guest.post(
        "/api/invites/accept", {"code": code, "password": PASSWORD, "consent": True}
    )
    assert accepted.status == 201, accepted.body
    me = guest.login("wang.xm", PASSWORD).get("/api/me").body
    assert me["role"] == "parent"
    # a used code is not printed again
    used = owner.post("/api/onboarding/sheet", {"base_url": base, "invites": [{"code": code}]})
    assert used.status == 422 and used.error == "unknown_invite" and used.body["index"] == 0
    assert code not in str(used.body)


def test_the_device_s_public_address_goes_on_the_cards(
    start_api: ApiFactory, tmp_path: Path
) -> None:
    api = start_api(
        {
            "streaming": {
                "profile": "kindergarten",
                "public_url": "https://kg.example.com",
            }
        },
        cameras=KG_CAMERAS,
    )
    owner = api.owner()
    imported = csv_post(owner, "/api/onboarding/import", CLASS.encode("utf-8"))
    assert imported.status == 422  # full-day is not a schedule of this school
    one = "\r\n".join(CLASS.split("\r\n")[:2]) + "\r\n"
    imported = csv_post(owner, "/api/onboarding/import", one.encode("utf-8"))
    assert imported.status == 201, imported.body
    code = imported.body["invites"][0]["code"]
    assert imported.body["invites"][0]["invite_url"] == f"https://kg.example.com/#join={code}"
    sheet = owner.post(
        "/api/onboarding/sheet", {"base_url": "http://192.168.1.20", "invites": [{"code": code}]}
    )
    assert sheet.status == 200
    assert qr_texts(pdf_cards(sheet.raw, tmp_path)[0]) == {f"https://kg.example.com/#join={code}"}


def test_without_an_address_the_sheet_is_refused(school) -> None:
    _, owner = school
    imported = csv_post(owner, "/api/onboarding/import", CLASS.encode("utf-8"))
    code = imported.body["invites"][0]["code"]
    reply = owner.post("/api/onboarding/sheet", {"invites": [{"code": code}]})
    assert reply.status == 422 and "base_url" in reply.body["reason"]
    bad = owner.post(
        "/api/onboarding/sheet", {"base_url": "javascript:alert(1)", "invites": [{"code": code}]}
    )
    assert bad.status == 422
