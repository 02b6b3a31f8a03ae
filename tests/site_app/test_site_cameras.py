"""A device with a ``cameras:`` list at a site, all real: ``camera-app run`` (a process) with two
``file:`` cameras in two rooms (``testkit.cameras``: the door in room "Front door", the yard in
room "Yard") and ``site:`` on, mosquitto with deploy/mosquitto's config and ACL, the site's own
server, and the relay (Janus and its front-end, trusting the device's ticket key).

The site lists both cameras of the one device, each under its own room; a parent of the Yard
gets, through the site, a ticket the device signed for the yard's camera only: the door is
refused by the site, and at the relay the yard's ticket opens the yard's stream, not the door's.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

from testkit.api import Client
from testkit.broker import MqttBroker
from testkit.cameras import two_camera_service
from testkit.clock import FakeClock
from testkit.net import wait_until
from testkit.relay import LocalRelay
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
    accept_terms,
    device_site_config,
    start_site,
    stream_kindergarten,
)

pytestmark = pytest.mark.slow

DEVICE = "kg5"
WAIT_S = 60.0


def _parent(site: RunningSite, staff: Client, username: str, rooms: list[str]) -> str:
    """A parent with a grant of ``rooms`` who accepted the viewing terms; their account id."""
    made = staff.post(
        "/api/accounts", {"username": username, "password": PARENT_PASSWORD, "role": "parent"}
    )
    assert made.status == 201, made.body
    body = {"rooms": rooms, "schedule": EVERY_DAY, "expires_at": time.time() + 30 * 86400}
    assert staff.put(f"/api/grants/{made.body['id']}", body).status == 200
    accept_terms(site.login(username, PARENT_PASSWORD))
    return str(made.body["id"])


def _ticket(parent: Client, camera: str) -> dict:
    """The parent's ticket for ``camera``, once the device publishes it to the relay (the device
    says ``not_on_relay`` until then)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        reply = parent.post(f"/api/watch/{DEVICE}/{camera}")
        if reply.status == 200 or time.monotonic() > deadline:
            break
        assert (reply.status, reply.error) == (403, "not_on_relay"), reply.body
        time.sleep(0.3)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def _subscribe(url: str, ticket: str) -> int:
    """A viewer's subscription at ``url`` with ``ticket``: its status (a 201's resource is let
    go again); 404 while the camera's media is not up yet is waited out."""
    deadline = time.monotonic() + WAIT_S
    headers = {"Authorization": f"Bearer {ticket}"}
    while True:
        request = urllib.request.Request(url, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as reply:
                resource = url.split("/whep/")[0] + reply.headers["Location"]
                gone = urllib.request.Request(resource, method="DELETE", headers=headers)
                urllib.request.urlopen(gone, timeout=15).close()
                return int(reply.status)
        except urllib.error.HTTPError as err:
            if err.code != 404 or time.monotonic() > deadline:
                return err.code
        time.sleep(0.3)


def test_a_cameras_device_at_the_site_lists_both_rooms_and_tickets_one_camera(
    mqtt_broker: MqttBroker, relay: LocalRelay, tmp_path: Path
) -> None:
    base, on_relay = relay.frontend_for_devices([tmp_path / "data"], tmp_path)
    site = start_site(mqtt_broker, tmp_path / "site", FakeClock(time.time()))
    streaming = {
        "profile": "kindergarten",
        "live_childcare_viewing_permitted": True,
        "relay": on_relay,
    }
    try:
        with two_camera_service(
            tmp_path, streaming=streaming, site=device_site_config(mqtt_broker, DEVICE)
        ) as service:
            stream_kindergarten(service.owner(), ["door", "yard"])
            assert site.device_seen(DEVICE, timeout=WAIT_S)
            site.add_account(STAFF, STAFF_PASSWORD)
            staff = site.login(STAFF, STAFF_PASSWORD)
            # one device, both cameras, each under its own room
            assert wait_until(lambda: len(staff.get("/api/rooms").body) == 2, timeout=WAIT_S)
            rooms = staff.get("/api/rooms").body
            listed = {
                room: [(c["device"], c["camera"]) for c in cams] for room, cams in rooms.items()
            }
            assert listed == {"Front door": [(DEVICE, "door")], "Yard": [(DEVICE, "yard")]}
            (device,) = staff.get("/api/devices").body
            assert (device["id"], device["online"], len(device["cameras"])) == (DEVICE, True, 2)

            # a parent of the Yard: the yard's camera only
            parent_id = _parent(site, staff, "zhao", ["Yard"])
            assert site.acknowledged(DEVICE, {parent_id}, timeout=WAIT_S)
            parent = site.login("zhao", PARENT_PASSWORD)
            me = parent.get("/api/me").body
            assert [(c["device"], c["camera"], c["room"]) for c in me["cameras"]] == [
                (DEVICE, "yard", "Yard")
            ]
            given = _ticket(parent, "yard")
            assert given["camera_id"] == "yard"
            claims = jwt.decode(given["ticket"], options={"verify_signature": False})
            assert (claims["cam"], claims["aud"]) == ("yard", base)
            refused = parent.post(f"/api/watch/{DEVICE}/door")
            assert (refused.status, refused.error) == (403, "wrong_camera"), refused.body
            # at the relay: the yard's ticket opens the yard's stream and not the door's
            door_url = given["whep_url"].replace("/yard", "/door")
            assert _subscribe(door_url, given["ticket"]) == 403
            assert _subscribe(given["whep_url"], given["ticket"]) == 201
        assert service.returncode == 0, service.log
    except BaseException:
        print(relay.log_tail())  # the relay's side of a failure (the device's: service.log)
        raise
    finally:
        site.stop()
