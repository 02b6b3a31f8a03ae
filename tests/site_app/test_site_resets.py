"""Password reset links on the real site server (real broker, FakeClock): staff make a link for
someone who forgot their password; they set a new one with it, are logged in, and every other
login of theirs ends. The link works once, for three days, is replaced by a newer one and dies
with its account; wrong codes count as guesses; parents cannot make links; the site's audit
log has each link made and used, never a code or a password."""

from __future__ import annotations

import pytest

from site_app.resets import RESET_VALID_S
from testkit.api import Client, Reply
from testkit.clock import FakeClock
from testkit.concurrency import all_at_once
from testkit.site import PARENT_PASSWORD, STAFF, STAFF_PASSWORD, RunningSite

NEW_PASSWORD = "a-new-password-for-li"


@pytest.fixture
def staff(site: RunningSite) -> Client:
    site.add_account(STAFF, STAFF_PASSWORD)
    return site.login(STAFF, STAFF_PASSWORD)


def make_link(staff: Client, account: str) -> dict:
    made = staff.post(f"/api/accounts/{account}/reset", {})
    assert made.status == 201, made.body
    return made.body


def use(client: Client, code: str, password: str = NEW_PASSWORD) -> Reply:
    return client.post("/api/reset", {"code": code, "password": password})


def test_a_parent_who_forgot_sets_a_new_password_from_the_link(
    site: RunningSite, staff: Client
) -> None:
    li = site.add_account("li", PARENT_PASSWORD, "parent")
    laptop = site.login("li", PARENT_PASSWORD)  # a login somewhere, perhaps a lost phone
    link = make_link(staff, li)
    assert link["username"] == "li" and link["reset_path"] == f"/#reset={link['code']}"
    clock = site.service.clock
    assert isinstance(clock, FakeClock)
    assert link["expires_at"] == pytest.approx(clock.wall() + RESET_VALID_S, abs=1)

    phone = site.client()
    preview = phone.post("/api/reset/preview", {"code": link["code"].lower()})  # typed anyhow
    assert preview.body == {"username": "li", "expires_at": link["expires_at"]}
    done = use(phone, link["code"])
    assert done.status == 200, done.body
    assert (done.body["username"], done.body["role"]) == ("li", "parent")
    assert "site_session" in done.cookies  # the page's login (a script's: the token)
    assert Client(site.url, done.body["token"]).get("/api/me").body["username"] == "li"
    assert laptop.get("/api/me").status == 401  # every other login ended
    old = site.client().post("/api/login", {"username": "li", "password": PARENT_PASSWORD})
    assert (old.status, old.error) == (401, "bad_login")
    assert site.login("li", NEW_PASSWORD).get("/api/me").status == 200
    again = use(site.client(), link["code"], "yet-another-password-1")
    assert (again.status, again.error) == (410, "reset_used")

    log = staff.get("/api/audit?limit=100").body
    assert log["ok"] is True
    issued = [r for r in log["records"] if r["event"] == "site_password_reset_issued"]
    used = [r for r in log["records"] if r["event"] == "site_password_reset"]
    assert [(r["actor"], r["details"]["account"], r["details"]["username"]) for r in issued] == [
        (STAFF, li, "li")
    ]
    assert [(r["actor"], r["details"]["account"]) for r in used] == [("li", li)]
    assert used[0]["details"]["reset"] == issued[0]["details"]["reset"]
    for secret in (link["code"], NEW_PASSWORD, PARENT_PASSWORD):
        assert secret not in str(log)


def test_staff_who_forgot_get_a_link_from_other_staff(site: RunningSite, staff: Client) -> None:
    other = site.add_account("office2", "office2-password-1")
    link = make_link(staff, other)
    assert use(site.client(), link["code"]).body["role"] == "staff"
    assert site.login("office2", NEW_PASSWORD).get("/api/accounts").status == 200


def test_a_newer_link_a_disabled_account_and_time_end_a_link(
    site: RunningSite, staff: Client
) -> None:
    li = site.add_account("li", PARENT_PASSWORD, "parent")
    first, second = make_link(staff, li), make_link(staff, li)
    guest = site.client()
    replaced = guest.post("/api/reset/preview", {"code": first["code"]})
    assert (replaced.status, replaced.error) == (410, "reset_withdrawn")
    assert guest.post("/api/reset/preview", {"code": second["code"]}).status == 200

    clock = site.service.clock
    assert isinstance(clock, FakeClock)
    clock.advance(RESET_VALID_S + 1)
    expired = use(guest, second["code"])
    assert (expired.status, expired.error) == (410, "reset_expired")
    staff = site.login(STAFF, STAFF_PASSWORD)  # the earlier login has ended too
    third = make_link(staff, li)
    assert staff.post(f"/api/accounts/{li}/disable", {}).status == 200
    gone = use(guest, third["code"])
    assert (gone.status, gone.error) == (410, "reset_withdrawn")
    assert staff.post(f"/api/accounts/{li}/reset", {}).error == "no_such_account"
    # nothing was set by any of them
    assert site.service.accounts.by_username("li") is None  # disabled
    assert site.login(STAFF, STAFF_PASSWORD).get("/api/me").status == 200


def test_a_weak_password_bad_input_and_parents_change_nothing(
    site: RunningSite, staff: Client
) -> None:
    li = site.add_account("li", PARENT_PASSWORD, "parent")
    link = make_link(staff, li)
    guest = site.client()
    weak = use(guest, link["code"], "short")
    assert (weak.status, weak.error) == (422, "bad_password")
    for body in ({"code": link["code"]}, {"password": NEW_PASSWORD}, {"code": 7, "password": "x"}):
        assert guest.post("/api/reset", body).error == "invalid_body"
    assert staff.post("/api/accounts/nobody/reset", {}).status == 404
    parent = site.login("li", PARENT_PASSWORD)  # the link does not stop the old password
    assert parent.post(f"/api/accounts/{li}/reset", {}).status == 403
    assert site.client().post(f"/api/accounts/{li}/reset", {}).status == 401
    # the link still works after all that
    assert use(guest, link["code"]).status == 200


def test_wrong_codes_count_as_guesses(site: RunningSite, staff: Client) -> None:
    li = site.add_account("li", PARENT_PASSWORD, "parent")
    link = make_link(staff, li)
    guest = site.client()
    for letter in "STUVW":
        wrong = use(guest, f"ABCD-EFGH-JKMN-PQR{letter}")
        assert (wrong.status, wrong.error) == (404, "reset_unknown")
    locked = use(guest, link["code"])
    assert (locked.status, locked.error) == (429, "too_many_attempts")
    assert site.login("li", PARENT_PASSWORD).get("/api/me").status == 200  # unchanged


def test_two_uses_of_one_link_at_once_set_one_password(site: RunningSite, staff: Client) -> None:
    li = site.add_account("li", PARENT_PASSWORD, "parent")
    code = make_link(staff, li)["code"]
    first, second = site.client(), site.client()
    replies = all_at_once(
        [lambda: use(first, code, "first-new-password"), lambda: use(second, code, NEW_PASSWORD)]
    )
    outcomes = sorted((r.status, r.error) for r in replies)
    assert outcomes == [(200, None), (410, "reset_used")], outcomes
    winner = "first-new-password" if replies[0].status == 200 else NEW_PASSWORD
    assert site.login("li", winner).get("/api/me").status == 200
