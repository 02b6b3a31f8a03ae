"""Identity documents other than the PRC resident ID, for real-name registration of people who
have none: a passport of any country, or a Mainland Travel Permit of a Hong Kong, Macao or Taiwan
resident. Pure checks, no storage (``privacy.registration`` stores and audits).

What can be checked is checked: python-stdnum validates the numbers it knows
(``stdnum.nl.identiteitskaartnummer`` for Dutch passports); the permits and Chinese passports get
their published formats; every other passport the ICAO 9303 document-number format (up to nine
letters and digits). The issuing country is an ISO 3166-1 alpha-2 code that is assigned. A
format check does not prove a document exists: registration records who says they are
responsible, as the law asks, it does not verify identity.

Hong Kong, Macao and Taiwan residents who hold a *residence permit* (港澳台居民居住证) have an
18-digit number in the resident ID format (region codes 810000, 820000, 830000); they register
with ``resident_id`` like mainland residents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from stdnum.exceptions import ValidationError
from stdnum.nl import identiteitskaartnummer

__all__ = ["COUNTRIES", "DocumentError", "DocumentType", "mask_document", "validate_document"]


class DocumentType(StrEnum):
    """The identity document a registration was made with."""

    RESIDENT_ID = "resident_id"  # PRC resident ID card (and HK/Macao/Taiwan residence permits)
    PASSPORT = "passport"
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证 (Home Return Permit)
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证


# ISO 3166-1 alpha-2 codes officially assigned (249, as of 2024), a row of them a line.
_ASSIGNED = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI",
    "BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN",
    "CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK",
    "FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM",
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN",
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK",
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP",
    "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW",
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF",
    "TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI",
    "VN VU WF WS YE YT ZA ZM ZW",
)
#: The country codes a document may name.
COUNTRIES = frozenset(code for row in _ASSIGNED for code in row.split())

# ICAO 9303: the document number field holds up to 9 characters, A-Z and 0-9.
_ICAO_NUMBER = re.compile(r"[A-Z0-9]{5,9}")
# PRC passports: E + 8 digits, E + a letter (not I or O) + 7 digits (from 2012), G + 8 digits.
_CN_PASSPORT = re.compile(r"E[0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|G[0-9]{8}")
# Home Return Permit: H (Hong Kong) or M (Macao) + 8 digits on the card since 2013 (+ 10 on the
# older booklet); Taiwan compatriot permit: 8 digits on the card since 2015 (10 on the booklet).
_HK_MACAO_PERMIT = re.compile(r"[HM]([0-9]{8}|[0-9]{10})")
_TAIWAN_PERMIT = re.compile(r"[0-9]{8}|[0-9]{10}")
_PERMIT_REGION = {"H": "HK", "M": "MO"}

_WHAT = {
    DocumentType.PASSPORT: "passport number",
    DocumentType.HK_MACAO_PERMIT: "Mainland Travel Permit number (Hong Kong/Macao residents)",
    DocumentType.TAIWAN_PERMIT: "Mainland Travel Permit number (Taiwan residents)",
}

# Countries whose passport numbers python-stdnum knows.
_STDNUM_PASSPORTS: dict[str, Callable[[str], str]] = {"NL": identiteitskaartnummer.validate}


class DocumentError(ValueError):
    """A document field was refused. ``field`` (``document_number`` or ``country``) names it,
    ``check`` the rule; the message never contains the refused number."""

    def __init__(self, field: str, check: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.check = check


def validate_document(doc: DocumentType, number: str, country: str | None) -> tuple[str, str]:
    """Check a passport or permit; returns the compact number (capitals, no spaces) and the
    issuing country (ISO 3166-1 alpha-2).

    ``country``: the country that issued the passport; for a permit, the holder's region (HK or
    MO for the Hong Kong/Macao permit, which its first letter must match; TW), derived when left
    out. Not for :attr:`DocumentType.RESIDENT_ID` (``privacy.registration`` checks those).
    """
    if doc == DocumentType.RESIDENT_ID or doc not in _WHAT:
        raise ValueError(f"validate_document is for {', '.join(_WHAT)}")
    what = _WHAT[doc]
    compact = _compact(number, what)
    if doc == DocumentType.PASSPORT:
        issuer = _country(country)
        _check_passport(compact, issuer, what)
        return compact, issuer
    if doc == DocumentType.HK_MACAO_PERMIT:
        if not _HK_MACAO_PERMIT.fullmatch(compact):
            raise DocumentError(
                "document_number",
                "format",
                f"{what}: H (Hong Kong) or M (Macao) followed by 8 digits (10 on the older "
                "booklet)",
            )
        region = _PERMIT_REGION[compact[0]]
        if country is not None and _country(country) != region:
            raise DocumentError(
                "country",
                "mismatch",
                f"country: a permit number starting with {compact[0]} is a {region} resident's",
            )
        return compact, region
    if not _TAIWAN_PERMIT.fullmatch(compact):
        raise DocumentError(
            "document_number", "format", f"{what}: 8 digits (10 on the older booklet)"
        )
    if country is not None and _country(country) != "TW":
        raise DocumentError("country", "mismatch", "country: this permit is for TW residents")
    return compact, "TW"


def _compact(number: str, what: str) -> str:
    if not isinstance(number, str) or not number.strip():
        raise DocumentError("document_number", "length", f"{what} is empty")
    if not number.isascii():
        raise DocumentError(
            "document_number",
            "format",
            f"{what} may contain only ASCII letters and digits "
            "(full-width or other characters are not accepted)",
        )
    compact = re.sub(r"[\s-]", "", number).upper()
    if not compact.isalnum():
        raise DocumentError(
            "document_number", "format", f"{what} may contain only letters and digits"
        )
    return compact


def _country(code: str | None) -> str:
    if code is None or not isinstance(code, str) or not code.strip():
        raise DocumentError(
            "country", "length", "country: the ISO 3166-1 alpha-2 code of the issuing country"
        )
    upper = code.strip().upper()
    if upper not in COUNTRIES:
        raise DocumentError(
            "country",
            "format",
            "country must be an assigned ISO 3166-1 alpha-2 code such as DE, US or HK",
        )
    return upper


def _check_passport(number: str, country: str, what: str) -> None:
    if not _ICAO_NUMBER.fullmatch(number):
        raise DocumentError(
            "document_number", "format", f"{what}: 5 to 9 letters and digits (ICAO 9303)"
        )
    if country == "CN" and not _CN_PASSPORT.fullmatch(number):
        raise DocumentError(
            "document_number",
            "format",
            f"{what}: a Chinese passport number is E or G and 8 digits, or E, a letter and "
            "7 digits",
        )
    check = _STDNUM_PASSPORTS.get(country)
    if check is not None:
        try:
            check(number)
        except ValidationError:
            raise DocumentError(
                "document_number", "format", f"{what} is not a valid {country} passport number"
            ) from None


def mask_document(number: str) -> str:
    """A passport or permit number for display: the first character and the last three."""
    return number[0] + "*" * (len(number) - 4) + number[-3:]
