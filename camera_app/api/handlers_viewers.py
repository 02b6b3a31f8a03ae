"""Inviting and revoking viewers (family, parents), granting family viewers recordings, and public
viewing links (owner only)."""

from __future__ import annotations

from datetime import datetime, time

from aiohttp import web

from camera_app import accounts
from camera_app.api.context import ApiContext
from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.api.schemas import PublicLinkBody, RecordingGrantBody, RevokeBody, ViewerBody
from camera_app.monitor.grants import GrantError
from privacy.gates.roles import PROFILE_OF_ROLE, Profile, Role

routes = RouteTable()


def _check_grant(ctx: ApiContext, body: ViewerBody) -> None:
    """Refuse grants that point at nothing or miss what the role requires."""
    cameras = ctx.controller.cameras
    for camera_id in body.cameras:
        if camera_id not in cameras:
            raise ApiError(422, "invalid_input", f"cameras: no camera {camera_id!r} on this device")
    rooms = {c.room for c in cameras.values() if c.room}
    for room in body.rooms:
        if room not in rooms:
            raise ApiError(422, "invalid_input", f"rooms: no camera is in room {room!r}")
    if not body.cameras and not body.rooms:
        raise ApiError(422, "invalid_input", "cameras: name at least one camera or room")
    profile = PROFILE_OF_ROLE[body.role]
    covered = [c for c in cameras.values() if c.id in body.cameras or c.room in body.rooms]
    wrong = [c.id for c in covered if c.profile != profile]
    if wrong:
        raise ApiError(
            422,
            "invalid_input",
            f"cameras: {', '.join(wrong)} do not use the {profile} profile a {body.role} "
            "account is for",
        )
    if body.role == Role.PARENT:
        if body.schedule is None:
            raise ApiError(422, "invalid_input", "schedule: parents need viewing hours")
        if body.expires_on is None:
            raise ApiError(422, "invalid_input", "expires_on: parents need an end date")
        if not body.watermark:
            raise ApiError(
                422,
                "invalid_input",
                "watermark: a parent's stream always carries the watermark (their account and "
                "the time), so that a recording of other children can be traced; leave it out "
                "or send true",
            )


@routes.add(
    "GET", "/api/viewers", summary="Invited viewers and their grants", roles=OWNER, tag="viewers"
)
async def list_viewers(call: Call) -> web.Response:
    ctx = call.ctx
    grants = ctx.grants.all()
    return web.json_response(
        [
            {**v.to_json(), "recordings": list(grants.get(v.id, ()))}
            for v in ctx.controller.viewers.all()
        ]
    )


@routes.add(
    "POST",
    "/api/viewers",
    summary="Invite a family member or parent; returns the one-time invite code (shown once) and "
    "invite_path, the app's join link without the host (/#join=<code>)",
    roles=OWNER,
    tag="viewers",
    body=ViewerBody,
    responses={201: "Invited", 409: "Username taken"},
)
async def invite_viewer(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(ViewerBody)
    _check_grant(ctx, body)
    expires_at = None
    if body.expires_on is not None:
        expires_at = datetime.combine(body.expires_on, time.max, ctx.controller.tz).timestamp()
        if expires_at <= ctx.clock.wall():
            raise ApiError(422, "invalid_input", "expires_on: the date has passed")
    viewers = ctx.controller.viewers
    if accounts.username_taken(ctx.conn, body.username) or viewers.by_username(body.username):
        raise ApiError(409, "username_taken", "this username is already in use")
    viewer, code = viewers.invite(
        body.username,
        body.role,
        cameras=body.cameras,
        rooms=body.rooms,
        schedule=body.schedule,
        watermark=body.watermark,
        expires_at=expires_at,
        actor=call.actor,
    )
    # The code travels in the fragment, which browsers never send to a server: it stays out of
    # access logs and Referer headers; the app reads it and calls /api/invites/preview.
    return web.json_response(
        {**viewer.to_json(), "code": code, "invite_path": f"/#join={code}"}, status=201
    )


@routes.add(
    "POST",
    "/api/viewers/{viewer_id}/revoke",
    summary="Revoke a viewer; their sessions end at once",
    roles=OWNER,
    tag="viewers",
    body=RevokeBody,
)
async def revoke_viewer(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(RevokeBody)
    viewer = ctx.controller.viewers.revoke(call.param("viewer_id"), body.reason, actor=call.actor)
    if viewer is None:
        raise ApiError(404, "unknown_viewer", "no such viewer, or already revoked")
    ctx.sessions.end_for_subject(viewer.id)
    return web.json_response(viewer.to_json())


@routes.add(
    "GET",
    "/api/public-links",
    summary="Public viewing links (oldest first), revoked ones too; never their tokens; "
    "query: camera_id",
    roles=OWNER,
    tag="viewers",
    query={"camera_id": {"type": "string", "description": "Only this camera's links"}},
)
async def list_public_links(call: Call) -> web.Response:
    ctx = call.ctx
    camera_id = call.request.query.get("camera_id") or None
    if camera_id is not None and camera_id not in ctx.controller.cameras:
        raise ApiError(422, "invalid_input", f"camera_id: no camera {camera_id!r} on this device")
    links = ctx.controller.viewers.public_links(camera_id)
    return web.json_response(
        [{**link.to_json(), "revoked": link.revoked_at is not None} for link in links]
    )


@routes.add(
    "POST",
    "/api/viewers/{viewer_id}/recordings",
    summary="Set which cameras' recordings a family viewer may see (cameras of their invitation; "
    "[] for none, the default): events, snapshots and clips, never deleting (audited)",
    roles=OWNER,
    tag="viewers",
    body=RecordingGrantBody,
    responses={
        200: "The viewer with their recordings grant",
        404: "No such viewer",
        409: "The viewer is revoked or expired",
        422: "Not a family viewer, or a camera outside their invitation",
    },
)
async def grant_recordings(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(RecordingGrantBody)
    viewer = ctx.controller.viewers.get(call.param("viewer_id"))
    if viewer is None:
        raise ApiError(404, "unknown_viewer", "no such viewer")
    try:
        granted = ctx.grants.replace(viewer, body.cameras, ctx.controller.cameras, actor=call.actor)
    except GrantError as err:
        raise ApiError(
            409 if err.code == "viewer_inactive" else 422, err.code, err.reason
        ) from None
    return web.json_response({**viewer.to_json(), "recordings": list(granted)})


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/public-links",
    summary="Create a public viewing link for a merchant camera (token shown once)",
    roles=OWNER,
    tag="viewers",
    body=PublicLinkBody,
    responses={201: "Created"},
)
async def add_public_link(call: Call) -> web.Response:
    ctx = call.ctx
    camera = call.camera
    body = await call.body(PublicLinkBody)
    if camera.profile != Profile.MERCHANT:
        raise ApiError(422, "wrong_profile", "public links are only for merchant cameras")
    link, token = ctx.controller.viewers.add_public_link(camera.id, body.label, call.actor)
    return web.json_response({**link.to_json(), "link": token}, status=201)


@routes.add(
    "POST",
    "/api/public-links/{link_id}/revoke",
    summary="Revoke a public viewing link; its sessions end at once",
    roles=OWNER,
    tag="viewers",
)
async def revoke_public_link(call: Call) -> web.Response:
    ctx = call.ctx
    link = ctx.controller.viewers.revoke_public_link(call.param("link_id"), actor=call.actor)
    if link is None:
        raise ApiError(404, "unknown_link", "no such link, or already revoked")
    ctx.sessions.end_for_subject(link.id)
    return web.json_response(link.to_json())
