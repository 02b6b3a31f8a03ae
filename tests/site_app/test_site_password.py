"""A site account changes its own password (a parent replaces the one staff set): the current
one is checked under the login limiter, the new one under the devices' password rules, the
account's other logins end and the change is in the site's audit log. The real site server."""

from __future__ import annotations

from testkit.site import PARENT_PASSWORD, STAFF, STAFF_PASSWORD, RunningSite

NEW_PASSWORD = "a-new-password-for-li"


def test_a_parent_changes_the_password_staff_set(site: RunningSite) -> None:
    site.add_account(STAFF, STAFF_PASSWORD)
    site.add_account("li", PARENT_PASSWORD, "parent")
    phone = site.login("li", PARENT_PASSWORD)
    laptop = site.login("li", PARENT_PASSWORD)

    changed = phone.post("/api/password", {"current": PARENT_PASSWORD, "new": NEW_PASSWORD})
    assert changed.status == 200, changed.body
    # the login that changed it goes on; the other one ended; only the new password logs in
    assert phone.get("/api/me").status == 200
    assert laptop.get("/api/me").status == 401
    old = site.client().post("/api/login", {"username": "li", "password": PARENT_PASSWORD})
    assert (old.status, old.error) == (401, "bad_login")
    assert site.login("li", NEW_PASSWORD).get("/api/me").body["username"] == "li"

    staff = site.login(STAFF, STAFF_PASSWORD)
    log = staff.get("/api/audit?limit=100").body
    assert log["ok"] is True
    changes = [r for r in log["records"] if r["event"] == "site_password_changed"]
    assert [(r["actor"], r["details"]) for r in changes] == [
        ("li", {"account": changes[0]["details"]["account"]})
    ]
    assert NEW_PASSWORD not in str(log) and PARENT_PASSWORD not in str(log)


def test_a_wrong_or_weak_password_changes_nothing(site: RunningSite) -> None:
    site.add_account("li", PARENT_PASSWORD, "parent")
    parent = site.login("li", PARENT_PASSWORD)
    other = site.login("li", PARENT_PASSWORD)

    wrong = parent.post("/api/password", {"current": "not-the-password", "new": NEW_PASSWORD})
    assert (wrong.status, wrong.error) == (403, "wrong_password")
    weak = parent.post("/api/password", {"current": PARENT_PASSWORD, "new": "short"})
    assert (weak.status, weak.error) == (422, "weak_password")
    malformed = parent.post("/api/password", {"current": PARENT_PASSWORD})
    assert (malformed.status, malformed.error) == (422, "invalid_body")
    assert site.client().post("/api/password", {"current": "x", "new": "y"}).status == 401
    # nothing changed: the old password still logs in, the other login still works
    assert other.get("/api/me").status == 200
    assert site.login("li", PARENT_PASSWORD).get("/api/me").status == 200


def test_guessing_the_current_password_is_limited(site: RunningSite) -> None:
    """A stolen session cannot guess the password: 5 wrong tries, then 429 (the right one too)."""
    site.add_account("li", PARENT_PASSWORD, "parent")
    parent = site.login("li", PARENT_PASSWORD)
    for n in range(5):
        guess = parent.post("/api/password", {"current": f"guess-number-{n}", "new": NEW_PASSWORD})
        assert (guess.status, guess.error) == (403, "wrong_password")
    locked = parent.post("/api/password", {"current": PARENT_PASSWORD, "new": NEW_PASSWORD})
    assert locked.status == 429 and int(locked.headers["Retry-After"]) > 0
    assert site.login("li", PARENT_PASSWORD).get("/api/me").status == 200
