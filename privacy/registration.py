"""Real-name registration of the person responsible for live streaming.

Three kinds of registration: a home ``owner`` (name + resident ID number), an ``institution``
such as a kindergarten (legal representative's name and resident ID + the institution's Unified
Social Credit Code) and a ``business`` (responsible person's name and resident ID + the merchant's
USCC). Numbers are checked with python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``).

People without a PRC resident ID register with a passport or a Mainland Travel Permit for Hong
Kong/Macao or Taiwan residents instead (``privacy.documents``: document type, issuing country,
number). An institution or business may give its name as registered (``organisation``); company
names keep their ``&``, parentheses and digits.

The document number is stored only encrypted (``privacy.secrets.FieldCipher``) and shown only
masked; it never appears in exceptions, logs or reprs. The USCC is public information about an
organisation and is stored in clear.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from stdnum.cn import ric, uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from firmware.clock import Clock
from firmware.errors import AppError, ExitCode
from privacy.audit import AuditEvent, AuditLog
from privacy.documents import DocumentError, DocumentType, mask_document, validate_document
from privacy.gates.roles import RegistrationKind
from privacy.secrets import FieldCipher

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 64
MAX_ORGANISATION_CHARS = 100
MAX_REASON_CHARS = 200
MAX_AGE_YEARS = 130
# Birth dates on resident IDs are Chinese calendar dates; judge "future" in China Standard Time.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

# Middle dots people type between the parts of a minority or transliterated name; all are stored
# as U+00B7, the one GB 18030 forms and official documents use.
_MIDDLE_DOTS = {"\u00b7": "\u00b7", "\u30fb": "\u00b7", "\u2027": "\u00b7", "\u2022": "\u00b7"}
_NAME_PUNCTUATION = frozenset(" .-'\u2019\u00b7")
# What registered company names use besides letters and digits: "Smith & Sons (Shanghai) Ltd.",
# "上海某某（浦东）有限公司", "A/S", "Müller-Lüdenscheid GmbH & Co. KG", "某某·科技".
_ORGANISATION_PUNCTUATION = frozenset(" .,-'\u2019\u00b7&()/+\uff06\uff08\uff09\u3001\uff0c\u2013")


class RegistrationError(AppError, ValueError):
    """An input was refused. ``field`` names the input, ``check`` the rule that failed.

    The message says why in words and never contains the refused value.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, field: str, check: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.check = check


class UnknownRegistration(LookupError):
    """No registration has the given id."""


def _today(wall: float | None = None) -> date:
    if wall is None:
        return datetime.now(CHINA_TZ).date()
    return datetime.fromtimestamp(wall, UTC).astimezone(CHINA_TZ).date()


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


def _region_ever_existed(code: str) -> bool:
    from stdnum import numdb

    # a six-digit code names a county; a known province prefix alone is not a region
    found = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    return bool(found.get("county"))


def _validate_ric(value: str) -> str:
    """``ric.validate`` without its birth-year test of the region code."""
    number = ric.compact(value)
    if len(number) != 18:
        raise InvalidLength()
    if not number[:-1].isdigit():
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    ric.get_birth_date(number)  # InvalidComponent when not a date
    if not _region_ever_existed(number[:6]):
        raise InvalidComponent()
    return number


