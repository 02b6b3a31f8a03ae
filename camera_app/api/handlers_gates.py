"""Real-name registrations, posted-notice signs and guardian consent records (owner only)."""

from __future__ import annotations

import asyncio
from datetime import datetime, time

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.api.schemas import (
    AttestBody,
    ConsentBody,
    NoticeBody,
    RegistrationBody,
    RevokeBody,
)
from privacy.documents import DocumentType
from privacy.gates.store import PostedNotice
from privacy.notice_sign import (
    MAX_LENGTHS,
    NoticeInfo,
    PrivacyStatement,
    new_notice_id,
    render_notice_pdf,
    render_preview_png,
)
from privacy.public_url import PublicUrlError, check_public_url
from privacy.registration import Registration, RegistrationError, UnknownRegistration

routes = RouteTable()


def _registration_json(reg: Registration) -> dict[str, object]:
    # name is the responsible person's: shown to the owner, who entered it
    return {
        "id": reg.id,
        "kind": reg.kind,
        "name": reg.name,
        "document_type": reg.document_type,
        "country": reg.country,
        "document_number": reg.masked_id,
        # kept for clients of resident-ID registrations (the same masked number)
        "resident_id": reg.masked_id if reg.document_type == DocumentType.RESIDENT_ID else None,
        "organisation": reg.organisation,
        "uscc": reg.uscc,
        "created_at": reg.created_at,
        "revoked_at": reg.revoked_at,
        "active": reg.active,
    }


def _refused(err: RegistrationError) -> ApiError:
    return ApiError(
        422, "invalid_registration", str(err), extra={"field": err.field, "check": err.check}
    )


def _document_number(body: RegistrationBody) -> str:
    """The number from the field its document type uses; the other one must be left out."""
    if body.document_type == DocumentType.RESIDENT_ID:
        used, unused = ("resident_id", body.resident_id), ("document_number", body.document_number)
    else:
        used, unused = ("document_number", body.document_number), ("resident_id", body.resident_id)
    if unused[1] is not None:
        raise _refused(
            RegistrationError(
                unused[0], "format", f"{unused[0]}: not for document_type {body.document_type}"
            )
        )
    if used[1] is None:
        raise _refused(
            RegistrationError(
                used[0], "length", f"{used[0]}: required for document_type {body.document_type}"
            )
        )
    return used[1]


@routes.add(
    "GET",
    "/api/registrations",
    summary="Active real-name registrations (ID masked)",
    roles=OWNER,
    tag="registration",
)
async def list_registrations(call: Call) -> web.Response:
    ctx = call.ctx
    return web.json_response([_registration_json(r) for r in ctx.registrations.active()])


@routes.add(
    "POST",
    "/api/registrations",
    summary="Register the person responsible (resident ID, passport or HK/Macao/Taiwan permit; "
    "plus USCC for organisations)",
    roles=OWNER,
    tag="registration",
    body=RegistrationBody,
    responses={201: "Registered", 422: "A field is invalid (says which check failed)"},
)
async def add_registration(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(RegistrationBody)
    try:
        reg = ctx.registrations.add(
            body.kind,
            body.name,
            _document_number(body),
            body.uscc,
            actor=call.actor,
            document_type=body.document_type,
            country=body.country,
            organisation=body.organisation,
        )
    except RegistrationError as err:
        raise _refused(err) from None
    return web.json_response(_registration_json(reg), status=201)


@routes.add(
    "POST",
    "/api/registrations/{registration_id}/revoke",
    summary="Revoke a registration; streams that depended on it stop at once",
    roles=OWNER,
    tag="registration",
    body=RevokeBody,
    responses={200: "Revoked", 409: "Revoked already"},
)
async def revoke_registration(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(RevokeBody)
    registration_id = call.param("registration_id")
    try:
        reg = ctx.registrations.revoke(registration_id, body.reason, actor=call.actor)
    except UnknownRegistration:
        raise ApiError(404, "unknown_registration", "no such registration") from None
    except RegistrationError as err:
        raise ApiError(409, "already_revoked", str(err)) from None
    return web.json_response(_registration_json(reg))


def _hours_text(body: NoticeBody) -> str:
    both = f"{body.hours.describe('zh')} / {body.hours.describe('en')}"
    limit = MAX_LENGTHS["streaming_hours"]
    if len(both) <= limit:
        return both
    if len(body.hours.describe("en")) <= limit:
        return body.hours.describe("en")
    raise ApiError(422, "invalid_input", "hours: too many windows to print on the sign")


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/notices",
    summary="Generate the posted-notice sign (A4 PDF, zh-CN + en, QR code to the notice page)",
    roles=OWNER,
    tag="notice",
    body=NoticeBody,
    responses={
        201: "Sign generated; print, post, then attest",
        422: "A field is invalid, or the public URL is one a customer's phone cannot open "
        "(unreachable_public_url, with the check that failed; reason in the Accept-Language)",
    },
)
async def create_notice(call: Call) -> web.Response:
    ctx = call.ctx
    camera = call.camera
    body = await call.body(NoticeBody)
    try:
        base = check_public_url(body.public_url or ctx.config.streaming.public_url)
    except PublicUrlError as err:
        raise ApiError(
            422, "unreachable_public_url", err.message(call.lang), extra={"check": err.check}
        ) from None
    notice_id = new_notice_id()
    url = f"{base}/notice/{notice_id}"
    config = ctx.config
    try:
        info = NoticeInfo(
            notice_id=notice_id,
            operator=body.operator,
            purpose=body.purpose,
            contact=body.contact,
            streaming_hours=_hours_text(body),
            notice_url=url,
            camera_name=camera.name,
            statement=PrivacyStatement(config.privacy.method, config.storage.retention_days),
        )
    except ValueError as err:
        raise ApiError(422, "invalid_input", str(err)) from None
    pdf = ctx.paths.notices / f"{notice_id}.pdf"
    try:
        await asyncio.get_running_loop().run_in_executor(None, render_notice_pdf, info, pdf)
    except ValueError as err:
        raise ApiError(422, "invalid_input", str(err)) from None
    notice = ctx.controller.gates.add_notice(
        notice_id,
        camera.id,
        operator=body.operator,
        purpose=body.purpose,
        contact=body.contact,
        hours=body.hours,
        url=url,
        pdf_path=ctx.paths.relative(pdf),
        actor=call.actor,
    )
    return web.json_response(
        {
            **notice.to_json(),
            "sign": f"/api/notices/{notice_id}/sign.pdf",
            "preview": f"/api/notices/{notice_id}/sign.png",
        },
        status=201,
    )


def _owned_notice(call: Call) -> PostedNotice:
    ctx = call.ctx
    notice = ctx.controller.gates.notice(call.param("notice_id"))
    if notice is None or notice.camera_id not in ctx.controller.cameras:
        raise ApiError(404, "unknown_notice", "no such notice")
    return notice


@routes.add(
    "GET",
    "/api/notices/{notice_id}/sign.pdf",
    summary="Download the sign to print",
    roles=OWNER,
    tag="notice",
    content="application/pdf",
    responses={200: "The sign (PDF)", 410: "The sign file is gone"},
)
async def notice_sign(call: Call) -> web.StreamResponse:
    ctx = call.ctx
    notice = _owned_notice(call)
    path = ctx.paths.absolute(notice.pdf_path)
    if not path.is_file():
        raise ApiError(410, "sign_missing", "the sign file is gone; generate a new notice")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="notice-{notice.id}.pdf"',
        },
    )


