"""The device's link to a site, over the real mosquitto with deploy/mosquitto's config and ACL:
the device publishes its cameras, takes the site's grants as viewers of origin ``site`` (audited)
and answers ticket requests under its own rules; the ACL keeps each device to its own topics.

The real owner API plays the device (a kindergarten with rooms Sunflower and Rainbow, kg-a
streaming, no relay: a ticket it would issue is refused ``not_on_relay`` here, and issued in
``test_site_relay``); the site is a paho client with the site's certificate (``testkit.site``).
"""

from __future__ import annotations

import json

import pytest

from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory, Client, RunningApi
from testkit.broker import Collector, MqttBroker, publish_and_wait
from testkit.gates import KG_CAMERAS, audit_events, ready_kindergarten
from testkit.site import SiteClient, device_site_config, parent_grant

DEVICE = "kg1"
HOUR = 3600.0


def kindergarten_at_site(
    start_api: ApiFactory, broker: MqttBroker, device_id: str = DEVICE, **streaming: object
) -> tuple[RunningApi, Client]:
    """A kindergarten device (kg-a streaming) linked to the site on ``broker``."""
    api = start_api(
        {
            "streaming": {
                "profile": "kindergarten",
                "live_childcare_viewing_permitted": True,
                **streaming,
            },
            "site": device_site_config(broker, device_id),
        },
        cameras=KG_CAMERAS,
    )
    owner = api.owner()
    ready_kindergarten(api, owner)
    assert owner.post("/api/cameras/kg-a/streaming/start").status == 200
    assert api.server.site is not None and api.server.site.wait_connected(10)
    return api, owner


@pytest.fixture
def device(start_api: ApiFactory, mqtt_broker: MqttBroker) -> RunningApi:
    return kindergarten_at_site(start_api, mqtt_broker)[0]


@pytest.fixture
def site(mqtt_broker: MqttBroker) -> SiteClient:
    return SiteClient(mqtt_broker, DEVICE)


def test_the_device_publishes_its_cameras_and_nothing_personal(
    device: RunningApi, site: SiteClient
) -> None:
    got = site.cameras.wait_for(1, timeout=5)
    assert got and got[-1].retain
    published = json.loads(got[-1].payload)
    assert published == {
        "device": DEVICE,
        "cameras": [
            {
                "id": "kg-a",
                "name": "Sunflower room",
                "room": "Sunflower",
                "profile": "kindergarten",
            },
            {"id": "kg-b", "name": "Rainbow room", "room": "Rainbow", "profile": "kindergarten"},
        ],
    }


def test_grants_become_site_viewers_audited_and_follow_the_site(
    device: RunningApi, site: SiteClient
) -> None:
    now = device.clock.wall()
    li = parent_grant("acct-li", ["Sunflower"], now + 30 * 86400)
    wang = parent_grant("acct-wang", ["Rainbow"], now + 30 * 86400)
    nowhere = parent_grant("acct-zhao", ["Moon"], now + 30 * 86400)
    ack = site.push_grants(li, wang, nowhere)
    assert ack == {
        "accepted": {"acct-li": li.digest(), "acct-wang": wang.digest()},
        "refused": {"acct-zhao": "no_such_room"},
    }
    # the owner sees them among the viewers (and may revoke them as any other)
    owner = device.client().login(OWNER, OWNER_PASSWORD)
    viewers = {v["username"]: v for v in owner.get("/api/viewers").body}
    assert viewers["site:acct-li"]["rooms"] == ["Sunflower"]
    assert viewers["site:acct-li"]["watermark"] is True
    # changed, and withdrawn: the device follows, audited
    li2 = parent_grant("acct-li", ["Sunflower", "Rainbow"], now + 30 * 86400)
    ack = site.push_grants(li2)
    assert ack == {"accepted": {"acct-li": li2.digest()}, "refused": {}}
    events = [
        (e["event"], e.get("viewer"), e.get("origin"))
        for e in audit_events(device)
        if e["event"] in ("viewer_invited", "site_grant_changed", "viewer_revoked")
    ]
    assert events == [
        ("viewer_invited", "site:acct-li", "site"),
        ("viewer_invited", "site:acct-wang", "site"),
        ("site_grant_changed", "site:acct-li", None),
        ("viewer_revoked", "site:acct-wang", None),
    ]
    assert all(e["actor"] == "site" for e in _audit_rows(device, "site_grant_changed"))


def _audit_rows(api: RunningApi, event: str) -> list[dict]:
    conn = api.db()
    try:
        rows = conn.execute("SELECT actor FROM audit WHERE event = ?", (event,)).fetchall()
    finally:
        conn.close()
    return [{"actor": r[0]} for r in rows]


def test_a_grant_the_owner_revoked_is_not_taken_again(device: RunningApi, site: SiteClient) -> None:
    grant = parent_grant("acct-li", ["Sunflower"], device.clock.wall() + 86400)
    site.push_grants(grant)
    owner = device.client().login(OWNER, OWNER_PASSWORD)
    viewer = next(v for v in owner.get("/api/viewers").body if v["username"] == "site:acct-li")
    assert owner.post(f"/api/viewers/{viewer['id']}/revoke", {"reason": "left"}).status == 200
    assert site.push_grants(grant)["refused"] == {"acct-li": "revoked_on_device"}
    reply = site.ask("acct-li", "kg-a", grant, device.clock.wall() + HOUR)
    assert (reply["ok"], reply["error"]) == (False, "revoked")


