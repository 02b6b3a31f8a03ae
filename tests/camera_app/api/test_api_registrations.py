"""Real-name registration through the owner API for owners outside mainland China (passport,
Hong Kong/Macao/Taiwan permits) and organisations with their registered names."""

from __future__ import annotations

import pytest

from testkit.api import ApiFactory, make_id, make_uscc
from testkit.gates import audit_events


def test_an_owner_with_a_passport_registers_and_the_number_is_masked_once_sent(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()
    reply = owner.post(
        "/api/registrations",
        {
            "kind": "owner",
            "name": "Anna Schmidt",
            "document_type": "passport",
            "document_number": "C01X00T47",
            "country": "DE",
        },
    )
    assert reply.status == 201, reply.body
    body = reply.body
    assert (body["document_type"], body["country"]) == ("passport", "DE")
    assert body["document_number"] == "C*****T47" and body["resident_id"] is None
    assert "C01X00T47" not in reply.raw.decode()
    listed = owner.get("/api/registrations").body
    assert [r["document_number"] for r in listed] == ["C*****T47"]
    assert "C01X00T47" not in owner.get("/api/registrations").raw.decode()
    [added] = [e for e in audit_events(api) if e["event"] == "registration_added"]
    assert added["document_type"] == "passport" and added["masked"] == "C*****T47"
    # and the home stream's registration gate is open with it
    owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": "STREAM cam1"})
    assert owner.post("/api/cameras/cam1/streaming/start").status == 200


def test_the_resident_id_path_is_unchanged(start_api: ApiFactory) -> None:
    owner = start_api().owner()
    reply = owner.post(
        "/api/registrations", {"kind": "owner", "name": "王小明", "resident_id": make_id()}
    )
    assert reply.status == 201, reply.body
    assert reply.body["resident_id"].startswith("110") and reply.body["country"] == "CN"
    assert reply.body["document_type"] == "resident_id"
    assert reply.body["document_number"] == reply.body["resident_id"]


def test_an_institution_with_a_permit_and_its_registered_name(start_api: ApiFactory) -> None:
    owner = start_api().owner()
    reply = owner.post(
        "/api/registrations",
        {
            "kind": "institution",
            "name": "陈大文",
            "document_type": "hk_macao_permit",
            "document_number": "H12345678",
            "uscc": make_uscc("12110000400001234"),
            "organisation": "阳光幼儿园（浦东）& Sunshine Kindergarten (Pudong)",
        },
    )
    assert reply.status == 201, reply.body
    assert reply.body["country"] == "HK" and reply.body["document_number"] == "H*****678"
    assert reply.body["organisation"] == "阳光幼儿园（浦东）& Sunshine Kindergarten (Pudong)"


@pytest.mark.parametrize(
    ("body", "field", "check"),
    [
        ({"document_type": "passport", "document_number": "C01X00T47"}, "country", "length"),
        (
            {"document_type": "passport", "document_number": "C01X00T47", "country": "ZZ"},
            "country",
            "format",
        ),
        (
            {"document_type": "passport", "resident_id": "C01X00T47", "country": "DE"},
            "resident_id",
            "format",
        ),
        ({"document_type": "passport", "country": "DE"}, "document_number", "length"),
        ({"document_type": "resident_id"}, "resident_id", "length"),
        ({"resident_id": make_id(), "document_number": "C01X00T47"}, "document_number", "format"),
        (
            {"document_type": "taiwan_permit", "document_number": "1234"},
            "document_number",
            "format",
        ),
        ({"resident_id": make_id(), "organisation": "Acme & Co"}, "organisation", "format"),
    ],
)
def test_refused_registrations_say_why_and_store_nothing(
    start_api: ApiFactory, body: dict, field: str, check: str
) -> None:
    api = start_api()
    owner = api.owner()
    reply = owner.post("/api/registrations", {"kind": "owner", "name": "Anna Schmidt", **body})
    assert reply.status == 422, reply.body
    assert (reply.body["field"], reply.body["check"]) == (field, check), reply.body
    assert owner.get("/api/registrations").body == []


def test_a_company_name_in_the_person_s_name_field_points_to_organisation(
    start_api: ApiFactory,
) -> None:
    owner = start_api().owner()
    reply = owner.post(
        "/api/registrations",
        {
            "kind": "business",
            "name": "Smith & Sons (Shanghai) Ltd.",
            "resident_id": make_id(),
            "uscc": make_uscc(),
        },
    )
    assert reply.status == 422 and "goes in organisation" in reply.body["reason"]
    fixed = owner.post(
        "/api/registrations",
        {
            "kind": "business",
            "name": "王小明",
            "resident_id": make_id(),
            "uscc": make_uscc(),
            "organisation": "Smith & Sons (Shanghai) Ltd.",
        },
    )
    assert fixed.status == 201, fixed.body
    assert fixed.body["organisation"] == "Smith & Sons (Shanghai) Ltd."
