"""The site with two kindergarten devices, all real: mosquitto with deploy/mosquitto's config
and ACL, two owner-API servers (devices kg1 and kg2) linked to the site, and ``site_app``'s own
server. No relay here (``test_site_relay`` has one): a ticket the device would issue is refused
``not_on_relay`` by the device, which shows the request reached the device and passed its rules.

kg1 films Sunflower (kg-a) and Rainbow (kg-b); kg2 films Sunflower's nap room (kg-c) and Moon
(kg-d). One parent of Sunflower has one site login.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit.api import Client, RunningApi
from testkit.broker import MqttBroker, publish_and_wait
from testkit.clock import FakeClock
from testkit.gates import audit_events
from testkit.net import wait_until
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
    accept_terms,
    site_config_file,
)

DAY = 86400.0


def parent_of(site: RunningSite, staff: Client, username: str, rooms: list[str]) -> str:
    """A parent account with a grant of ``rooms`` (every day, 30 days); returns its id."""
    made = staff.post(
        "/api/accounts", {"username": username, "password": PARENT_PASSWORD, "role": "parent"}
    )
    assert made.status == 201, made.body
    granted = staff.put(
        f"/api/grants/{made.body['id']}",
        {"rooms": rooms, "schedule": EVERY_DAY, "expires_at": time.time() + 30 * DAY},
    )
    assert granted.status == 200, granted.body
    accept_terms(site.login(username, PARENT_PASSWORD))
    return str(made.body["id"])


def test_staff_see_the_devices_and_their_rooms(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    rooms = staff.get("/api/rooms").body
    assert {room: [(c["device"], c["camera"]) for c in cams] for room, cams in rooms.items()} == {
        "Moon": [("kg2", "kg-d")],
        "Rainbow": [("kg1", "kg-b")],
        "Sunflower": [("kg1", "kg-a"), ("kg2", "kg-c")],
    }
    listed = staff.get("/api/devices").body
    assert [(d["id"], d["online"], len(d["cameras"])) for d in listed] == [
        ("kg1", True, 2),
        ("kg2", True, 2),
    ]
    # parents may not manage the site
    site.add_account("parent-x", PARENT_PASSWORD, "parent")
    parent = site.login("parent-x", PARENT_PASSWORD)
    assert parent.get("/api/rooms").status == 403
    assert parent.post("/api/accounts", {"username": "y", "password": "z" * 12}).status == 403
    assert site.client().get("/api/me").status == 401


def test_one_parent_login_for_their_room_on_each_device(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    kg1, kg2 = devices
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = parent_of(site, staff, "li", ["Sunflower"])
    wang = parent_of(site, staff, "wang", ["Rainbow"])
    # each device holds the grants of the rooms it films, and only those
    assert site.acknowledged("kg1", {li, wang})
    assert site.acknowledged("kg2", {li})
    held = {v.username for v in kg2.server.live.controller.viewers.all()}  # type: ignore[union-attr]
    assert held == {f"site:{li}"}

    parent = site.login("li", PARENT_PASSWORD)
    me = parent.get("/api/me").body
    assert [(c["device"], c["camera"], c["room"]) for c in me["cameras"]] == [
        ("kg1", "kg-a", "Sunflower"),
        ("kg2", "kg-c", "Sunflower"),
    ]
    # the devices decide: every rule passes, and the ticket is refused only for want of a relay
    for device, camera in (("kg1", "kg-a"), ("kg2", "kg-c")):
        reply = parent.post(f"/api/watch/{device}/{camera}")
        assert (reply.status, reply.error) == (403, "not_on_relay"), reply.body
    # other rooms, on either device: the site refuses without asking
    for device, camera in (("kg1", "kg-b"), ("kg2", "kg-d"), ("kg2", "kg-a"), ("kg9", "kg-a")):
        reply = parent.post(f"/api/watch/{device}/{camera}")
        assert (reply.status, reply.error) == (403, "wrong_camera"), (camera, reply.body)
    # staff do not watch through the site
    assert staff.post("/api/watch/kg1/kg-a").status == 403

    # the grant withdrawn: both devices revoke the parent's viewer, audited on each
    assert staff.call("DELETE", f"/api/grants/{li}").status == 200
    assert site.acknowledged("kg1", {wang}) and site.acknowledged("kg2", set())
    for device in (kg1, kg2):
        revoked = [e for e in audit_events(device) if e["event"] == "viewer_revoked"]
        assert [(e["viewer"], e["reason"]) for e in revoked] == [
            (f"site:{li}", "withdrawn by the site")
        ]
    assert parent.post("/api/watch/kg1/kg-a").error == "wrong_camera"


def test_a_camera_id_two_devices_use_is_shown_and_watched_by_nobody(
    site: RunningSite, devices: tuple[RunningApi, RunningApi], mqtt_broker: MqttBroker
) -> None:
    """The relay's room is the camera id: a third device (a bare MQTT client with its own
    certificate, as the ACL lets it speak for itself) that also calls its camera kg-a would
    share kg1's room. Staff see it on the devices page; the site asks no ticket for kg-a
    until one is renamed, and kg2's Sunflower camera is not affected."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = parent_of(site, staff, "li", ["Sunflower"])
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    parent = site.login("li", PARENT_PASSWORD)
    kg3 = mqtt_broker.client("kg3")
    cameras = {"device": "kg3", "cameras": [
        {"id": "kg-a", "name": "Hall", "room": "Hall", "profile": "kindergarten"}
    ]}  # fmt: skip
    published = publish_and_wait(kg3, "site/kg3/up/cameras", json.dumps(cameras), retain=True)
    assert not published.is_failure
    assert wait_until(lambda: site.service.directory.clashes() == {"kg-a": ["kg1", "kg3"]}, 10)
    listed = {d["id"]: d["cameras"] for d in staff.get("/api/devices").body}
    assert [(c["id"], c["clash"]) for c in listed["kg1"]] == [("kg-a", ["kg3"]), ("kg-b", [])]
    assert [(c["id"], c["clash"]) for c in listed["kg3"]] == [("kg-a", ["kg1"])]
    clash = parent.post("/api/watch/kg1/kg-a")
    assert (clash.status, clash.error) == (409, "camera_id_clash"), clash.body
    assert "kg1, kg3" in clash.body["reason"]
    assert parent.post("/api/watch/kg2/kg-c").error == "not_on_relay"  # asked, as before
    # kg3 renames its camera: kg-a is kg1's alone again
    cameras["cameras"][0]["id"] = "kg-hall"
    renamed = publish_and_wait(kg3, "site/kg3/up/cameras", json.dumps(cameras), retain=True)
    assert not renamed.is_failure
    assert wait_until(lambda: site.service.directory.clashes() == {}, 10)
    assert parent.post("/api/watch/kg1/kg-a").error == "not_on_relay"
    publish_and_wait(kg3, "site/kg3/up/cameras", b"", retain=True)  # leave no retained message