@routes.add(
    "GET",
    "/api/notices/{notice_id}/sign.png",
    summary="Preview the sign: its page as a PNG image (96 dpi), to show before printing",
    roles=OWNER,
    tag="notice",
    content="image/png",
    responses={200: "The page", 410: "The sign file is gone", 503: "Cannot render here"},
)
async def notice_sign_preview(call: Call) -> web.Response:
    ctx = call.ctx
    notice = _owned_notice(call)
    path = ctx.paths.absolute(notice.pdf_path)
    if not path.is_file():
        raise ApiError(410, "sign_missing", "the sign file is gone; generate a new notice")
    try:
        png = await asyncio.get_running_loop().run_in_executor(None, render_preview_png, path)
    except RuntimeError as err:
        raise ApiError(503, "preview_unavailable", str(err)) from None
    return web.Response(body=png, content_type="image/png")


@routes.add(
    "POST",
    "/api/notices/{notice_id}/attest",
    summary="Attest that the sign is posted (repeat at least every notice_reconfirm_days)",
    roles=OWNER,
    tag="notice",
    body=AttestBody,
    responses={200: "Attested", 409: "The notice was replaced by a newer one"},
)
async def attest_notice(call: Call) -> web.Response:
    ctx = call.ctx
    await call.body(AttestBody)
    notice = _owned_notice(call)
    if notice.withdrawn_at is not None:
        raise ApiError(409, "notice_withdrawn", "this notice was replaced by a newer one")
    notice = ctx.controller.gates.attest_notice(notice.id, call.actor)
    return web.json_response(notice.to_json())


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/consents",
    summary="Record that guardians consented to live viewing (kindergarten)",
    roles=OWNER,
    tag="kindergarten",
    body=ConsentBody,
    responses={201: "Recorded"},
)
async def add_consent(call: Call) -> web.Response:
    ctx = call.ctx
    camera = call.camera
    body = await call.body(ConsentBody)
    end = datetime.combine(body.valid_until, time.max, ctx.controller.tz).timestamp()
    if end <= ctx.clock.wall():
        raise ApiError(422, "invalid_input", "valid_until: the date has passed")
    consent = ctx.controller.gates.add_consent(
        camera.id, body.reference, body.guardians, end, call.actor
    )
    return web.json_response(consent.to_json(), status=201)


@routes.add(
    "POST",
    "/api/consents/{consent_id}/revoke",
    summary="Revoke a guardian consent record; the camera's stream stops if it was the last",
    roles=OWNER,
    tag="kindergarten",
)
async def revoke_consent(call: Call) -> web.Response:
    ctx = call.ctx
    try:
        consent = ctx.controller.gates.revoke_consent(call.param("consent_id"), actor=call.actor)
    except LookupError:
        raise ApiError(404, "unknown_consent", "no such consent record in force") from None
    return web.json_response(consent.to_json())
