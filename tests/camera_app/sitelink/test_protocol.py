"""The messages between a device and its site: grants are checked when parsed, and a grant's
digest (its identity in ticket requests) ignores the order of its lists but nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from camera_app.config import parse_config
from camera_app.sitelink.protocol import (
    MAX_ENDED_LOGINS,
    EndedLogin,
    EndedLogins,
    GrantSet,
    SiteGrant,
    TicketRequest,
    device_of,
)
from firmware.errors import AppError
from testkit.site import EVERY_DAY, parent_grant

END = 1_800_000_000.0


def test_a_grants_digest_ignores_order_and_names_everything_else() -> None:
    a = parent_grant("acct", ["Sunflower", "Moon"], END)
    b = parent_grant("acct", ["Moon", "Sunflower", "Moon"], END)
    assert a.digest() == b.digest()
    assert parent_grant("acct", ["Moon"], END).digest() != a.digest()
    assert parent_grant("acct", ["Sunflower", "Moon"], END + 1).digest() != a.digest()
    assert parent_grant("other", ["Sunflower", "Moon"], END).digest() != a.digest()
    weekdays = {"windows": [{"days": ["mon"], "start": "08:00", "end": "17:00"}]}
    assert parent_grant("acct", ["Sunflower", "Moon"], END, schedule=weekdays).digest() != (
        a.digest()
    )


@pytest.mark.parametrize(
    ("grant", "words"),
    [
        ({"account": "a", "rooms": ["A"], "expires_at": END}, "schedule and an end date"),
        ({"account": "a", "rooms": ["A"], "schedule": EVERY_DAY}, "schedule and an end date"),
        ({"account": "a", "schedule": EVERY_DAY, "expires_at": END}, "at least one room"),
        ({"account": "a/b", "rooms": ["A"], "schedule": EVERY_DAY, "expires_at": END}, "pattern"),
        ({"account": "a", "rooms": ["A"], "role": "owner", "expires_at": END}, "role"),
        ({"account": "a", "rooms": ["A"], "resident_id": "x", "expires_at": END}, "extra"),
    ],
)
def test_a_bad_grant_is_refused_with_its_reason(grant: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        SiteGrant.model_validate(grant)


def test_a_grant_set_names_each_account_once() -> None:
    grant = parent_grant("acct", ["A"], END)
    with pytest.raises(ValidationError, match="granted twice"):
        GrantSet(grants=(grant, grant))


def test_a_ticket_request_round_trips() -> None:
    request = TicketRequest(
        request_id="r-1",
        account="acct",
        camera="kg-a",
        grant=parent_grant("acct", ["A"], END),
        login_expires_at=END,
        login="0123abcd4567ef89",
    )
    again = TicketRequest.model_validate_json(request.to_bytes())
    assert again == request and again.grant.digest() == request.grant.digest()


def test_ended_logins_name_accounts_and_logins_by_opaque_ids_only() -> None:
    ended = EndedLogins(logins=(EndedLogin(account="acct", login="0123abcd", ended_at=END),))
    assert EndedLogins.model_validate_json(ended.to_bytes()) == ended
    for bad in ({"account": "li hua", "login": "x", "ended_at": END}, {"account": "a"}):
        with pytest.raises(ValidationError):
            EndedLogins.model_validate({"logins": [bad]})
    too_many = [{"account": "a", "login": "l", "ended_at": END}] * (MAX_ENDED_LOGINS + 1)
    with pytest.raises(ValidationError, match="at most"):
        EndedLogins.model_validate({"logins": too_many})


def test_device_of_a_topic() -> None:
    assert device_of("site/kg1/up/cameras", "site") == ("kg1", "up/cameras")
    assert device_of("camera/kg1/state", "site") is None
    assert device_of("site//up", "site") is None


def test_the_site_link_is_off_by_default_and_needs_certificates_when_on() -> None:
    assert parse_config({}).site.enabled is False
    with pytest.raises(AppError, match=r"site\.ca_file, site\.cert_file, site\.key_file"):
        parse_config({"site": {"enabled": True}})
    with pytest.raises(AppError, match="loopback"):
        parse_config({"site": {"enabled": True, "tls": False, "host": "site.example.org"}})
    assert parse_config({"site": {"enabled": True, "tls": False, "host": "127.0.0.1"}}).site.enabled