def test_staff_pause_a_room_and_its_parents_are_cut_off_until_resumed(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    """Pausing Sunflower sends both devices the grants without it: each revokes li's viewer
    (audited, its relay tickets ended), no ticket is asked meanwhile; Rainbow's parent is not
    touched. Resumed, the devices take li's grant again and li may watch."""
    kg1, kg2 = devices
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = parent_of(site, staff, "li", ["Sunflower"])
    wang = parent_of(site, staff, "wang", ["Rainbow"])
    assert site.acknowledged("kg1", {li, wang}) and site.acknowledged("kg2", {li})
    parent, other = site.login("li", PARENT_PASSWORD), site.login("wang", PARENT_PASSWORD)

    assert staff.post("/api/rooms/Sunflower/pause", {}).body == {
        "room": "Sunflower",
        "paused": True,
        "ends_at": None,  # until staff resume it
    }
    assert site.acknowledged("kg1", {wang}) and site.acknowledged("kg2", set())
    refused = parent.post("/api/watch/kg1/kg-a")
    assert (refused.status, refused.error) == (409, "room_paused")
    assert other.post("/api/watch/kg1/kg-b").error == "not_on_relay"  # Rainbow: asked as before
    assert [c["paused"] for c in parent.get("/api/me").body["cameras"]] == [True, True]
    listed = next(a for a in staff.get("/api/accounts").body if a["id"] == li)
    assert [(d["device"], d["state"]) for d in listed["devices"]] == [
        ("kg1", "paused"),
        ("kg2", "paused"),
    ]
    (pause,) = staff.get("/api/rooms/paused").body
    assert (pause["room"], pause["paused_by"]) == ("Sunflower", STAFF)
    for device in (kg1, kg2):
        revoked = [e for e in audit_events(device) if e["event"] == "viewer_revoked"]
        assert [e["viewer"] for e in revoked] == [f"site:{li}"]
    # bad requests change nothing
    assert staff.post("/api/rooms/Sunflower/pause", {}).error == "already_paused"
    assert staff.post("/api/rooms/Attic/pause", {}).status == 404
    assert staff.post("/api/rooms/Rainbow/resume", {}).error == "not_paused"
    assert parent.post("/api/rooms/Sunflower/resume", {}).status == 403

    assert staff.post("/api/rooms/Sunflower/resume", {}).body["paused"] is False
    assert site.acknowledged("kg1", {li, wang}) and site.acknowledged("kg2", {li})
    for device, camera in (("kg1", "kg-a"), ("kg2", "kg-c")):
        assert parent.post(f"/api/watch/{device}/{camera}").error == "not_on_relay"
    events = [r["event"] for r in staff.get("/api/audit?limit=100").body["records"]]
    assert events.index("site_room_resumed") < events.index("site_room_paused")  # newest first


def test_a_pause_for_some_minutes_ends_by_itself(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    """Sunflower paused for 15 minutes: the parents are cut off as by any pause; when the
    minutes are up the site resumes it by itself (audited, actor ``site``) and the devices take
    the grants again. Lengths out of range are refused and pause nothing."""
    clock = site.service.clock
    assert isinstance(clock, FakeClock)
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = parent_of(site, staff, "li", ["Sunflower"])
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    for bad in ({"minutes": 0}, {"minutes": 721}, {"minutes": "soon"}, {"until": 5}):
        refused = staff.post("/api/rooms/Sunflower/pause", bad)
        assert (refused.status, refused.error) == (422, "invalid_body"), bad
    assert staff.get("/api/rooms/paused").body == []

    paused = staff.post("/api/rooms/Sunflower/pause", {"minutes": 15})
    assert paused.status == 200 and paused.body["ends_at"] == clock.wall() + 900
    assert site.acknowledged("kg1", set()) and site.acknowledged("kg2", set())
    (pause,) = staff.get("/api/rooms/paused").body
    assert pause["ends_at"] == paused.body["ends_at"]
    cameras = site.login("li", PARENT_PASSWORD).get("/api/me").body["cameras"]
    assert [(c["paused"], c["paused_until"]) for c in cameras] == [(True, pause["ends_at"])] * 2
    clock.advance(899)
    time.sleep(1.5)  # a check or more: not over yet
    assert [p["room"] for p in staff.get("/api/rooms/paused").body] == ["Sunflower"]
    clock.advance(1)
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    assert staff.get("/api/rooms/paused").body == []
    records = staff.get("/api/audit?limit=100").body["records"]
    resumed = [r for r in records if r["event"] == "site_room_resumed"]
    assert [(r["actor"], r["details"]) for r in resumed] == [
        ("site", {"room": "Sunflower", "timed": True})
    ]
    (made,) = [r for r in records if r["event"] == "site_room_paused"]
    assert made["details"] == {"room": "Sunflower", "minutes": 15}
    # paused again after that: a new pause, not "paused already"
    assert staff.post("/api/rooms/Sunflower/pause", {"minutes": 5}).status == 200


def test_a_device_that_does_not_answer(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    kg2 = devices[1]
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = parent_of(site, staff, "li", ["Sunflower"])
    assert site.acknowledged("kg2", {li})
    kg2.server.stop()  # its link says offline on the way out
    deadline = time.monotonic() + 5
    while site.service.directory.devices["kg2"].online and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not site.service.directory.devices["kg2"].online
    parent = site.login("li", PARENT_PASSWORD)
    assert [c["online"] for c in parent.get("/api/me").body["cameras"]] == [True, False]
    started = time.monotonic()
    reply = parent.post("/api/watch/kg2/kg-c")
    assert (reply.status, reply.error) == (504, "device_unreachable")
    assert time.monotonic() - started < 10
    assert parent.post("/api/watch/kg1/kg-a").error == "not_on_relay"  # the other still answers


@pytest.mark.slow
def test_camera_site_run_serves_the_page_and_stops_on_sigterm(
    mqtt_broker: MqttBroker, tmp_path: Path
) -> None:
    """``camera-site run`` as a process, as its systemd unit would run it."""
    path = site_config_file(mqtt_broker, tmp_path)
    command = [sys.executable, "-m", "site_app.cli", "run", "--config", str(path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the first line says where it listens
        assert line.startswith("site listening on http://127.0.0.1:"), line
        client = Client(line.split()[-1])
        page = client.get("/")
        assert page.status == 200 and b"site.js" in page.raw
        assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
        assert client.get("/whep.js").status == 200  # the owner app's WebRTC client
        assert client.get("/api/me").status == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_site_follows_each_devices_audit_trail(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    """Each device's hash-chained log reaches the site, which keeps it once the chain checks;
    the grant the site pushed is in the trail of each device that took it."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = parent_of(site, staff, "li", ["Sunflower"])
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    for device in devices:
        device_id = device.config.site.device_id
        conn = device.db()
        try:
            head = conn.execute("SELECT seq, hash FROM audit_head").fetchone()
        finally:
            conn.close()
        deadline = time.monotonic() + 10
        while site.service.trails.state(device_id).seq < head[0] and time.monotonic() < deadline:
            time.sleep(0.1)
        trail = staff.get(f"/api/devices/{device_id}/audit?limit=500").body
        assert trail["broken"] is None and trail["seq"] >= head[0]
        kept = trail["records"][-head[0] :][::-1]
        assert [r["seq"] for r in kept] == list(range(1, head[0] + 1))
        assert kept[head[0] - 1]["hash"] == head[1]
        events = {(r["event"], r["details"].get("viewer")) for r in trail["records"]}
        assert ("viewer_invited", f"site:{li}") in events
    assert staff.get("/api/devices/kg9/audit").status == 404
    assert site.login("li", PARENT_PASSWORD).get("/api/devices/kg1/audit").status == 403


def test_password_guessing_is_refused_before_argon2(site: RunningSite) -> None:
    """The device's login limiter: 5 failures per account and address in 15 minutes, then 429
    with Retry-After (the right password too); another account is not locked out."""
    site.add_account("li", PARENT_PASSWORD, "parent")
    site.add_account("wang", PARENT_PASSWORD, "parent")
    guest = site.client()
    for _ in range(5):
        wrong = guest.post("/api/login", {"username": "li", "password": "guess-guess-1"})
        assert (wrong.status, wrong.error) == (401, "bad_login")
    locked = guest.post("/api/login", {"username": "li", "password": PARENT_PASSWORD})
    assert (locked.status, locked.error) == (429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert guest.post("/api/login", {"username": "wang", "password": PARENT_PASSWORD}).status == 200
    clock = site.service.clock
    assert isinstance(clock, FakeClock)
    clock.advance(901)
    assert guest.post("/api/login", {"username": "li", "password": PARENT_PASSWORD}).status == 200


def test_a_parents_grant_waits_for_the_viewing_terms(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    """The site shows the parent the device's viewing terms; their grant goes to the devices
    only once they accepted them (the devices record the consent with its version)."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    made = staff.post(
        "/api/accounts", {"username": "li", "password": PARENT_PASSWORD, "role": "parent"}
    )
    li = str(made.body["id"])
    body = {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_at": time.time() + DAY}
    assert staff.put(f"/api/grants/{li}", body).status == 200
    assert site.acknowledged("kg1", set())
    parent = site.login("li", PARENT_PASSWORD)
    terms = parent.get("/api/me").body["terms"]
    assert (
        terms["required"] is True and "viewing hours" in terms["en"] and "观看时段" in terms["zh"]
    )
    assert parent.post("/api/watch/kg1/kg-a").error == "terms_required"
    assert parent.post("/api/terms", {"version": "1999-01"}).error == "terms_changed"
    assert parent.post("/api/terms", {"version": terms["version"]}).status == 200
    assert parent.get("/api/me").body["terms"]["required"] is False
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    viewer = devices[0].server.live.controller.viewers.by_username(f"site:{li}")  # type: ignore[union-attr]
    assert viewer is not None and viewer.consent_at is not None
    assert parent.post("/api/watch/kg1/kg-a").error == "not_on_relay"  # the device's rules pass
