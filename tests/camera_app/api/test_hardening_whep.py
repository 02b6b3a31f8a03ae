"""Hostile and careless live viewers against the real server (issue 15, findings 3, 6, 7, 10).

- Limits hold under concurrency: a slot is reserved before the server awaits anything, an
  offer whose connection never comes up frees its slot after the negotiation timeout, and the
  owner keeps a slot no audience can take.
- A WHEP session ends with the login that opened it (logout, expiry, password change, a session
  ended from another device).
- Every member of a public audience has slots of their own, one link's audience is capped, and a
  session can be ended only by the login that opened it (or by the owner).
- The relay, which cannot tell viewers apart, is refused wherever viewers have rules of their own.

The server is the real one (``testkit.api``) on loopback; viewers that must receive frames are
real aiortc peers (``testkit.webrtc``). Offers whose answer is never applied stand for a client
that negotiates and then never connects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from camera_app.config.loader import parse_config
from streaming.hub import FrameHub
from streaming.limits import Seat, ViewerLimits, refusal
from streaming.whep import SessionRefused, ViewerSessions
from testkit.api import ApiFactory, Client, Reply, RunningApi
from testkit.concurrency import all_at_once
from testkit.gates import (
    FAMILY_PASSWORD,
    audience_member,
    audit_events,
    ended_sessions,
    invite_family,
    live_shop,
    opt_in,
    public_link,
    register,
)
from testkit.webrtc import GatedCamera, Receiver, server_hub, solid

W, H = 320, 240
GREEN = (40, 200, 60)  # BGR


# --- helpers -------------------------------------------------------------------------------------


def post_offer(client: Client, camera: str, sdp: str) -> Reply:
    return client.call(
        "POST", f"/api/cameras/{camera}/whep", raw=sdp.encode(), content_type="application/sdp"
    )


def offer_sdp() -> str:
    """An offer to receive video, from a peer that is closed at once: the server answers it,
    and its connection never comes up."""

    async def make() -> str:
        viewer = Receiver()
        try:
            return await viewer.offer()
        finally:
            await viewer.close()

    return asyncio.run(make())


def live_sessions(api: RunningApi) -> int:
    assert api.server.context is not None
    return len(api.server.context.live.viewer_sessions)


def live_home(start_api: ApiFactory, **streaming: object) -> tuple[RunningApi, Client]:
    """A home camera ``cam1`` streaming, and its owner."""
    api = start_api({"streaming": dict(streaming), "api": {"session_hours": 1}})
    owner = api.owner()
    opt_in(owner, "cam1")
    register(owner, "owner")
    assert owner.post("/api/cameras/cam1/streaming/start").status == 200
    return api, owner


# --- finding 3: limits under concurrency, negotiation timeout, the owner's reserve ---------------


def test_concurrent_offers_of_one_viewer_get_only_their_slots(start_api: ApiFactory) -> None:
    api, owner = live_shop(start_api)
    member = audience_member(api, public_link(owner))
    sdp = offer_sdp()
    replies = all_at_once([lambda: post_offer(member, "counter", sdp) for _ in range(10)])
    statuses = sorted(r.status for r in replies)
    assert statuses == [201, 201] + [429] * 8, statuses
    assert {r.error for r in replies if r.status == 429} == {"account_full"}
    assert live_sessions(api) == 2


def test_concurrent_offers_of_an_audience_leave_the_owner_a_slot(start_api: ApiFactory) -> None:
    api, owner = live_shop(start_api)
    links = [public_link(owner, "website"), public_link(owner, "window sticker")]
    members = [audience_member(api, links[i % 2]) for i in range(8)]
    sdp = offer_sdp()
    replies = all_at_once([lambda m=m: post_offer(m, "counter", sdp) for m in members * 2])
    assert sum(r.status == 201 for r in replies) == 3  # per_camera 4, one kept for the owner
    assert live_sessions(api) == 3
    mine = post_offer(owner, "counter", sdp)
    assert mine.status == 201, mine.body
    assert post_offer(owner, "counter", sdp).error == "camera_full"  # all 4 taken now


def test_a_session_that_never_connects_frees_its_slot(start_api: ApiFactory) -> None:
    api, owner = live_home(start_api, viewers={"negotiation_timeout_s": 1.0})
    invite_family(api, owner)
    grandma = api.client().login("grandma", FAMILY_PASSWORD)
    sdp = offer_sdp()
    publisher = GatedCamera(server_hub(api), solid(W, H, GREEN))
    try:
        asyncio.run(_never_connects(api, owner, grandma, sdp))
    finally:
        publisher.stop()
    reasons = [e["reason"] for e in audit_events(api) if e["event"] == "session_ended"]
    assert reasons.count("not connected within 1 s") >= 2, reasons


async def _never_connects(api: RunningApi, owner: Client, grandma: Client, sdp: str) -> None:
    viewer = Receiver()  # the owner's connected session must outlive the timeout
    try:
        reply = await asyncio.to_thread(post_offer, owner, "cam1", await viewer.offer())
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        await viewer.frame(timeout=20)

        for _ in range(2):  # grandma's two slots, held by offers that never connect
            assert (await asyncio.to_thread(post_offer, grandma, "cam1", sdp)).status == 201
        full = await asyncio.to_thread(post_offer, grandma, "cam1", sdp)
        assert full.status == 429 and full.error == "account_full"
        deadline = time.monotonic() + 10
        while live_sessions(api) > 1:
            assert time.monotonic() < deadline, "unconnected sessions kept their slots"
            await asyncio.sleep(0.05)
        again = await asyncio.to_thread(post_offer, grandma, "cam1", sdp)
        assert again.status == 201, again.body
        await viewer.frame(timeout=5)  # still watching: connected sessions have no deadline
    finally:
        await viewer.close()


def test_the_owners_reserve_and_the_limits_as_rules() -> None:
    limits = ViewerLimits(per_camera=4, owner_reserve=1, per_account=2, per_public_link=2)

    def public(login: str, link: str = "l1") -> Seat:
        return Seat("cam", "public:l1", f"login:{login}", login, link)

    def code(taken: list[Seat], seat: Seat) -> str | None:
        refused = refusal(taken, seat, limits)
        return refused[0] if refused else None

    owner = Seat("cam", "owner", "account:owner", "o1", owner=True)
    audience = [public("a"), public("b"), public("c", "l2")]
    assert code([], public("a")) is None
    assert code(audience, public("d", "l2")) == "camera_full"  # 3 of 4: one kept for the owner
    assert code(audience, owner) is None
    assert code([*audience, owner], owner) == "camera_full"  # 4 of 4
    assert code([owner, public("a")], public("b")) is None  # the owner's sessions are not theirs
    assert code([public("a"), public("b")], public("c")) == "link_full"
    assert code([public("a"), public("a")], public("a", "l2")) == "account_full"
    assert code([Seat("other", "x", "x")] * 4, public("a")) is None  # another camera's
    with pytest.raises(ValueError, match="owner_reserve"):
        ViewerLimits(per_camera=2, owner_reserve=2)


def test_an_offer_being_answered_when_its_login_ends_is_refused() -> None:
    asyncio.run(_login_ends_while_answering(offer_sdp()))


async def _login_ends_while_answering(sdp: str) -> None:
    sessions = ViewerSessions(FrameHub(asyncio.get_running_loop()))
    try:
        answering = asyncio.ensure_future(
            sessions.open("cam", "grandma", sdp, holder="account:grandma", login="phone")
        )
        await asyncio.sleep(0)  # the slot is taken; the answer is being made
        assert sessions.end_matching(lambda seat: seat.login == "tablet", "login ended") == 0
        assert sessions.end_matching(lambda seat: seat.login == "phone", "login ended") == 1
        with pytest.raises(SessionRefused) as refused:
            await answering
        assert refused.value.code == "session_ended" and "login ended" in refused.value.reason
        assert len(sessions) == 0
        # its slot is free again
        _, answer = await sessions.open("cam", "grandma", sdp, login="tablet")
        assert answer.startswith("v=0")
    finally:
        await sessions.close_all("test over")


# --- finding 6: a stream ends with its login ------------------------------------------------------


def _logout(api: RunningApi, viewer: Client, other: Client) -> None:
    assert viewer.post("/api/logout").status == 204


def _expire(api: RunningApi, viewer: Client, other: Client) -> None:
    api.clock.advance(3600 + 1)  # session_hours: 1


def _password_changed_elsewhere(api: RunningApi, viewer: Client, other: Client) -> None:
    changed = other.post(
        "/api/account/password",
        {"current_password": FAMILY_PASSWORD, "new_password": "a-new-grandma-2027"},
    )
    assert changed.status == 200 and changed.body["sessions_ended"] == 1, changed.body


def _ended_from_another_device(api: RunningApi, viewer: Client, other: Client) -> None:
    mine = {s["id"] for s in other.get("/api/account/sessions").body if not s["current"]}
    (session_id,) = mine
    assert other.post(f"/api/account/sessions/{session_id}/end").status == 200


@pytest.mark.parametrize(
    ("end_login", "reason"),
    [
        (_logout, "logged out"),
        (_expire, "login expired"),
        (_password_changed_elsewhere, "login ended"),
        (_ended_from_another_device, "login ended"),
    ],
    ids=["logout", "expiry", "password_change", "end_by_id"],
)
def test_a_stream_ends_with_its_login(
    start_api: ApiFactory, end_login: Callable[[RunningApi, Client, Client], None], reason: str
) -> None:
    api, owner = live_home(start_api)
    invite_family(api, owner)
    watching = api.client().login("grandma", FAMILY_PASSWORD)
    other_device = api.client().login("grandma", FAMILY_PASSWORD)
    publisher = GatedCamera(server_hub(api), solid(W, H, GREEN))
    try:
        asyncio.run(
            _stream_ends(
                api,
                watching,
                lambda: end_login(api, watching, other_device),
                immediate=end_login is not _expire,
            )
        )
    finally:
        publisher.stop()
    assert api.led_on(), "the stream itself must still run: only the login ended"
    assert [e["reason"] for e in ended_sessions(api)] == [reason]


async def _stream_ends(
    api: RunningApi, viewer_login: Client, end_login: Callable[[], None], *, immediate: bool
) -> None:
    viewer = Receiver()
    try:
        reply = await asyncio.to_thread(post_offer, viewer_login, "cam1", await viewer.offer())
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        await viewer.frame(timeout=20)
        await asyncio.to_thread(end_login)
        if immediate:  # ended by the login's end itself, not a second later by the ticker
            assert live_sessions(api) == 0
        deadline = time.monotonic() + 10
        while live_sessions(api) or viewer.pc.connectionState not in ("closed", "failed"):
            assert time.monotonic() < deadline, "frames kept flowing after the login ended"
            await asyncio.sleep(0.05)
    finally:
        await viewer.close()


# --- finding 7: a public audience, member by member -----------------------------------------------


def test_public_audience_members_have_their_own_slots_and_sessions(
    start_api: ApiFactory,
) -> None:
    api, owner = live_shop(start_api, viewers={"per_camera": 6, "per_public_link": 3})
    link = public_link(owner)
    first, second, third = (audience_member(api, link) for _ in range(3))
    sdp = offer_sdp()
    mine = [post_offer(first, "counter", sdp) for _ in range(2)]
    assert [r.status for r in mine] == [201, 201]
    assert post_offer(first, "counter", sdp).error == "account_full"
    theirs = post_offer(second, "counter", sdp)
    assert theirs.status == 201, theirs.body  # was account_full: the link's name was shared
    capped = post_offer(third, "counter", sdp)  # per_public_link 3
    assert capped.status == 429 and capped.error == "link_full"

    # another member cannot end someone's session, even of the same link
    victim = mine[0].headers["Location"]
    refused = second.call("DELETE", victim)
    assert refused.status == 404 and refused.error == "unknown_session"
    assert live_sessions(api) == 3
    assert first.call("DELETE", victim).status == 200
    assert post_offer(third, "counter", sdp).status == 201
    # the owner may end anyone's
    assert owner.call("DELETE", theirs.headers["Location"]).status == 200
    assert live_sessions(api) == 2


def test_an_accounts_session_is_ended_only_by_its_own_login(start_api: ApiFactory) -> None:
    api, owner = live_home(start_api)
    invite_family(api, owner)
    phone = api.client().login("grandma", FAMILY_PASSWORD)
    tablet = api.client().login("grandma", FAMILY_PASSWORD)
    reply = post_offer(phone, "cam1", offer_sdp())
    assert reply.status == 201, reply.body
    assert tablet.call("DELETE", reply.headers["Location"]).status == 404
    assert phone.call("DELETE", reply.headers["Location"]).status == 200


# --- finding 10: relay viewers under the device's rules ------------------------------------------
# The relay once knew one viewer token shared by all, so it was refused for home and kindergarten.
# Viewers now need a per-viewer, per-camera ticket the device signs, which ends with their window
# and which the device revokes (tests/streaming/test_relay_tickets.py,
# tests/camera_app/live/test_relay_viewers.py): every profile may use a relay.


RELAY = {"whip_url": "https://relay.example/whip/endpoint/{camera}", "token_file": "/t"}


@pytest.mark.parametrize("profile", ["home", "kindergarten", "merchant"])
def test_every_profile_may_use_a_relay_now_that_viewers_need_tickets(profile: str) -> None:
    config = parse_config({"streaming": {"profile": profile, "relay": RELAY}})
    assert config.streaming.relay.viewer_endpoint("porch").endswith("/whep/endpoint/porch")
