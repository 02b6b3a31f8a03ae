"""The site's side of the device link in tests: a device's ``site:`` config for the test broker,
and a site client that pushes grants and asks for tickets over the real broker, as ``site_app``
does (certificate CN ``site``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from camera_app.sitelink.protocol import GrantSet, SiteGrant, SiteTopics, TicketRequest
from testkit.broker import Collector, MqttBroker, publish_and_wait

EVERY_DAY = {
    "windows": [
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "24:00",
        }
    ]
}


def device_site_config(broker: MqttBroker, device_id: str) -> dict[str, Any]:
    """The ``site:`` config section of a device at the site whose broker is ``broker``."""
    cert, key = broker.pki.client(device_id)
    return {
        "enabled": True,
        "host": broker.host,
        "port": broker.port,
        "ca_file": str(broker.pki.ca_cert),
        "cert_file": str(cert),
        "key_file": str(key),
        "device_id": device_id,
    }


def parent_grant(account: str, rooms: list[str], expires_at: float, **extra: Any) -> SiteGrant:
    """A parent's grant of ``rooms``, every day, until ``expires_at``."""
    return SiteGrant.model_validate(
        {"account": account, "rooms": rooms, "schedule": EVERY_DAY, "expires_at": expires_at}
        | extra
    )


class SiteClient:
    """The site on the broker, for one device: its published state and its answers."""

    def __init__(self, broker: MqttBroker, device_id: str, prefix: str = "site") -> None:
        self.topics = SiteTopics(prefix, device_id)
        self.client = broker.client("site", client_id=f"site-{uuid.uuid4().hex[:6]}")
        self.cameras = Collector(self.client, self.topics.cameras)
        self.acks = Collector(self.client, self.topics.grants_ack)
        self.replies = Collector(self.client, self.topics.ticket_reply)

    def push_grants(self, *grants: SiteGrant) -> dict[str, Any]:
        """Publish the grant set (retained) and return the device's acknowledgement."""
        seen = len(self.acks.messages)
        payload = GrantSet(grants=grants).to_bytes()
        assert not publish_and_wait(
            self.client, self.topics.grants, payload, retain=True
        ).is_failure
        got = self.acks.wait_for(seen + 1, timeout=5)
        assert len(got) > seen, "the device did not acknowledge the grant set"
        return json.loads(got[-1].payload)

    def ask(self, account: str, camera: str, grant: SiteGrant, login_expires_at: float) -> dict:
        """Ask the device for a ticket; its reply."""
        return self.ask_raw(
            TicketRequest(
                request_id=uuid.uuid4().hex,
                account=account,
                camera=camera,
                grant=grant,
                login_expires_at=login_expires_at,
            ).to_bytes()
        )

    def ask_raw(self, payload: bytes) -> dict:
        rid = json.loads(payload).get("request_id")
        seen = len(self.replies.messages)
        assert not publish_and_wait(self.client, self.topics.ticket_request, payload).is_failure
        for _ in range(3):
            got = self.replies.wait_for(seen + 1, timeout=5)
            for message in got[seen:]:
                reply = json.loads(message.payload)
                if reply["request_id"] == rid:
                    return reply
            seen = len(got)
        raise AssertionError(f"no answer to ticket request {rid}")
