"""Passports and HK/Macao/Taiwan permits for real-name registration: format and country checks
(python-stdnum where it knows the number), masking, and registrations made with them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.db import open_database
from privacy.audit import AuditLog
from privacy.documents import DocumentError, DocumentType, mask_document, validate_document
from privacy.registration import (
    RegistrationError,
    RegistrationStore,
    validate_organisation,
)
from privacy.secrets import FieldCipher
from testkit.clock import FakeClock

NOW = 1_795_300_000.0  # November 2026
USCC = "91440300MA5FXXXX1"


@pytest.mark.parametrize(
    ("doc", "number", "country", "expected"),
    [
        (DocumentType.PASSPORT, "C01X00T47", "DE", ("C01X00T47", "DE")),
        (DocumentType.PASSPORT, "c01x 00t47", "de", ("C01X00T47", "DE")),
        (DocumentType.PASSPORT, "XR1001R58", "NL", ("XR1001R58", "NL")),  # stdnum.nl checks it
        (DocumentType.PASSPORT, "E12345678", "CN", ("E12345678", "CN")),
        (DocumentType.PASSPORT, "EA1234567", "CN", ("EA1234567", "CN")),
        (DocumentType.PASSPORT, "123456789", "US", ("123456789", "US")),
        (DocumentType.PASSPORT, "K1234567", "HK", ("K1234567", "HK")),
        (DocumentType.HK_MACAO_PERMIT, "H12345678", None, ("H12345678", "HK")),
        (DocumentType.HK_MACAO_PERMIT, "M1234567890", "mo", ("M1234567890", "MO")),
        (DocumentType.TAIWAN_PERMIT, "12345678", None, ("12345678", "TW")),
        (DocumentType.TAIWAN_PERMIT, "1234567890", "TW", ("1234567890", "TW")),
    ],
)
def test_documents_that_fit_their_format_are_accepted(
    doc: DocumentType, number: str, country: str | None, expected: tuple[str, str]
) -> None:
    assert validate_document(doc, number, country) == expected


@pytest.mark.parametrize(
    ("doc", "number", "country", "field", "check"),
    [
        (DocumentType.PASSPORT, "C01X00T47", None, "country", "length"),
        (DocumentType.PASSPORT, "C01X00T47", "XX", "country", "format"),
        (DocumentType.PASSPORT, "C01X00T47", "DEU", "country", "format"),
        (DocumentType.PASSPORT, "C01X00T47", "UK", "country", "format"),  # it is GB
        (DocumentType.PASSPORT, "", "DE", "document_number", "length"),
        (DocumentType.PASSPORT, "C01X", "DE", "document_number", "format"),
        (DocumentType.PASSPORT, "C01X00T47X", "DE", "document_number", "format"),
        (DocumentType.PASSPORT, "C01X<0T47", "DE", "document_number", "format"),
        (DocumentType.PASSPORT, "Ｃ01X00T47", "DE", "document_number", "format"),
        (DocumentType.PASSPORT, "XR1O01R58", "NL", "document_number", "format"),  # stdnum: no O
        (DocumentType.PASSPORT, "12345678", "CN", "document_number", "format"),
        (DocumentType.HK_MACAO_PERMIT, "K12345678", None, "document_number", "format"),
        (DocumentType.HK_MACAO_PERMIT, "H1234567", None, "document_number", "format"),
        (DocumentType.HK_MACAO_PERMIT, "H12345678", "MO", "country", "mismatch"),
        (DocumentType.TAIWAN_PERMIT, "1234567", None, "document_number", "format"),
        (DocumentType.TAIWAN_PERMIT, "T12345678", None, "document_number", "format"),
        (DocumentType.TAIWAN_PERMIT, "12345678", "CN", "country", "mismatch"),
    ],
)
def test_documents_that_do_not_fit_are_refused_without_echoing_the_number(
    doc: DocumentType, number: str, country: str | None, field: str, check: str
) -> None:
    with pytest.raises(DocumentError) as refused:
        validate_document(doc, number, country)
    assert (refused.value.field, refused.value.check) == (field, check)
    if len(number) > 3:
        assert number not in str(refused.value)


def test_masking_shows_the_first_and_last_three() -> None:
    assert mask_document("C01X00T47") == "C*****T47"
    assert mask_document("12345678") == "1****678"


@pytest.mark.parametrize(
    "name",
    [
        "Smith & Sons (Shanghai) Ltd.",
        "上海某某（浦东）有限公司",
        "Müller-Lüdenscheid GmbH & Co. KG",
        "3M China Co., Ltd.",
        "A/S Nordisk",
        "阳光幼儿园（第二分园）",
        "O’Brien’s Bakery",
        "某某·科技 Ltd+",
    ],
)
def test_company_names_keep_their_punctuation(name: str) -> None:
    assert validate_organisation(name) == name


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("", "length"),
        ("   ", "length"),
        ("x" * 101, "length"),
        ("Smith\x00Sons", "format"),
        ("Smith\nSons", "format"),
        ("Smith\u200bSons", "format"),
        ("Smith\u202eSons", "format"),
        ("Smith\u2028Sons", "format"),
        ("Smith  Sons", "format"),
        ("Smith <script>", "format"),
        ("Smith; DROP TABLE", "format"),
        ("Smith 😀", "format"),
        ("123 & 456", "format"),
    ],
)
def test_organisation_names_with_controls_or_symbols_are_refused(name: str, check: str) -> None:
    with pytest.raises(RegistrationError) as refused:
        validate_organisation(name)
    assert (refused.value.field, refused.value.check) == ("organisation", check)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_database(tmp_path / "camera.db")
    yield conn
    conn.close()


@pytest.fixture
def store(db: sqlite3.Connection) -> RegistrationStore:
    clock = FakeClock(NOW)
    return RegistrationStore(db, FieldCipher(b"k" * 32), clock, AuditLog(db, clock))


def _uscc() -> str:
    from stdnum.cn import uscc

    return USCC + uscc.calc_check_digit(USCC)


def test_a_passport_registration_is_stored_encrypted_masked_and_audited(
    db: sqlite3.Connection, store: RegistrationStore
) -> None:
    reg = store.add(
        "owner", "Anna Schmidt", "c01x00t47", actor="owner", document_type="passport", country="de"
    )
    assert (reg.document_type, reg.country, reg.masked_id) == ("passport", "DE", "C*****T47")
    assert store.get(reg.id) == reg and store.active() == [reg]
    assert store.reveal_resident_id(reg.id) == "C01X00T47"
    raw = db.execute("SELECT * FROM registrations").fetchone()
    assert b"C01X00T47" not in bytes(raw["resident_id_enc"])
    row = db.execute("SELECT details FROM audit WHERE event = 'registration_added'").fetchone()
    details = json.loads(row[0])
    assert details["document_type"] == "passport" and details["country"] == "DE"
    assert details["masked"] == "C*****T47" and "C01X00T47" not in row[0]
    assert "C01X00T47" not in repr(reg)


def test_a_business_registers_with_its_company_name(store: RegistrationStore) -> None:
    reg = store.add(
        "business",
        "王小明",
        "H12345678",
        _uscc(),
        actor="owner",
        document_type=DocumentType.HK_MACAO_PERMIT,
        organisation="Smith & Sons (Shanghai) Ltd.",
    )
    assert reg.organisation == "Smith & Sons (Shanghai) Ltd." and reg.country == "HK"
    assert store.get(reg.id) == reg


@pytest.mark.parametrize(
    ("kwargs", "field", "check"),
    [
        ({"document_type": "passport", "country": None}, "country", "length"),
        ({"document_type": "visa", "country": "DE"}, "document_type", "format"),
        ({"document_type": "resident_id", "country": "DE"}, "country", "mismatch"),
        (
            {"document_type": "passport", "country": "DE", "organisation": "Acme"},
            "organisation",
            "format",
        ),
    ],
)
def test_refused_documents_store_nothing(
    db: sqlite3.Connection, store: RegistrationStore, kwargs: dict, field: str, check: str
) -> None:
    number = "11010519491231002X" if kwargs["document_type"] == "resident_id" else "C01X00T47"
    with pytest.raises(RegistrationError) as refused:
        store.add("owner", "Anna Schmidt", number, actor="owner", **kwargs)
    assert (refused.value.field, refused.value.check) == (field, check)
    for table in ("registrations", "registration_details", "audit"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_a_company_name_typed_as_the_person_s_name_says_where_it_goes(
    store: RegistrationStore,
) -> None:
    with pytest.raises(RegistrationError, match="goes in organisation"):
        store.add("business", "Smith & Sons (Shanghai) Ltd.", "H12345678", _uscc(),
                  actor="owner", document_type="hk_macao_permit")  # fmt: skip