def test_a_grant_the_site_withdrew_can_be_given_again(device: RunningApi, site: SiteClient) -> None:
    """The site's own withdrawal is the site's to undo (a parent given a room again, an account
    enabled again): the same viewer is reinstated with the new grant, audited; the owner's
    revocation after that still sticks."""
    now = device.clock.wall()
    grant = parent_grant("acct-li", ["Sunflower"], now + 30 * 86400)
    site.push_grants(grant)
    assert site.push_grants()["accepted"] == {}  # withdrawn: the device revokes the viewer
    assert _error(site.ask("acct-li", "kg-a", grant, now + HOUR)) == "revoked"
    again = parent_grant("acct-li", ["Sunflower"], now + 60 * 86400)  # a new school year
    assert site.push_grants(again) == {"accepted": {"acct-li": again.digest()}, "refused": {}}
    assert _error(site.ask("acct-li", "kg-a", again, now + HOUR)) == "not_on_relay"  # allowed
    owner = device.client().login(OWNER, OWNER_PASSWORD)
    listed = [v for v in owner.get("/api/viewers").body if v["username"] == "site:acct-li"]
    assert [(v["rooms"], v["revoked_at"]) for v in listed] == [(["Sunflower"], None)]  # one
    events = [e["event"] for e in audit_events(device) if e.get("viewer") == "site:acct-li"]
    assert events[-3:] == ["viewer_revoked", "viewer_reinstated", "site_grant_changed"]
    # the owner revokes it now: that the site cannot undo
    assert owner.post(f"/api/viewers/{listed[0]['id']}/revoke", {"reason": "left"}).status == 200
    assert site.push_grants()["accepted"] == {}
    assert site.push_grants(again)["refused"] == {"acct-li": "revoked_on_device"}


def test_ticket_requests_are_decided_by_the_device(device: RunningApi, site: SiteClient) -> None:
    now = device.clock.wall()
    grant = parent_grant("acct-li", ["Sunflower"], now + 30 * 86400)
    site.push_grants(grant)
    login_ends = now + HOUR
    # allowed by every rule of the device: the only thing missing here is the relay
    assert _error(site.ask("acct-li", "kg-a", grant, login_ends)) == "not_on_relay"
    # the other room is not theirs
    assert _error(site.ask("acct-li", "kg-b", grant, login_ends)) == "wrong_camera"
    # a grant the device never accepted (the site claims both rooms): refused
    wider = parent_grant("acct-li", ["Sunflower", "Rainbow"], now + 30 * 86400)
    assert _error(site.ask("acct-li", "kg-b", wider, login_ends)) == "unknown_grant"
    assert _error(site.ask("acct-wu", "kg-a", grant, login_ends)) == "unknown_grant"
    assert _error(site.ask("acct-li", "kg-x", grant, login_ends)) == "unknown_camera"
    assert _error(site.ask("acct-li", "kg-a", grant, now - 1)) == "login_expired"
    # outside their hours (a schedule of mornings, it is 10:00 on a Monday: 10:00 is the end)
    mornings = {"windows": [{"days": ["mon"], "start": "07:00", "end": "10:00"}]}
    early = parent_grant("acct-li", ["Sunflower"], now + 86400, schedule=mornings)
    site.push_grants(early)
    assert _error(site.ask("acct-li", "kg-a", early, login_ends)) == "outside_viewing_hours"
    # a grant whose terms the parent did not accept (or an older version of them): no consent
    unsigned = parent_grant("acct-li", ["Sunflower"], now + 86400, terms=None)
    site.push_grants(unsigned)
    assert _error(site.ask("acct-li", "kg-a", unsigned, login_ends)) == "no_consent"
    # malformed requests are answered when they carry a request id, and change nothing
    bad = site.ask_raw(json.dumps({"request_id": "r1", "account": "a/b"}).encode())
    assert (bad["ok"], bad["error"]) == (False, "invalid_payload")
    assert not any(e["event"] == "relay_ticket_issued" for e in audit_events(device))


def _error(reply: dict) -> str:
    assert reply["ok"] is False and reply["ticket"] is None, reply
    return str(reply["error"])


def test_the_acl_keeps_a_device_to_its_own_topics(
    device: RunningApi, site: SiteClient, mqtt_broker: MqttBroker
) -> None:
    other = mqtt_broker.client("kg2")
    # it may not speak for kg1, nor forge a site message to kg1, nor read kg1's requests
    forged = json.dumps({"device": DEVICE, "cameras": []})
    assert publish_and_wait(other, f"site/{DEVICE}/up/cameras", forged).is_failure
    assert publish_and_wait(other, f"site/{DEVICE}/down/grants", b"{}").is_failure
    assert publish_and_wait(other, "site/kg2/down/ticket", b"{}").is_failure
    spy = Collector(other, f"site/{DEVICE}/#")
    site.push_grants(parent_grant("acct-li", ["Sunflower"], device.clock.wall() + 86400))
    assert spy.wait_for(1, timeout=1.5) == []
    # its own up/ is its own (positive control)
    assert not publish_and_wait(other, "site/kg2/up/cameras", forged).is_failure
    assert json.loads(site.cameras.messages[-1].payload)["device"] == DEVICE
