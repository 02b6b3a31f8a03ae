"""The audit log for the owner app: a page of records, newest first, filtered and continued with
an opaque cursor; the event names for the filter; and the export and chain check beside them.
Other roles are refused, and a bad query is a 422 that names the parameter."""

from __future__ import annotations

import pytest

from testkit.api import MONDAY_10, OWNER, OWNER_PASSWORD, ApiFactory, Client, RunningApi


def owner_with_history(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    """An owner who logged in four more times, a minute apart, and failed once."""
    api = start_api()
    owner = api.owner()  # setup, login_ok at MONDAY_10
    for _ in range(4):
        api.clock.advance(60)
        api.client().login(OWNER, OWNER_PASSWORD)
    api.clock.advance(60)
    api.client().post("/api/login", {"username": "mallory", "password": "guess"})
    return api, owner


def test_audit_page_is_newest_first_and_continues_with_its_cursor(start_api: ApiFactory) -> None:
    _, owner = owner_with_history(start_api)
    first = owner.get("/api/audit/events?limit=3")
    assert first.status == 200, first.body
    records = first.body["records"]
    assert [r["event"] for r in records] == ["login_failed", "login_ok", "login_ok"]
    # a name that is no account's is not kept (it may be a password typed in the wrong field)
    assert records[0]["actor"] == "unknown user" and records[0]["at"] == MONDAY_10 + 300
    assert set(records[0]) == {"seq", "at", "event", "actor", "camera_id", "details"}
    assert records[0]["details"] == {"client": "127.0.0.1"}
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs, reverse=True)

    rest = owner.get(f"/api/audit/events?limit=3&cursor={first.body['cursor']}").body
    assert [r["seq"] for r in rest["records"]] == [seqs[-1] - 1, seqs[-1] - 2, seqs[-1] - 3]
    last = owner.get(f"/api/audit/events?limit=3&cursor={rest['cursor']}").body
    assert [r["event"] for r in last["records"]] == ["setup"]
    assert last["cursor"] is None
    everything = owner.get("/api/audit/events").body
    assert len(everything["records"]) == 7 and everything["cursor"] is None


def test_audit_page_filters(start_api: ApiFactory) -> None:
    _, owner = owner_with_history(start_api)
    ok = owner.get("/api/audit/events?event=login_ok").body["records"]
    assert len(ok) == 5 and {r["event"] for r in ok} == {"login_ok"}
    unknown = owner.get("/api/audit/events?actor=unknown%20user").body["records"]
    assert [r["event"] for r in unknown] == ["login_failed"]
    assert owner.get("/api/audit/events?actor=mallory").body["records"] == []
    since, until = MONDAY_10 + 60, MONDAY_10 + 180
    window = owner.get(f"/api/audit/events?since={since}&until={until}").body["records"]
    assert [r["at"] for r in window] == [MONDAY_10 + 120, MONDAY_10 + 60]
    none = owner.get("/api/audit/events?event=login_ok&actor=mallory").body
    assert none == {"records": [], "cursor": None}
    # an empty parameter is no filter
    assert len(owner.get("/api/audit/events?event=&actor=").body["records"]) == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("event=no_such_event", "event"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("since=yesterday", "since"),
        ("until=nan", "until"),
        ("cursor=not-ours", "cursor"),
        ("actor=" + "x" * 201, "actor"),
    ],
)
def test_bad_audit_queries_are_refused(start_api: ApiFactory, query: str, field: str) -> None:
    api = start_api()
    owner = api.owner()
    reply = owner.get(f"/api/audit/events?{query}")
    assert reply.status == 422 and reply.error == "invalid_input"
    assert reply.body["reason"].startswith(field)


def test_event_types_list_every_audit_event(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    names = owner.get("/api/audit/event-types").body
    assert names == sorted(names)
    assert {"login_ok", "session_ended", "password_changed", "login_session_ended"} <= set(names)
    # each name is accepted as a filter
    for name in names:
        assert owner.get(f"/api/audit/events?event={name}&limit=1").status == 200


def test_only_the_owner_reads_the_audit_log(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    invited = owner.post(
        "/api/viewers", {"username": "gran", "role": "family", "cameras": ["cam1"]}
    )
    api.client().post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": "grandma-2026", "consent": True},
    )
    gran = api.client().login("gran", "grandma-2026")
    for path in ("/api/audit/events", "/api/audit/event-types", "/api/audit", "/api/audit/verify"):
        assert gran.get(path).status == 403, path
    # the export and the chain check still answer the owner
    export = owner.get("/api/audit")
    assert export.status == 200 and export.headers["Content-Type"].startswith(
        "application/x-ndjson"
    )
    assert len(export.raw.decode().splitlines()) == len(
        owner.get("/api/audit/events").body["records"]
    )
    assert owner.get("/api/audit/verify").body["ok"] is True
