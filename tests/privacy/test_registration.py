"""Real-name registrations: stdnum validation, encrypted ID numbers at rest, masking, revocation."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from firmware.db import open_database
from privacy.audit import AuditLog
from privacy.registration import (
    RegistrationError,
    RegistrationStore,
    UnknownRegistration,
    mask_resident_id,
    validate_name,
    validate_resident_id,
    validate_uscc,
    with_article,
)
from privacy.secrets import DecryptionError, DeviceSecretStore, FieldCipher, SecretStoreError
from testkit.clock import FakeClock

OWNER = "owner"  # who acts, for the audit log

# 2025-06-01 12:00 in China
NOW = datetime(2025, 6, 1, 4, 0, tzinfo=UTC).timestamp()
TODAY = date(2025, 6, 1)
DIGITS = "0123456789"
FULL_WIDTH = str.maketrans(DIGITS + "X", "０１２３４５６７８９Ｘ")
# Two-digit prefixes that are no PRC province, so no region code starting with them exists.
PROVINCES = {
    *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"),
    *("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64"),
    *("65", "71", "81", "82"),
}
NO_PROVINCE = [f"{p:02d}" for p in range(100) if f"{p:02d}" not in PROVINCES]


def make_id(region: str, born: str, seq: str = "123") -> str:
    """A resident ID number with a correct MOD 11-2 check digit (date and region unchecked)."""
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")


def make_uscc(body: str) -> str:
    return body + uscc.calc_check_digit(body)


VALID_IDS = [
    make_id("110101", "19900307", "123"),  # Beijing Dongcheng
    make_id("440305", "19850412", "456"),  # Shenzhen Nanshan (code in use since 1983)
    make_id("310101", "20010101", "007"),  # Shanghai Huangpu
    make_id("110101", "19000101", "123"),
]
# Numbers whose region code was created after the birth year: the person keeps the code of the
# place that issued the number, so they are real, though stdnum's birth-year check refuses them
# (stdnum issue #442).
LATER_REGION_IDS = [
    "310115199007074568",  # Shanghai Pudong, born 1990 (code since 1993)
    make_id("440305", "19700101"),  # Shenzhen Nanshan, code since 1983
]
VALID_USCC = ["91110000600037341L", make_uscc("91440300MA5FXXXX1"), make_uscc("12110000400001234")]


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "keys" / "device.key"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_database(tmp_path / "data" / "camera.db")
    yield conn
    conn.close()


@pytest.fixture
def clock() -> FakeClock:
    """The shared fake clock, started at ``NOW``."""
    return FakeClock(NOW)


@pytest.fixture
def store(db: sqlite3.Connection, key_path: Path, clock: FakeClock) -> RegistrationStore:
    return RegistrationStore(
        db, FieldCipher.from_store(DeviceSecretStore(key_path)), clock, AuditLog(db, clock)
    )


def count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM registrations").fetchone()[0]


# --- validation: accepted -----------------------------------------------------------------------


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_resident_ids_are_accepted(number: str) -> None:
    assert ric.is_valid(number)
    assert validate_resident_id(number, today=TODAY) == number


@pytest.mark.parametrize("number", LATER_REGION_IDS)
def test_region_codes_created_after_the_birth_year_are_accepted(number: str) -> None:
    assert not ric.is_valid(number)  # what stdnum alone would say
    assert validate_resident_id(number, today=TODAY) == number


def test_resident_id_is_compacted() -> None:
    number = make_id("110101", "19900307", "001")
    assert validate_resident_id(f" {number.lower()}\n", today=TODAY) == number
    # stdnum's compact form keeps inner spaces, which then fail the length check
    with pytest.raises(RegistrationError):
        validate_resident_id(f"{number[:6]} {number[6:]}", today=TODAY)


def test_check_digit_x_is_accepted() -> None:
    x_ids = [n for n in (make_id("110101", "19900307", f"{s:03d}") for s in range(30)) if "X" in n]
    assert x_ids
    assert validate_resident_id(x_ids[0].lower(), today=TODAY) == x_ids[0]


@pytest.mark.parametrize("code", VALID_USCC)
def test_valid_uscc_is_accepted(code: str) -> None:
    assert validate_uscc(code) == code
    assert validate_uscc(f"{code[:8]} {code[8:].lower()}") == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("  李四 ", "李四"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # katakana middle dot normalised
        ("Jean-Luc O'Brien", "Jean-Luc O'Brien"),
        ("José Müller", "José Müller"),
        ("Jose\u0301", "José"),  # NFC
        ("王" * 64, "王" * 64),
    ],
)
def test_valid_names(raw: str, expected: str) -> None:
    assert validate_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "王" * 65,
        "张\x00三",
        "张\n三",
        "张\u200b三",
        "Bob2",
        "<script>",
        "a  b",
        "·",
        "😀",
    ],
)
def test_invalid_names(raw: str) -> None:
    with pytest.raises(RegistrationError) as err:
        validate_name(raw)
    assert err.value.field == "name"
    assert str(err.value)


def test_mask_shows_first_three_and_last_four() -> None:
    number = VALID_IDS[0]
    masked = mask_resident_id(number)
    assert masked == number[:3] + "*" * 11 + number[-4:]
    assert len(masked) == 18
    assert number[6:14] not in masked  # birth date hidden


# --- validation: refused ------------------------------------------------------------------------

Case = tuple[str, set[str] | None]  # (input, acceptable RegistrationError.check values; None: any)

valid_bodies = st.builds(
    lambda d, s: make_id("110101", d.strftime("%Y%m%d"), f"{s:03d}"),
    st.dates(date(1900, 1, 1), date(2025, 5, 31)),
    st.integers(0, 999),
)


@st.composite
def one_digit_changed(draw: st.DrawFn) -> Case:
    number = draw(valid_bodies)
    pos = draw(st.integers(0, 17))
    pool = DIGITS + ("X" if pos == 17 else "")
    new = draw(st.sampled_from([c for c in pool if c != number[pos]]))
    return number[:pos] + new + number[pos + 1 :], {"check_digit"}


@st.composite
def impossible_dates(draw: st.DrawFn) -> Case:
    year = draw(st.integers(1950, 2020))
    month, day = draw(
        st.one_of(
            st.tuples(st.integers(13, 99), st.integers(1, 28)),
            st.tuples(st.just(0), st.integers(1, 28)),
            st.tuples(st.integers(1, 12), st.just(0)),
            st.tuples(st.integers(1, 12), st.integers(32, 99)),
            st.tuples(st.just(2), st.integers(30, 31)),
            st.tuples(st.sampled_from([4, 6, 9, 11]), st.just(31)),
        )
    )
    return make_id("110101", f"{year:04d}{month:02d}{day:02d}"), {"birth_date"}


@st.composite
def out_of_range_dates(draw: st.DrawFn) -> Case:
    born = draw(
        st.one_of(
            st.dates(date(2025, 6, 2), date(2099, 12, 31)),  # future
            st.dates(date(1800, 1, 1), date(1895, 5, 31)),  # more than 130 years ago
        )
    )
    return make_id("110101", born.strftime("%Y%m%d")), {"birth_date"}


@st.composite
def unknown_regions(draw: st.DrawFn) -> Case:
    prefix = draw(st.sampled_from(NO_PROVINCE))
    region = prefix + draw(st.text(DIGITS, min_size=4, max_size=4))
    return make_id(region, "19900307"), {"region"}


@st.composite
def letters_misplaced(draw: st.DrawFn) -> Case:
    number = draw(valid_bodies)
    pos = draw(st.integers(0, 16))
    letter = draw(st.sampled_from("ABCXYZabcxyz"))
    return number[:pos] + letter + number[pos + 1 :], {"format"}


@st.composite
def full_width(draw: st.DrawFn) -> Case:
    number = draw(valid_bodies)
    if draw(st.booleans()):
        return number.translate(FULL_WIDTH), {"format"}
    pos = draw(st.integers(0, 17))
    return number[:pos] + number[pos].translate(FULL_WIDTH) + number[pos + 1 :], {"format"}


@st.composite
def wrong_lengths(draw: st.DrawFn) -> Case:
    number = draw(valid_bodies)
    length = draw(st.integers(1, 30).filter(lambda n: n != 18))
    return (number * 2)[:length], {"length"}


random_text: st.SearchStrategy[Case] = (
    st.text(max_size=40).filter(lambda s: not ric.is_valid(s)).map(lambda s: (s, None))
)
blank: st.SearchStrategy[Case] = st.text(" \t\r\n\u3000", max_size=6).map(lambda s: (s, {"length"}))

invalid_ids = st.one_of(
    random_text,
    blank,
    wrong_lengths(),
    one_digit_changed(),
    impossible_dates(),
    out_of_range_dates(),
    unknown_regions(),
    letters_misplaced(),
    full_width(),
)

EXPLICIT_INVALID_IDS: list[Case] = [
    ("", {"length"}),
    (" ", {"length"}),
    ("11010119900307123", {"length"}),
    (VALID_IDS[0] + "1", {"length"}),
    (make_id("110101", "19990230"), {"birth_date"}),
    (make_id("110101", "20230229"), {"birth_date"}),
    (make_id("110101", "19991301"), {"birth_date"}),
    (make_id("110101", "20250602"), {"birth_date"}),  # tomorrow
    (make_id("110101", "18950531"), {"birth_date"}),  # 130 years and a day
    (make_id("999999", "19900307"), {"region"}),
    (make_id("110199", "19900307"), {"region"}),  # stdnum raises KeyError for this one
    ("X" + VALID_IDS[0][1:], {"format"}),
    (VALID_IDS[0].translate(FULL_WIDTH), {"format"}),
    (VALID_IDS[0][:17] + "Y", {"check_digit"}),
]


def assert_refused(value: str, checks: set[str] | None) -> RegistrationError:
    with pytest.raises(RegistrationError) as err:
        validate_resident_id(value, today=TODAY)
    assert err.value.field == "resident_id"
    if checks is not None:
        assert err.value.check in checks, (err.value.check, str(err.value))
    message = str(err.value)
    assert message.startswith("resident ID number")
    compact = "".join(value.split())
    if len(compact) >= 6:
        assert compact not in message
    return err.value


@pytest.mark.parametrize(("value", "checks"), EXPLICIT_INVALID_IDS)
def test_explicit_invalid_ids_are_refused_and_store_nothing(
    store: RegistrationStore, db: sqlite3.Connection, value: str, checks: set[str]
) -> None:
    assert_refused(value, checks)
    with pytest.raises(RegistrationError):
        store.add("owner", "张三", value, actor=OWNER)
    assert count(db) == 0


def test_generated_invalid_ids_are_refused_and_store_nothing(
    store: RegistrationStore, db: sqlite3.Connection
) -> None:
    tried: list[str] = []

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )
    @given(invalid_ids)
    def check(case: Case) -> None:
        value, checks = case
        tried.append(value)
        assert_refused(value, checks)
        with pytest.raises(RegistrationError):
            store.add("business", "张三", value, uscc=VALID_USCC[0], actor=OWNER)
        assert count(db) == 0

    check()
    assert len(set(tried)) >= 50


def test_generated_invalid_uscc_are_refused_and_store_nothing(
    store: RegistrationStore, db: sqlite3.Connection
) -> None:
    base = VALID_USCC[0]

    @st.composite
    def one_char_changed(draw: st.DrawFn) -> str:
        pos = draw(st.integers(0, 17))
        pool = DIGITS if pos < 8 else "0123456789ABCDEFGHJKLMNPQRTUWXY"
        return (
            base[:pos]
            + draw(st.sampled_from([c for c in pool if c != base[pos]]))
            + base[pos + 1 :]
        )

    invalid = st.one_of(
        st.text(max_size=30).filter(lambda s: not uscc.is_valid(s)),
        one_char_changed(),
        st.integers(0, 30).filter(lambda n: n != 18).map(lambda n: (base * 2)[:n]),
        st.sampled_from("IOZSV").map(lambda c: base[:10] + c + base[11:]),
        st.just(base.translate(FULL_WIDTH)),
    )

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(invalid)
    def check(value: str) -> None:
        with pytest.raises(RegistrationError) as err:
            validate_uscc(value)
        assert err.value.field == "uscc"
        assert err.value.check in {"length", "format", "check_digit"}
        with pytest.raises(RegistrationError):
            store.add("institution", "张三", VALID_IDS[0], uscc=value, actor=OWNER)
        assert count(db) == 0

    check()


@pytest.mark.parametrize(
    ("kind", "name", "code", "field"),
    [
        ("owner", "张三", VALID_USCC[0], "uscc"),  # owners have no USCC
        ("institution", "张三", None, "uscc"),
        ("business", "张三", None, "uscc"),
        ("landlord", "张三", None, "kind"),
        ("owner", "", None, "name"),
        ("owner", "张\x07三", None, "name"),
    ],
)
def test_other_refusals_store_nothing(
    store: RegistrationStore,
    db: sqlite3.Connection,
    kind: str,
    name: str,
    code: str | None,
    field: str,
) -> None:
    with pytest.raises(RegistrationError) as err:
        store.add(kind, name, VALID_IDS[0], uscc=code, actor=OWNER)  # type: ignore[arg-type]
    assert err.value.field == field
    assert count(db) == 0


# --- store --------------------------------------------------------------------------------------


def test_add_get_and_kinds(
    store: RegistrationStore, db: sqlite3.Connection, clock: FakeClock
) -> None:
    owner = store.add("owner", " 张三 ", VALID_IDS[0], actor=OWNER)
    clock.advance(1)
    school = store.add("institution", "李四", VALID_IDS[1], uscc=VALID_USCC[1].lower(), actor=OWNER)
    clock.advance(1)
    shop = store.add("business", "Jean-Luc O'Brien", VALID_IDS[2], uscc=VALID_USCC[0], actor=OWNER)
    assert count(db) == 3
    assert owner.name == "张三"
    assert owner.masked_id == mask_resident_id(VALID_IDS[0])
    assert owner.uscc is None and owner.created_at == NOW and owner.active
    assert school.uscc == VALID_USCC[1]
    assert store.get(owner.id) == owner
    assert store.get(shop.id) == shop
    assert store.get("nope") is None
    assert store.active() == [owner, school, shop]
    assert store.active("institution") == [school]


def test_plaintext_id_is_not_in_the_database_files(
    store: RegistrationStore, db: sqlite3.Connection, tmp_path: Path
) -> None:
    regs = [store.add("owner", "张三", n, actor=OWNER) for n in VALID_IDS]
    store.revoke(regs[0].id, "moved out", actor=OWNER)

    def raw_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.is_file())

    for snapshot in (raw_bytes(),):  # WAL not yet checkpointed: data is in camera.db-wal
        assert "张三".encode() in snapshot  # the scan does see row data
        for number in VALID_IDS:
            assert number.encode() not in snapshot
            assert number.encode("utf-16-le") not in snapshot
            assert number[6:14].encode() not in snapshot  # not even the birth date
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    snapshot = (tmp_path / "data" / "camera.db").read_bytes()
    assert regs[1].masked_id.encode() in snapshot
    for number in VALID_IDS:
        assert number.encode() not in snapshot


def test_reveal_round_trips(store: RegistrationStore) -> None:
    regs = [store.add("owner", "张三", n, actor=OWNER) for n in VALID_IDS]
    for reg, number in zip(regs, VALID_IDS, strict=True):
        assert store.reveal_resident_id(reg.id) == number
    with pytest.raises(UnknownRegistration):
        store.reveal_resident_id("nope")


def test_reveal_survives_reopening_with_the_same_key_file(
    tmp_path: Path, key_path: Path, clock: FakeClock
) -> None:
    conn = open_database(tmp_path / "data" / "camera.db")
    audit = AuditLog(conn, clock)
    reg = RegistrationStore(conn, FieldCipher(DeviceSecretStore(key_path).key()), clock, audit).add(
        "owner", "张三", VALID_IDS[0], actor=OWNER
    )
    conn.close()
    conn = open_database(tmp_path / "data" / "camera.db")
    again = RegistrationStore(
        conn, FieldCipher(DeviceSecretStore(key_path).key()), clock, AuditLog(conn, clock)
    )
    assert again.reveal_resident_id(reg.id) == VALID_IDS[0]
    conn.close()


def test_tampered_ciphertext_fails_to_decrypt(
    store: RegistrationStore, db: sqlite3.Connection
) -> None:
    reg = store.add("owner", "张三", VALID_IDS[0], actor=OWNER)
    blob = bytearray(
        db.execute("SELECT resident_id_enc FROM registrations WHERE id = ?", (reg.id,)).fetchone()[
            0
        ]
    )
    for pos in (1, 20, len(blob) - 1):  # nonce, ciphertext, tag
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        db.execute(
            "UPDATE registrations SET resident_id_enc = ? WHERE id = ?", (bytes(bad), reg.id)
        )
        with pytest.raises(DecryptionError) as err:
            store.reveal_resident_id(reg.id)
        assert VALID_IDS[0] not in str(err.value)
    db.execute("UPDATE registrations SET resident_id_enc = ? WHERE id = ?", (b"\x01abc", reg.id))
    with pytest.raises(DecryptionError):
        store.reveal_resident_id(reg.id)


def test_ciphertexts_cannot_be_swapped_between_records(
    store: RegistrationStore, db: sqlite3.Connection
) -> None:
    a = store.add("owner", "张三", VALID_IDS[0], actor=OWNER)
    b = store.add("business", "李四", VALID_IDS[1], uscc=VALID_USCC[0], actor=OWNER)
    blob_a = db.execute(
        "SELECT resident_id_enc FROM registrations WHERE id = ?", (a.id,)
    ).fetchone()[0]
    db.execute("UPDATE registrations SET resident_id_enc = ? WHERE id = ?", (blob_a, b.id))
    with pytest.raises(DecryptionError):
        store.reveal_resident_id(b.id)
    assert store.reveal_resident_id(a.id) == VALID_IDS[0]


def test_wrong_key_fails_to_decrypt(
    store: RegistrationStore, db: sqlite3.Connection, clock: FakeClock
) -> None:
    reg = store.add("owner", "张三", VALID_IDS[0], actor=OWNER)
    other = RegistrationStore(db, FieldCipher(os.urandom(32)), clock, AuditLog(db, clock))
    with pytest.raises(DecryptionError):
        other.reveal_resident_id(reg.id)


def test_field_cipher_uses_fresh_nonces() -> None:
    cipher = FieldCipher(os.urandom(32))
    one, two = cipher.encrypt("x", "aad"), cipher.encrypt("x", "aad")
    assert one != two
    assert cipher.decrypt(one, "aad") == cipher.decrypt(two, b"aad") == "x"
    assert "key" in repr(cipher) and "hidden" in repr(cipher)


def test_revocation(store: RegistrationStore, clock: FakeClock) -> None:
    first = store.add("owner", "张三", VALID_IDS[0], actor=OWNER)
    clock.advance(10)
    second = store.add("owner", "李四", VALID_IDS[1], actor=OWNER)
    clock.advance(10)
    revoked = store.revoke(first.id, "  sold the house ", actor=OWNER)
    assert revoked.revoked_at == NOW + 20 and revoked.revoke_reason == "sold the house"
    assert not revoked.active
    assert store.get(first.id) == revoked
    assert store.active() == [second]
    assert store.active("owner") == [second]
    assert store.active("business") == []
    assert store.reveal_resident_id(first.id) == VALID_IDS[0]  # kept for the record
    with pytest.raises(RegistrationError):
        store.revoke(first.id, "again", actor=OWNER)
    with pytest.raises(UnknownRegistration):
        store.revoke("nope", "x", actor=OWNER)
    with pytest.raises(RegistrationError):
        store.revoke(second.id, "  ", actor=OWNER)
    assert store.active() == [second]


# --- key file -----------------------------------------------------------------------------------


def test_key_file_is_created_0600_and_reused(key_path: Path) -> None:
    key = DeviceSecretStore(key_path).key()
    assert len(key) == 32
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert DeviceSecretStore(key_path).key() == key
    assert [p.name for p in key_path.parent.iterdir()] == ["device.key"]  # no temp file left


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(key_path: Path, mode: int) -> None:
    DeviceSecretStore(key_path).key()
    key_path.chmod(mode)
    with pytest.raises(SecretStoreError, match="group or others"):
        DeviceSecretStore(key_path).key()


def test_malformed_or_linked_key_file_is_refused(key_path: Path, tmp_path: Path) -> None:
    key_path.parent.mkdir(parents=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(SecretStoreError, match="32-byte"):
        DeviceSecretStore(key_path).key()
    link = tmp_path / "link.key"
    link.symlink_to(key_path)
    with pytest.raises(OSError):
        DeviceSecretStore(link).key()


# --- nothing leaks ------------------------------------------------------------------------------


def leaks(text: str) -> list[str]:
    return [n for n in VALID_IDS if n in text or n[6:14] + n[14:17] in text]


def test_logs_reprs_and_errors_never_contain_the_id(
    store: RegistrationStore, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    regs = [store.add("owner", "张三", n, actor=OWNER) for n in VALID_IDS[:2]]
    shop = store.add("business", "李四", VALID_IDS[2], uscc=VALID_USCC[0], actor=OWNER)
    for reg in [*regs, shop]:
        store.reveal_resident_id(reg.id)
    store.revoke(regs[0].id, "moved out", actor=OWNER)
    wrong = VALID_IDS[3][:-1] + ("0" if VALID_IDS[3][-1] != "0" else "1")
    errors: list[str] = []
    for bad in (wrong, VALID_IDS[3] + "9", VALID_IDS[3].translate(FULL_WIDTH)):
        with pytest.raises(RegistrationError) as err:
            store.add("owner", "张三", bad, actor=OWNER)
        errors.append(str(err.value) + repr(err.value))
    db.execute("UPDATE registrations SET resident_id_enc = x'01' WHERE id = ?", (shop.id,))
    with pytest.raises(DecryptionError) as dec:
        store.reveal_resident_id(shop.id)
    errors.append(str(dec.value))
    assert caplog.records  # the store does log its actions
    text = caplog.text + "".join(repr(r) for r in store.active()) + repr(store) + "".join(errors)
    assert leaks(text) == []
    assert wrong[:17] not in text
    assert "张三" not in repr(regs[1])  # names stay out of reprs too


def test_adding_and_revoking_is_audited_in_the_same_call_with_the_id_masked(
    store: RegistrationStore, db: sqlite3.Connection
) -> None:
    reg = store.add("owner", "张三", VALID_IDS[0], actor=OWNER)
    store.revoke(reg.id, "moved out", actor=OWNER)
    with pytest.raises(RegistrationError):
        store.add("owner", "张三", "not an id", actor=OWNER)  # refused: nothing is audited
    rows = db.execute("SELECT event, actor, details FROM audit ORDER BY seq").fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("registration_added", OWNER),
        ("registration_revoked", OWNER),
    ]
    assert reg.masked_id in rows[0][2]
    assert VALID_IDS[0] not in "".join(r[2] for r in rows)


def test_refusals_read_as_english(store: RegistrationStore) -> None:
    assert with_article("institution") == "an institution"
    assert with_article("owner") == "an owner"
    assert with_article("business") == "a business"
    with pytest.raises(RegistrationError, match=r"^an institution registration needs"):
        store.add("institution", "张三", VALID_IDS[0], actor=OWNER)
    with pytest.raises(RegistrationError, match=r"^a business registration needs"):
        store.add("business", "张三", VALID_IDS[0], actor=OWNER)
