"""Bad input through the owner API: always a 4xx with a reason, and nothing stored.

Each test starts one real server on loopback (``start_api``) and sends it many invalid requests
through a plain HTTP client: resident ID numbers and USCCs that fail each check the validator
makes (length, format, check character, birth date, region, full-width digits), names, kinds,
wrong JSON types, unknown and missing keys, broken payloads (malformed JSON, non-objects, wrong
Content-Type, empty, invalid UTF-8, over 64 KiB, nested too deeply), impossible or past dates,
malformed weekly schedules, bad notice texts and wrong opt-in confirmations; hypothesis adds
random 18-character numbers that stdnum refuses and random JSON values in every field.

For every refusal it checks: a status in 400-499, a JSON body with non-empty ``error`` and
``reason`` strings, and that neither the answer nor the log contains the submitted resident ID
number. Row counts of every table that records something (registrations, viewers, notices,
consents, opt-ins, public links, users, sessions, audit) are the same before and after, and no
notice PDF is written. Afterwards the server still accepts a valid registration.
"""

from __future__ import annotations

import json
import logging
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from testkit.api import ApiFactory, Client, Reply, RunningApi, make_id, make_uscc

JSON = "application/json"
TABLES = (
    "registrations",
    "viewers",
    "notices",
    "guardian_consents",
    "streaming_optins",
    "public_links",
    "users",
    "sessions",
    "audit",
)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DAILY_9_TO_21 = {
    "windows": [
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "09:00",
            "end": "21:00",
        }
    ]
}
WEEKDAYS_8_TO_17 = {
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}]
}
KINDERGARTEN = {"streaming": {"profile": "kindergarten", "live_childcare_viewing_permitted": True}}
MERCHANT = {"streaming": {"profile": "merchant", "public_url": "https://shop-cam.example.com"}}

VALID_ID = make_id()  # 110101 19900307 123 + check digit; the test clock is 2026-11-16
VALID_USCC = make_uscc()
OWNER_REG = {"kind": "owner", "name": "王小明", "resident_id": VALID_ID}
BUSINESS_REG = {**OWNER_REG, "kind": "business", "uscc": VALID_USCC}


# --- helpers ------------------------------------------------------------------------------------


def counts(api: RunningApi) -> dict[str, int]:
    """Rows in every table an accepted request would write to, read on a second connection."""
    conn = api.db()
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def refused(
    reply: Reply,
    status: int | None = None,
    *,
    error: str | None = None,
    secret: object = None,
    what: object = "",
) -> Reply:
    """Assert a 4xx JSON refusal with a reason that does not echo ``secret``."""
    where = f"{what!r} -> {reply.status} {reply.body!r}"
    assert 400 <= reply.status < 500, where
    if status is not None:
        assert reply.status == status, where
    assert reply.headers.get("Content-Type", "").startswith(JSON), where
    assert isinstance(reply.body, dict), where
    assert isinstance(reply.body.get("error"), str) and reply.body["error"], where
    assert isinstance(reply.body.get("reason"), str) and reply.body["reason"].strip(), where
    if error is not None:
        assert reply.body["error"] == error, where
    if secret is not None:
        hidden = _text(secret).strip()
        if len(hidden) >= 6:  # shorter strings are no ID number and occur in any text
            shown = json.dumps(reply.body, ensure_ascii=False)
            assert hidden not in shown, where
            assert hidden not in reply.raw.decode("utf-8", "replace"), where
    return reply


