"""Request bodies of the owner API. Strict: unknown keys, wrong types and coercions are refused.

These models are also the OpenAPI description's schemas, so the documentation cannot drift from
what the server accepts.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from camera_app.masks import MAX_MASKS, MAX_POINTS, MIN_AREA
from camera_app.tokens import Scope
from firmware.geometry import polygon_area, polygon_is_simple
from privacy.documents import DocumentType
from privacy.gates.roles import RegistrationKind, Role
from privacy.gates.schedule import Schedule

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Username = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,64}$"),
    Field(description="1-64 of A-Z a-z 0-9 _ . @ -"),
]
Password = Annotated[str, Field(min_length=1, max_length=256)]
CameraId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Room = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SetupBody(Body):
    code: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The one-time setup code shown on the device console."
    )
    username: Username
    password: Password


class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Password


class PublicLoginBody(Body):
    link: Annotated[str, Field(min_length=16, max_length=128)] = Field(
        description="The token of a public viewing link."
    )


InviteCode = Annotated[
    str,
    Field(min_length=8, max_length=64, description="The one-time invite code (after #join=)."),
]


class InvitePreviewBody(Body):
    code: InviteCode


class AcceptInviteBody(Body):
    code: InviteCode
    password: Password
    consent: bool = Field(
        description="The viewer accepts the viewing terms: watch only, no recording or "
        "sharing. Required for parents."
    )


class ChangePasswordBody(Body):
    current_password: Password
    new_password: Password = Field(description="At least 10 characters, not the username.")


class OptInBody(Body):
    confirmation: Annotated[str, Field(max_length=64)] = Field(
        description="Type exactly 'STREAM <camera id>' (e.g. 'STREAM cam1')."
    )


class AutoStartBody(Body):
    enabled: bool = Field(
        description="Start the stream by itself inside the posted hours (and stop it after "
        "them) when every gate holds; merchant cameras only."
    )


class StopBody(Body):
    reason: Annotated[str, StringConstraints(max_length=200)] = "stopped by the owner"


class RegistrationBody(Body):
    kind: RegistrationKind
    name: Annotated[str, Field(max_length=200)] = Field(
        description="The responsible person's name (owner, legal representative or "
        "responsible person)."
    )
    document_type: DocumentType = Field(
        default=DocumentType.RESIDENT_ID,
        description="The identity document: resident_id (PRC resident ID, also HK/Macao/Taiwan "
        "residence permits), passport, hk_macao_permit or taiwan_permit (Mainland Travel "
        "Permits).",
    )
    resident_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="document_type resident_id: the 18-character PRC resident ID number; "
        "stored encrypted, shown masked.",
    )
    document_number: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="Other document types: the passport or permit number; stored encrypted, "
        "shown masked.",
    )
    country: Annotated[str, Field(max_length=8)] | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 code of the country that issued the passport (required "
        "for passports); for a permit the holder's region (HK, MO, TW), derived when left out.",
    )
    uscc: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="Unified Social Credit Code (institution and business only).",
    )
    organisation: Annotated[str, Field(max_length=200)] | None = Field(
        default=None,
        description="Institution or business only: its name as registered, e.g. "
        "'Smith & Sons (Shanghai) Ltd.' or '上海某某（浦东）有限公司'.",
    )


class RevokeBody(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class NoticeBody(Body):
    operator: Annotated[_Text, Field(max_length=80)]
    purpose: Annotated[_Text, Field(max_length=160)]
    contact: Annotated[_Text, Field(max_length=120)]
    hours: Schedule = Field(description="Streaming hours printed on the sign (and enforced).")
    public_url: Annotated[str, Field(max_length=200)] | None = Field(
        default=None,
        description="Public base URL customers' phones open (the QR code points at "
        "<public_url>/notice/<id>), e.g. https://shop-cam.example.com. Default: "
        "streaming.public_url. Refused (422 unreachable_public_url) when missing, loopback, "
        "link-local, private, .local/.lan/.home.arpa, single-label or not http(s).",
    )


class AttestBody(Body):
    confirmation: Literal["posted"] = Field(
        description="'posted': the owner attests the sign is on display where the camera is."
    )


class ConsentBody(Body):
    reference: Annotated[_Text, Field(max_length=200)] = Field(
        description="Where the signed guardian consent forms are kept."
    )
    guardians: int = Field(ge=1, le=10_000, description="How many guardians consented.")
    valid_until: date = Field(description="Last day the consent covers (YYYY-MM-DD).")


class ViewerBody(Body):
    username: Username
    role: Literal[Role.FAMILY, Role.PARENT]
    cameras: list[CameraId] = Field(default_factory=list, max_length=64)
    rooms: list[Room] = Field(default_factory=list, max_length=64)
    schedule: Schedule | None = Field(
        default=None, description="Parents: required weekly viewing windows."
    )
    watermark: bool = Field(
        default=True,
        description="Burn account id + time into the stream. Always on for parents: false "
        "is refused for them (422).",
    )
    expires_on: date | None = Field(
        default=None, description="Parents: required last day of access (YYYY-MM-DD)."
    )


class SheetInvite(Body):
    code: InviteCode
    family: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        default=None, description="The class list's label for the family, printed on the card."
    )
    language: Literal["zh-CN", "en"] = Field(default="zh-CN", description="The card's language.")


class InviteSheetBody(Body):
    invites: list[SheetInvite] = Field(
        min_length=1,
        max_length=200,
        description="Pending invitations to print, each with its one-time code (as the import "
        "returned it).",
    )
    base_url: (
        Annotated[
            str, StringConstraints(pattern=r"^https?://[^\s/?#@]+(/[^\s?#]*)?$", max_length=200)
        ]
        | None
    ) = Field(
        default=None,
        description="The address parents open (the owner app sends its own); "
        "streaming.public_url takes its place when set.",
    )


class RecordingGrantBody(Body):
    cameras: list[CameraId] = Field(
        max_length=64,
        description="Every camera whose recordings the family viewer may see from now on, "
        "each one of their invitation; [] takes every recording away.",
    )


class PublicLinkBody(Body):
    label: Annotated[_Text, Field(max_length=64)]


class QrBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description="What the QR code holds: an invite or a public viewing link."
    )


class TokenBody(Body):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        Field(description="What the token is for, e.g. 'Home Assistant'."),
    ]
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))


_Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
_Byte = Annotated[int, Field(ge=0, le=255)]


class MaskPolygon(Body):
    name: Annotated[_Text, Field(max_length=64)] = Field(
        description='A label the owner recognises ("neighbour\'s window").'
    )
    points: list[tuple[_Unit, _Unit]] = Field(
        min_length=3,
        max_length=MAX_POINTS,
        description=f"3 to {MAX_POINTS} corners [[x, y], ...], each 0..1 of the frame's width "
        "and height (0, 0 is the top left corner); edges may not cross.",
    )

    @field_validator("points")
    @classmethod
    def _drawable(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not polygon_is_simple(points):
            raise ValueError("the polygon's edges cross or touch each other")
        if polygon_area(points) < MIN_AREA:
            raise ValueError(
                f"the polygon encloses (almost) no area: at least {MIN_AREA:.2%} of the frame"
            )
        return points


class MasksBody(Body):
    privacy_masks: list[MaskPolygon] = Field(
        max_length=MAX_MASKS,
        description="Areas filled with the mask colour in every frame before anything records "
        "or streams it.",
    )
    motion_masks: list[MaskPolygon] = Field(
        max_length=MAX_MASKS,
        description="Areas where motion starts no event (still recorded and visible).",
    )
    color_bgr: tuple[_Byte, _Byte, _Byte] | None = Field(
        default=None,
        description="Fill colour of the privacy masks as [B, G, R], each 0..255; omitted: "
        "the colour stays as it is.",
    )