def with_article(word: str) -> str:
    """``word`` after "a" or "an" ("an institution", "a business")."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """Check an 18-character PRC resident ID number and return its compact form.

    Checks, with ``stdnum.cn.ric``: length and format, ISO 7064 MOD 11-2 check digit, a real birth
    date, a region code that has ever existed (GB/T 2260, stdnum's table); then that the birth
    date is neither in the future nor more than 130 years before ``today`` (default: today in
    China).

    The region is not checked against the birth year, as ``ric.validate`` does: a person keeps
    the code of the place that first issued their number, which may have been created or renamed
    after they were born (e.g. ``310115``, Pudong, issued to people born before 1993; stdnum
    issue #442). Refusing real numbers would lock real people out of registering.

    Full-width digits and other non-ASCII look-alikes are refused rather than normalised, so what
    is stored is exactly what the person can read back on their card.
    """
    what = "resident ID number"
    if not isinstance(value, str):
        raise RegistrationError("resident_id", "format", f"{what} must be text")
    if not value.strip():
        raise RegistrationError("resident_id", "length", f"{what} is empty")
    if not value.isascii():
        raise RegistrationError(
            "resident_id",
            "format",
            f"{what} may contain only ASCII digits 0-9 and a final X "
            "(full-width or other characters are not accepted)",
        )
    try:
        number = _validate_ric(value)
    except InvalidLength:
        raise RegistrationError(
            "resident_id", "length", f"{what} must be exactly 18 characters long"
        ) from None
    except InvalidFormat:
        raise RegistrationError(
            "resident_id", "format", f"{what}: the first 17 characters must all be digits"
        ) from None
    except InvalidChecksum:
        raise RegistrationError(
            "resident_id",
            "check_digit",
            f"{what}: the check digit (last character) does not match (ISO 7064 MOD 11-2); "
            "a digit was probably mistyped",
        ) from None
    # stdnum raises InvalidComponent for both a bad birth date and an unknown region, and a bare
    # KeyError for some unknown region codes; tell them apart for a useful message.
    except (InvalidComponent, KeyError):
        compact = ric.compact(value)
        try:
            ric.get_birth_date(compact)
        except ValidationError:
            raise RegistrationError(
                "resident_id",
                "birth_date",
                f"{what}: characters 7-14 are not a real date of birth (YYYYMMDD)",
            ) from None
        raise RegistrationError(
            "resident_id",
            "region",
            f"{what}: the region code (first 6 digits) is not one that was ever issued",
        ) from None
    except ValidationError:
        raise RegistrationError("resident_id", "format", f"{what} is not valid") from None
    born = ric.get_birth_date(number)
    today = today or _today()
    if born > today:
        raise RegistrationError(
            "resident_id", "birth_date", f"{what}: the date of birth is in the future"
        )
    if born < _years_before(today, MAX_AGE_YEARS):
        raise RegistrationError(
            "resident_id",
            "birth_date",
            f"{what}: the date of birth is more than {MAX_AGE_YEARS} years ago",
        )
    return number


def validate_uscc(value: str) -> str:
    """Check an 18-character Unified Social Credit Code and return its compact form.

    Checks, via ``stdnum.cn.uscc``: length, format (8 digits, then digits or letters other than
    I, O, Z, S, V) and the GB 32100 check character. Non-ASCII characters are refused.
    """
    what = "Unified Social Credit Code"
    if not isinstance(value, str):
        raise RegistrationError("uscc", "format", f"{what} must be text")
    if not value.strip():
        raise RegistrationError("uscc", "length", f"{what} is empty")
    if not value.isascii():
        raise RegistrationError(
            "uscc",
            "format",
            f"{what} may contain only ASCII digits and capital letters "
            "(full-width or other characters are not accepted)",
        )
    try:
        return uscc.validate(value)
    except InvalidLength:
        raise RegistrationError(
            "uscc", "length", f"{what} must be exactly 18 characters long"
        ) from None
    except InvalidFormat:
        raise RegistrationError(
            "uscc",
            "format",
            f"{what}: the first 8 characters must be digits and the rest digits or letters "
            "other than I, O, Z, S, V",
        ) from None
    except InvalidChecksum:
        raise RegistrationError(
            "uscc",
            "check_digit",
            f"{what}: the check character (last character) does not match; "
            "a character was probably mistyped",
        ) from None
    except ValidationError:
        raise RegistrationError("uscc", "format", f"{what} is not valid") from None


def validate_name(value: str) -> str:
    """Check a person's name and return it normalised (NFC, trimmed, middle dots as U+00B7).

    Allows letters of any script (Chinese, Latin, ...), combining marks, single spaces and
    ``. - '`` and the middle dot used in minority and transliterated names
    (e.g. ``阿依古丽·买买提``). 1-64 characters; no digits, symbols or control characters.
    """
    if not isinstance(value, str):
        raise RegistrationError("name", "format", "name must be text")
    name = unicodedata.normalize("NFC", value).strip()
    name = "".join(_MIDDLE_DOTS.get(ch, ch) for ch in name)
    if not name:
        raise RegistrationError("name", "length", "name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise RegistrationError(
            "name", "length", f"name is longer than {MAX_NAME_CHARS} characters"
        )
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp"):
            raise RegistrationError(
                "name", "format", "name contains a control or invisible character"
            )
        if category[0] not in "LM" and ch not in _NAME_PUNCTUATION:
            raise RegistrationError(
                "name",
                "format",
                f"name contains a character not allowed in names (U+{ord(ch):04X})",
            )
    if "  " in name:
        raise RegistrationError("name", "format", "name contains consecutive spaces")
    if not any(unicodedata.category(ch)[0] == "L" for ch in name):
        raise RegistrationError("name", "format", "name contains no letters")
    return name


def validate_organisation(value: str) -> str:
    """Check an institution's or business's name and return it normalised (NFC, trimmed).

    Allows letters of any script, digits, combining marks, single spaces and the punctuation of
    registered company names (``& ( ) （ ） . , - ' / + 、 ·``); 1-100 characters, at least one
    letter; no control or invisible characters, no other symbols.
    """
    what = "organisation"
    if not isinstance(value, str):
        raise RegistrationError(what, "format", f"{what} must be text")
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise RegistrationError(what, "length", f"{what} is empty")
    if len(name) > MAX_ORGANISATION_CHARS:
        raise RegistrationError(
            what, "length", f"{what} is longer than {MAX_ORGANISATION_CHARS} characters"
        )
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp"):
            raise RegistrationError(
                what, "format", f"{what} contains a control or invisible character"
            )
        if category[0] not in "LMN" and ch not in _ORGANISATION_PUNCTUATION:
            raise RegistrationError(
                what,
                "format",
                f"{what} contains a character not allowed in names (U+{ord(ch):04X})",
            )
    if "  " in name:
        raise RegistrationError(what, "format", f"{what} contains consecutive spaces")
    if not any(unicodedata.category(ch)[0] == "L" for ch in name):
        raise RegistrationError(what, "format", f"{what} contains no letters")
    return name


def mask_resident_id(compact: str) -> str:
    """Mask a compact resident ID number for display: first 3 and last 4 characters visible.

    Common Chinese practice shows the first 6 or the first 3 plus the last 4. We show the first
    3 (province and part of the prefecture, not the county) and the last 4 (enough for the owner
    to recognise their own number), hiding the county of birth and the whole birth date:
    ``110***********123X``.
    """
    if len(compact) != 18:
        raise RegistrationError("resident_id", "length", "only an 18-character number is masked")
    return compact[:3] + "*" * 11 + compact[-4:]


@dataclass(frozen=True, slots=True)
class Registration:
    """One real-name registration as shown to people: the ID number only in masked form.

    ``name`` is the responsible person's name (owner, legal representative or responsible
    person); it is kept out of ``repr`` so the record can be logged safely. ``masked_id`` is
    the masked number of the document (``document_type``, issued by ``country``).
    """

    id: str
    kind: RegistrationKind
    name: str = field(repr=False)
    masked_id: str
    uscc: str | None
    created_at: float
    revoked_at: float | None = None
    revoke_reason: str | None = field(default=None, repr=False)
    document_type: DocumentType = DocumentType.RESIDENT_ID
    country: str = "CN"
    organisation: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


# Registrations made before migration 0005 have no details row: a resident ID, from CN.
_COLUMNS = (
    "id, kind, name, masked_id, uscc, created_at, revoked_at, revoke_reason,"
    " coalesce(document_type, 'resident_id') AS document_type,"
    " coalesce(country, 'CN') AS country, organisation"
)
_FROM = "registrations LEFT JOIN registration_details ON registration_id = id"


def _aad(registration_id: str) -> str:
    return f"registrations/{registration_id}/resident_id"


def _row(row: sqlite3.Row) -> Registration:
    return Registration(
        id=row["id"],
        kind=RegistrationKind(row["kind"]),
        name=row["name"],
        masked_id=row["masked_id"],
        uscc=row["uscc"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
        document_type=DocumentType(row["document_type"]),
        country=row["country"],
        organisation=row["organisation"],
    )


class RegistrationStore:
    """Registrations in the device database, resident ID numbers encrypted with ``cipher``."""

    def __init__(
        self, conn: sqlite3.Connection, cipher: FieldCipher, clock: Clock, audit: AuditLog
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        self._clock = clock
        self._audit = audit

    def __repr__(self) -> str:
        return "RegistrationStore()"

    def add(
        self,
        kind: RegistrationKind | str,
        name: str,
        number: str,
        uscc: str | None = None,
        *,
        actor: str,
        document_type: DocumentType | str = DocumentType.RESIDENT_ID,
        country: str | None = None,
        organisation: str | None = None,
    ) -> Registration:
        """Validate every input, then store one registration and audit it (the number only
        masked). A refused input stores nothing.

        ``number`` is the number of the ``document_type`` document: an 18-character PRC
        resident ID (``country`` CN or left out), or a passport (``country``: the ISO 3166-1
        alpha-2 code of the issuing country) or permit (see ``privacy.documents``). ``uscc`` is
        required for ``institution`` and ``business`` and refused for ``owner``; so is
        ``organisation``, which is optional.
        """
        if kind not in set(RegistrationKind):
            kinds = ", ".join(RegistrationKind)
            raise RegistrationError("kind", "format", f"kind must be one of {kinds}")
        kind = RegistrationKind(kind)
        if document_type not in set(DocumentType):
            types = ", ".join(DocumentType)
            raise RegistrationError("document_type", "format", f"document_type: one of {types}")
        document_type = DocumentType(document_type)
        clean_name = self._person_name(kind, name)
        now = self._clock.wall()
        if document_type == DocumentType.RESIDENT_ID:
            if country is not None and country.strip().upper() != "CN":
                raise RegistrationError(
                    "country", "mismatch", "country: a resident ID number is issued by CN"
                )
            number = validate_resident_id(number, today=_today(now))
            issuer, masked = "CN", mask_resident_id(number)
        else:
            try:
                number, issuer = validate_document(document_type, number, country)
            except DocumentError as err:
                raise RegistrationError(err.field, err.check, str(err)) from None
            masked = mask_document(number)
        if kind == RegistrationKind.OWNER:
            if uscc is not None:
                raise RegistrationError("uscc", "format", "an owner registration has no USCC")
            if organisation is not None:
                raise RegistrationError(
                    "organisation", "format", "an owner registration names no organisation"
                )
            code = None
        else:
            if uscc is None:
                raise RegistrationError(
                    "uscc",
                    "length",
                    f"{with_article(kind)} registration needs the Unified Social Credit Code",
                )
            code = validate_uscc(uscc)
            if organisation is not None:
                organisation = validate_organisation(organisation)
        reg = Registration(
            id=uuid.uuid4().hex,
            kind=kind,
            name=clean_name,
            masked_id=masked,
            uscc=code,
            created_at=now,
            document_type=document_type,
            country=issuer,
            organisation=organisation,
        )
        sealed = self._cipher.encrypt(number, _aad(reg.id))
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute(
                "INSERT INTO registrations (id, kind, name, resident_id_enc, masked_id, uscc,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (reg.id, reg.kind, reg.name, sealed, reg.masked_id, reg.uscc, reg.created_at),
            )
            self._conn.execute(
                "INSERT INTO registration_details (registration_id, document_type, country,"
                " organisation) VALUES (?, ?, ?, ?)",
                (reg.id, reg.document_type, reg.country, reg.organisation),
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        details: dict[str, object] = {
            "registration": reg.id,
            "kind": reg.kind,
            "masked": reg.masked_id,
            "document_type": reg.document_type,
            "country": reg.country,
        }
        if reg.organisation is not None:
            details["organisation"] = reg.organisation
        self._audit.append(AuditEvent.REGISTRATION_ADDED, actor=actor, details=details)
        log.info("registration %s (%s, %s) added", reg.id, kind, document_type)
        return reg

    @staticmethod
    def _person_name(kind: RegistrationKind, name: str) -> str:
        try:
            return validate_name(name)
        except RegistrationError as err:
            if kind == RegistrationKind.OWNER or err.check != "format":
                raise
            # the organisation's own name is typed here often: say where it goes
            raise RegistrationError(
                "name",
                "format",
                f"{err}; name is the responsible person's, the {kind}'s own name goes in "
                "organisation",
            ) from None

    def get(self, registration_id: str) -> Registration | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE id = ?",  # noqa: S608 - constant columns
            (registration_id,),
        ).fetchone()
        return _row(row) if row else None

    def active(self, kind: RegistrationKind | None = None) -> list[Registration]:
        """Registrations not revoked, oldest first, optionally of one kind."""
        sql = f"SELECT {_COLUMNS} FROM {_FROM} WHERE revoked_at IS NULL"  # noqa: S608
        params: tuple[str, ...] = ()
        if kind is not None:
            sql += " AND kind = ?"
            params = (kind,)
        rows = self._conn.execute(sql + " ORDER BY created_at, id", params).fetchall()
        return [_row(r) for r in rows]

    def revoke(self, registration_id: str, reason: str, *, actor: str) -> Registration:
        """Mark a registration revoked (kept for the record, no longer active), audited."""
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason:
            raise RegistrationError("reason", "length", "a revocation needs a reason")
        if len(reason) > MAX_REASON_CHARS:
            raise RegistrationError(
                "reason", "length", f"reason is longer than {MAX_REASON_CHARS} characters"
            )
        if any(unicodedata.category(ch)[0] == "C" for ch in reason):
            raise RegistrationError("reason", "format", "reason contains a control character")
        cur = self._conn.execute(
            "UPDATE registrations SET revoked_at = ?, revoke_reason = ?"
            " WHERE id = ? AND revoked_at IS NULL",
            (self._clock.wall(), reason, registration_id),
        )
        reg = self.get(registration_id)
        if reg is None:
            raise UnknownRegistration(f"no registration {registration_id}")
        if cur.rowcount == 0:
            raise RegistrationError("id", "state", f"registration {registration_id} was revoked")
        self._audit.append(
            AuditEvent.REGISTRATION_REVOKED,
            actor=actor,
            details={"registration": reg.id, "kind": reg.kind, "reason": reason},
        )
        log.info("registration %s revoked", registration_id)
        return reg

    def reveal_resident_id(self, registration_id: str) -> str:
        """Decrypt and return the full resident ID number of a registration (revoked ones too).

        Only for showing the owner their own registration or answering a lawful request. The
        caller must have authorised the request (owner role, fresh authentication) and must write
        an audit record; this method only logs that a reveal happened, never the number.
        Raises ``privacy.secrets.DecryptionError`` if the stored value was altered or moved.
        """
        row = self._conn.execute(
            "SELECT resident_id_enc FROM registrations WHERE id = ?", (registration_id,)
        ).fetchone()
        if row is None:
            raise UnknownRegistration(f"no registration {registration_id}")
        number = self._cipher.decrypt(row["resident_id_enc"], _aad(registration_id))
        log.info("resident ID of registration %s revealed", registration_id)
        return number