def _stdnum_accepts(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # stdnum raises a bare KeyError for some unknown region codes
        return False


def _with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


# --- registrations ------------------------------------------------------------------------------

# (resident ID as submitted, the ``check`` the refusal must name; None: refused by the schema)
BAD_RESIDENT_IDS: list[tuple[Any, str | None]] = [
    (VALID_ID[:17], "length"),
    (VALID_ID[:16], "length"),
    (VALID_ID + "1", "length"),
    (VALID_ID + "X", "length"),
    ("", "length"),
    ("   ", "length"),
    # every wrong check character
    *((VALID_ID[:17] + c, "check_digit") for c in "0123456789X" if c != VALID_ID[17]),
    (VALID_ID[:17] + "Y", "check_digit"),
    # letters inside the first 17
    (VALID_ID[:5] + "A" + VALID_ID[6:], "format"),
    (VALID_ID[:10] + "X" + VALID_ID[11:], "format"),
    ("ABCDEFGHIJKLMNOPQR", "format"),
    (VALID_ID[:6] + "1990O307" + VALID_ID[14:], "format"),  # letter O for zero
    # impossible dates of birth (check digit correct)
    (make_id(born="19900230"), "birth_date"),
    (make_id(born="19901301"), "birth_date"),
    (make_id(born="19900001"), "birth_date"),
    (make_id(born="19900132"), "birth_date"),
    (make_id(born="19900431"), "birth_date"),
    (make_id(born="19000229"), "birth_date"),  # 1900 is no leap year
    (make_id(born="00000000"), "birth_date"),
    # born after "today" (2026-11-16 on the test clock) or more than 130 years before it
    (make_id(born="20261117"), "birth_date"),
    (make_id(born="20991231"), "birth_date"),
    (make_id(born="18961115"), "birth_date"),
    (make_id(born="18500101"), None),  # birth_date or region: both refusals
    # unknown region codes (stdnum: InvalidComponent, or a bare KeyError for some)
    (make_id(region="000000"), "region"),
    (make_id(region="990000"), "region"),
    # (810000, Hong Kong, is a real code even for people born before 1997: residence permits
    # of Hong Kong residents carry it; any code ever issued is accepted)
    (make_id(region="123456"), "region"),
    (make_id(region="110199"), "region"),
    (make_id(region="659999"), "region"),
    # look-alikes and separators
    (VALID_ID.translate(FULL_WIDTH), "format"),
    (VALID_ID.translate(ARABIC_INDIC), "format"),
    (VALID_ID[:6] + " " + VALID_ID[6:], "length"),
    (VALID_ID[:6] + "-" + VALID_ID[6:14] + "-" + VALID_ID[14:], "length"),
    (VALID_ID[:6] + "\t" + VALID_ID[6:], "length"),
    (VALID_ID[:17] + "\x00", "check_digit"),
    (VALID_ID[:9] + "\u200b" + VALID_ID[9:], "format"),
    # wrong JSON types and oversize: refused by the schema
    (VALID_ID + "0" * 47, None),
    (int(VALID_ID), None),
    (None, None),
    ([VALID_ID], None),
    ({"number": VALID_ID}, None),
    (True, None),
    (1.5, None),
]

USCC_ALPHABET = stdnum_uscc._alphabet  # digits and capitals except I, O, S, V, Z
BAD_USCCS: list[tuple[Any, str | None]] = [
    # every wrong check character
    *((VALID_USCC[:17] + c, "check_digit") for c in USCC_ALPHABET if c != VALID_USCC[17]),
    # letters not in the code's alphabet
    *((VALID_USCC[:10] + c + VALID_USCC[11:], "format") for c in "IOZSV"),
    (VALID_USCC[:17] + "*", "format"),
    ("A" + VALID_USCC[1:], "format"),  # the first 8 are digits
    (VALID_USCC.translate(FULL_WIDTH), "format"),
    (VALID_USCC[:17], "length"),
    (VALID_USCC + "1", "length"),
    ("", "length"),
    ("   ", "length"),
    (VALID_USCC + "0" * 47, None),
    (914403001234567890, None),
    ([VALID_USCC], None),
]

BAD_NAMES: list[tuple[Any, str | None]] = [
    ("", "length"),
    ("   ", "length"),
    ("王" * 65, "length"),
    ("张\x00三", "format"),
    ("张\n三", "format"),
    ("张\u200b三", "format"),
    ("张\u2028三", "format"),
    ("Bob2", "format"),
    ("<script>", "format"),
    ("a  b", "format"),
    ("·", "format"),
    ("😀", "format"),
    ("王" * 201, None),
    (["王小明"], None),
    (None, None),
    (42, None),
]

BAD_KINDS: list[Any] = ["Owner", "admin", "", None, 1, ["owner"]]

# whole bodies: the kind and USCC disagree, keys unknown or missing
BAD_REGISTRATION_BODIES: list[tuple[dict[str, Any], str | None]] = [
    ({**OWNER_REG, "uscc": VALID_USCC}, "format"),  # an owner has no USCC
    ({**OWNER_REG, "kind": "business"}, "length"),  # a business needs one
    ({**OWNER_REG, "kind": "institution"}, "length"),
    ({**BUSINESS_REG, "uscc": None}, "length"),
    ({**OWNER_REG, "is_admin": True}, None),
    ({**OWNER_REG, "resident_id_plain": VALID_ID}, None),
    ({k: v for k, v in OWNER_REG.items() if k != "kind"}, None),
    ({k: v for k, v in OWNER_REG.items() if k != "name"}, None),
    ({k: v for k, v in OWNER_REG.items() if k != "resident_id"}, None),
    ({}, None),
    ({"kind": None, "name": None, "resident_id": None}, None),
]


def registration_cases() -> list[tuple[dict[str, Any], str | None]]:
    """Every bad registration body, with the ``check`` its refusal must name (None: any)."""
    cases: list[tuple[dict[str, Any], str | None]] = []
    cases += [({**OWNER_REG, "resident_id": v}, check) for v, check in BAD_RESIDENT_IDS]
    cases += [({**BUSINESS_REG, "uscc": v}, check) for v, check in BAD_USCCS]
    cases += [({**OWNER_REG, "name": v}, check) for v, check in BAD_NAMES]
    cases += [({**OWNER_REG, "kind": v}, None) for v in BAD_KINDS]
    cases += BAD_REGISTRATION_BODIES
    return cases


def post_bad_registration(owner: Client, body: dict[str, Any], check: str | None) -> Reply:
    reply = refused(
        owner.post("/api/registrations", body),
        422,
        secret=body.get("resident_id"),
        what=body,
    )
    if check is not None:
        assert reply.error == "invalid_registration", (body, reply.body)
        assert reply.body["check"] == check, (body, reply.body)
        assert reply.body["field"] in ("resident_id", "uscc", "name", "kind"), reply.body
    else:
        assert reply.error in ("invalid_input", "invalid_registration"), (body, reply.body)
    return reply


def test_bad_registrations_are_refused_with_a_reason_and_store_nothing(
    start_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = start_api()
    owner = api.owner()
    before = counts(api)
    cases = registration_cases()
    for body, check in cases:
        post_bad_registration(owner, body, check)
    assert counts(api) == before
    assert owner.get("/api/registrations").body == []

    # the numbers never reach the device log either
    for body, _ in cases:
        number = body.get("resident_id")
        if isinstance(number, str) and len(number.strip()) >= 6:
            assert number.strip() not in caplog.text

    # still healthy: one valid registration, and only that one is listed
    ok = owner.post("/api/registrations", OWNER_REG)
    assert ok.status == 201, ok.body
    listed = owner.get("/api/registrations").body
    assert [r["id"] for r in listed] == [ok.body["id"]]
    assert listed[0]["resident_id"] == VALID_ID[:3] + "*" * 11 + VALID_ID[-4:]
    assert counts(api)["registrations"] == before["registrations"] + 1


def test_accepted_variants_are_not_counted_as_bad_input(start_api: ApiFactory) -> None:
    """The cases above avoid what the validator normalises on purpose (so they are real
    refusals): a lower-case final x, surrounding whitespace and a lower-case USCC are accepted."""
    api = start_api()
    owner = api.owner()
    x_id = next(i for i in (make_id(seq=f"{s:03d}") for s in range(100)) if i.endswith("X"))
    for body in (
        {**OWNER_REG, "resident_id": x_id.lower()},
        {**OWNER_REG, "resident_id": f" {VALID_ID}\n"},
        {**BUSINESS_REG, "uscc": VALID_USCC.lower()},
    ):
        reply = owner.post("/api/registrations", body)
        assert reply.status == 201, (body, reply.body)
    assert len(owner.get("/api/registrations").body) == 3


# --- hypothesis: random numbers and random JSON values -----------------------------------------

random_18 = st.text(alphabet=string.digits + "X", min_size=18, max_size=18)
# 17 random digits with a correct check digit: passes MOD 11-2, so date or region must fail
checked_17 = st.text(alphabet=string.digits, min_size=17, max_size=17).map(_with_check)
invalid_ids = st.one_of(random_18, checked_17).filter(lambda s: not _stdnum_accepts(s))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def test_random_invalid_resident_ids_and_json_values_are_refused(
    start_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = start_api()
    owner = api.owner()
    before = counts(api)
    sent: list[str] = []

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(number=invalid_ids, kind=st.sampled_from(["owner", "institution", "business"]))
    def stdnum_refuses(number: str, kind: str) -> None:
        sent.append(number)
        body = {**OWNER_REG, "kind": kind, "resident_id": number}
        if kind != "owner":
            body["uscc"] = VALID_USCC
        reply = refused(owner.post("/api/registrations", body), 422, secret=number, what=body)
        assert reply.body["field"] == "resident_id", reply.body

    @settings(max_examples=60, deadline=None, database=None)
    @given(
        kind=st.sampled_from(["owner", "business"]) | json_values,
        name=st.just("王小明") | json_values,
        number=invalid_ids | json_values,
        extra=st.dictionaries(st.sampled_from(["uscc", "role", "x"]), json_values, max_size=2),
    )
    def anything_else_refused(kind: Any, name: Any, number: Any, extra: dict[str, Any]) -> None:
        body = {"kind": kind, "name": name, "resident_id": number, **extra}
        refused(owner.post("/api/registrations", body), 422, secret=number, what=body)

    stdnum_refuses()
    anything_else_refused()
    assert counts(api) == before
    assert len(set(sent)) >= 50  # the examples really ran
    assert all(n not in caplog.text for n in sent)
    assert owner.post("/api/registrations", OWNER_REG).status == 201


# --- payloads on every endpoint that takes a body ----------------------------------------------

# (label, raw body, Content-Type, expected status)
BAD_PAYLOADS: list[tuple[str, bytes, str, int]] = [
    ("unclosed object", b"{", JSON, 400),
    ("unclosed array", b"[1,2", JSON, 400),
    ("trailing comma", b'{"kind": "owner",}', JSON, 400),
    ("single quotes", b"{'kind': 'owner'}", JSON, 400),
    ("unquoted key", b"{kind: 1}", JSON, 400),
    ("trailing garbage", b"{} x", JSON, 400),
    ("two documents", b"{}{}", JSON, 400),
    ("UTF-8 byte order mark", b"\xef\xbb\xbf{}", JSON, 400),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}', JSON, 400),
    ("UTF-16", '{"kind": "owner"}'.encode("utf-16"), JSON, 400),
    ("empty body", b"", JSON, 400),
    ("only whitespace", b" \n\t", JSON, 400),
    ("nested too deeply", b"[" * 50_000, JSON, 400),
    ("nested too deeply, closed", b"[" * 300 + b"]" * 300, JSON, 422),
    ("lone surrogate escape", b'{"name": "\\ud800"}', JSON, 422),
    ("array", b"[]", JSON, 422),
    ("string", b'"x"', JSON, 422),
    ("number", b"42", JSON, 422),
    ("null", b"null", JSON, 422),
    ("boolean", b"true", JSON, 422),
    ("empty object", b"{}", JSON, 422),
    ("object of unknown keys", b'{"a": 1, "b": [2]}', JSON, 422),
    ("text/plain", b"{}", "text/plain", 415),
    ("form-encoded", b"kind=owner&name=x", "application/x-www-form-urlencoded", 415),
    ("multipart", b"--b\r\n\r\n{}\r\n--b--", "multipart/form-data; boundary=b", 415),
    ("text/json", b"{}", "text/json", 415),
    ("no Content-Type", b"{}", "", 415),
    ("over 64 KiB", b'{"name": "' + b"a" * 70_000 + b'"}', JSON, 413),
    ("over 64 KiB and nested", b"[" * 100_000, JSON, 413),
]

# (path, public: no session needed)
BODY_ENDPOINTS: list[tuple[str, bool]] = [
    ("/api/registrations", False),
    ("/api/viewers", False),
    ("/api/cameras/cam1/notices", False),
    ("/api/cameras/cam1/consents", False),
    ("/api/cameras/cam1/streaming/opt-in", False),
    ("/api/cameras/cam1/public-links", False),
    ("/api/login", True),
    ("/api/setup", True),
    ("/api/public/login", True),
    ("/api/invites/accept", True),
]

# (method, path, body): a camera id the device does not have, even with a correct body
UNKNOWN_CAMERA: list[tuple[str, str, Any]] = [
    ("GET", "/api/cameras/nope/streaming", None),
    ("GET", "/api/cameras/CAM1/streaming", None),
    ("GET", "/api/cameras/..%2Fcam1/streaming", None),
    ("GET", "/api/cameras/cam1%00/streaming", None),
    ("POST", "/api/cameras/nope/streaming/opt-in", {"confirmation": "STREAM nope"}),
    ("POST", "/api/cameras/nope/streaming/opt-out", None),
    ("POST", "/api/cameras/nope/streaming/start", None),
    ("POST", "/api/cameras/nope/streaming/stop", None),
    (
        "POST",
        "/api/cameras/nope/consents",
        {"reference": "forms", "guardians": 3, "valid_until": "2027-07-15"},
    ),
    (
        "POST",
        "/api/cameras/nope/notices",
        {"operator": "Shop", "purpose": "kitchen", "contact": "021", "hours": DAILY_9_TO_21},
    ),
    ("POST", "/api/cameras/nope/public-links", {"label": "window"}),
]


def test_malformed_payloads_are_refused_on_every_endpoint(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    anonymous = api.client()
    before = counts(api)
    for path, public in BODY_ENDPOINTS:
        client = anonymous if public else owner
        for label, raw, content_type, status in BAD_PAYLOADS:
            reply = client.post(path, raw=raw, content_type=content_type)
            refused(reply, status, what=(path, label))
            if status == 400:
                assert reply.error == "invalid_json", (path, label, reply.body)
    for method, path, body in UNKNOWN_CAMERA:
        refused(owner.call(method, path, body), 404, error="unknown_camera", what=path)
    # malformed logins are refused before the password check, so even no login_failed record
    assert counts(api) == before
    assert owner.post("/api/registrations", OWNER_REG).status == 201


def test_a_huge_integer_literal_is_a_client_error(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    before = counts(api)
    huge = b"1" * 5000  # a 5 kB body, far below the 64 KiB limit
    for client, path, raw in (
        (api.client(), "/api/login", b'{"username": ' + huge + b', "password": "x"}'),
        (api.client(), "/api/setup", b"[" + huge + b"]"),
        (owner, "/api/registrations", b'{"kind": "owner", "resident_id": ' + huge + b"}"),
        (owner, "/api/cameras/cam1/consents", b'{"guardians": ' + huge + b"}"),
    ):
        refused(client.post(path, raw=raw), what=path)
    assert counts(api) == before


# --- dates, schedules, consents, viewers, opt-in (kindergarten camera) --------------------------

CONSENT = {
    "reference": "signed forms, office cabinet 3",
    "guardians": 24,
    "valid_until": "2027-07-15",
}
BAD_VALID_UNTIL: list[Any] = [
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "2026-11-00",
    "2026-11-31",
    "2027-02-29",
    "yesterday",
    "",
    "2027-01-01T00:00:00",
    "2027/01/01",
    "01-01-2027",
    "2027-1-1",
    " 2027-01-01",
    "20270101",
    "0000-01-01",
    "10000-01-01",
    20270101,
    None,
    ["2027-01-01"],
    # already past on the test clock (Monday 2026-11-16 10:00 in Shanghai)
    "2026-11-15",
    "2025-12-31",
    "1970-01-01",
]
BAD_CONSENTS: list[dict[str, Any]] = [
    *({**CONSENT, "valid_until": v} for v in BAD_VALID_UNTIL),
    *({**CONSENT, "guardians": v} for v in (0, -1, 10_001, "24", 1.5, True, None)),
    *({**CONSENT, "reference": v} for v in ("", "   ", "x" * 201, None, 5)),
    {**CONSENT, "camera": "cam1"},
    *({k: v for k, v in CONSENT.items() if k != key} for key in CONSENT),
]

PARENT = {
    "username": "parent-li",
    "role": "parent",
    "cameras": ["cam1"],
    "schedule": WEEKDAYS_8_TO_17,
    "expires_on": "2027-01-31",
}


def _window(**changes: Any) -> dict[str, Any]:
    return {"windows": [{"days": ["mon"], "start": "08:00", "end": "17:00", **changes}]}


BAD_SCHEDULES: list[Any] = [
    {"windows": []},
    {},
    {"windows": None},
    _window(days=[]),
    _window(days=["monday"]),
    _window(days=["Mon"]),
    _window(days=["mon", "mon"]),
    _window(days="mon"),
    _window(days=["mon"] * 8),
    _window(start="25:00"),
    _window(start="8:00"),
    _window(start="12:60"),
    _window(start="08:00\n"),
    _window(start="0800"),
    _window(start=800),
    _window(start="09:00", end="09:00"),
    _window(start="00:00", end="00:00"),
    _window(start="24:00", end="08:00"),
    _window(end="24:01"),
    _window(timezone="UTC"),
    {**_window(), "timezone": "UTC"},
    {"windows": [_window()["windows"][0] for _ in range(15)]},
    [_window()["windows"][0]],
    "weekdays 8-17",
]
BAD_VIEWERS: list[tuple[dict[str, Any], int]] = [
    *(({**PARENT, "schedule": s}, 422) for s in BAD_SCHEDULES),
    *(
        ({**PARENT, "expires_on": v}, 422)
        for v in ("2026-11-15", "2020-01-01", "2026-02-30", "tomorrow", "", 20270131)
    ),
    ({**PARENT, "schedule": None}, 422),  # parents need viewing hours
    ({k: v for k, v in PARENT.items() if k != "expires_on"}, 422),  # and an end date
    ({**PARENT, "role": "owner"}, 422),
    ({**PARENT, "role": "family"}, 422),  # a family account is for home cameras
    ({**PARENT, "username": ""}, 422),
    ({**PARENT, "username": "bad name"}, 422),
    ({**PARENT, "username": "bob\n"}, 422),
    ({**PARENT, "username": "x" * 65}, 422),
    ({**PARENT, "cameras": ["nope"]}, 422),
    ({**PARENT, "cameras": ["CAM1"]}, 422),
    ({**PARENT, "cameras": "cam1"}, 422),
    ({**PARENT, "cameras": []}, 422),
    ({**PARENT, "cameras": [], "rooms": ["nowhere"]}, 422),
    ({**PARENT, "watermark": "yes"}, 422),
    ({**PARENT, "admin": True}, 422),
    ({**PARENT, "username": "owner"}, 409),  # taken by the owner account
]
BAD_CONFIRMATIONS: list[Any] = [
    "stream cam1",
    "STREAM  cam1",
    "STREAM cam2",
    "STREAM CAM1",
    "STREAM cam1 ",
    " STREAM cam1",
    "STREAM\tcam1",
    "STREAM",
    "",
    "x" * 65,
    123,
    None,
    ["STREAM cam1"],
]


def test_bad_dates_schedules_and_confirmations_are_refused(start_api: ApiFactory) -> None:
    api = start_api(KINDERGARTEN)
    owner = api.owner()
    before = counts(api)

    for body in BAD_CONSENTS:
        refused(owner.post("/api/cameras/cam1/consents", body), 422, what=body)
    for body, status in BAD_VIEWERS:
        refused(owner.post("/api/viewers", body), status, what=body)
    for confirmation in BAD_CONFIRMATIONS:
        refused(
            owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": confirmation}),
            422,
            what=confirmation,
        )
    refused(
        owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": "STREAM cam1", "x": 1}),
        422,
    )
    refused(owner.post("/api/cameras/cam1/streaming/opt-in", {}), 422)
    for body in ({"confirmation": "yes"}, {"confirmation": "Posted"}, {}):
        refused(owner.post("/api/notices/N-0000-0000/attest", body), what=body)

    assert counts(api) == before
    status = owner.get("/api/cameras/cam1/streaming").body
    assert status["opted_in"] is False
    assert owner.get("/api/viewers").body == []

    # the boundaries just inside are accepted: today is still covered, 24:00 may end a window
    today = owner.post("/api/cameras/cam1/consents", {**CONSENT, "valid_until": "2026-11-16"})
    assert today.status == 201, today.body
    whole_day = owner.post(
        "/api/viewers", {**PARENT, "schedule": _window(start="00:00", end="24:00")}
    )
    assert whole_day.status == 201, whole_day.body


# --- posted notices (merchant camera) -----------------------------------------------------------

NOTICE = {
    "operator": "张记小笼包 Zhang's Dumplings",
    "purpose": "直播店内制作过程 / Livestream of our kitchen",
    "contact": "+86 21 5555 0100",
    "hours": DAILY_9_TO_21,
}
_FOURTEEN = [{"days": ["mon"], "start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(14)]
BAD_NOTICES: list[dict[str, Any]] = [
    *(
        {**NOTICE, "operator": v}
        for v in (
            "",
            "   ",
            "\u3000",
            "x" * 81,
            "Shop\x00",
            "Shop\nName",
            "Shop\rName",
            "Shop\x7fName",
            "Shop\u200bName",
            "Shop\u202eName",
            None,
            42,
            ["Shop"],
        )
    ),
    *({**NOTICE, "purpose": v} for v in ("", "p" * 161, "a\tb")),
    *({**NOTICE, "contact": v} for v in ("", "c" * 121, "021\n5555")),
    *({k: v for k, v in NOTICE.items() if k != key} for key in NOTICE),
    *(
        {**NOTICE, "hours": h}
        for h in (
            None,
            {},
            {"windows": []},
            _window(start="9:00"),
            _window(start="10:00", end="10:00"),
            _window(days=["sunday"]),
            {"windows": _FOURTEEN},  # valid, but too many to print on the sign
            "daily 9-21",
        )
    ),
    {**NOTICE, "camera_name": "Front door"},
]


def test_bad_notices_are_refused_and_no_sign_is_written(start_api: ApiFactory) -> None:
    api = start_api(MERCHANT)
    owner = api.owner()
    before = counts(api)
    for body in BAD_NOTICES:
        refused(owner.post("/api/cameras/cam1/notices", body), 422, what=body)
    for body in ({"label": ""}, {"label": "x" * 65}, {"label": 1}, {}, {"label": "a", "b": 1}):
        refused(owner.post("/api/cameras/cam1/public-links", body), 422, what=body)
    assert counts(api) == before
    assert not any(api.paths.notices.iterdir())

    made = owner.post("/api/cameras/cam1/notices", NOTICE)
    assert made.status == 201, made.body
    assert len(list(api.paths.notices.iterdir())) == 1


def test_notice_fields_refuse_unicode_line_separators(start_api: ApiFactory) -> None:
    api = start_api(MERCHANT)
    owner = api.owner()
    before = counts(api)
    for operator in ("Shop\u2028Name", "Shop\u2029Name"):
        refused(owner.post("/api/cameras/cam1/notices", {**NOTICE, "operator": operator}), 422)
    assert counts(api) == before


# --- how many -----------------------------------------------------------------------------------


def test_there_are_well_over_sixty_distinct_invalid_inputs() -> None:
    def key(value: object) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    distinct = {
        *(key(b) for b, _ in registration_cases()),
        *(key(p[1].decode("latin-1") + p[2]) for p in BAD_PAYLOADS),
        *(key(b) for b in BAD_CONSENTS),
        *(key(b) for b, _ in BAD_VIEWERS),
        *(key(c) for c in BAD_CONFIRMATIONS),
        *(key(b) for b in BAD_NOTICES),
        *(key(c) for c in UNKNOWN_CAMERA),
    }
    assert len(distinct) >= 60
    assert len(registration_cases()) == len({key(b) for b, _ in registration_cases()})
