"""The site's first staff account from its page, with the one-time setup code ``camera-site
run`` shows on its console (no default password, no shell needed): the real site server and
broker, and ``camera-site`` as a process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.clock import SystemClock
from firmware.errors import ExitCode
from privacy.audit import AuditLog
from site_app.accounts import SiteAccounts
from site_app.cli import main
from site_app.db import open_site_database
from site_app.setup import SetupRefused, SiteSetup
from testkit.api import Client
from testkit.broker import MqttBroker
from testkit.concurrency import all_at_once
from testkit.net import wait_until
from testkit.site import STAFF, STAFF_PASSWORD, RunningSite, site_config_file

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def set_up(client: Client, code: str, password: str = STAFF_PASSWORD, username: str = STAFF):
    return client.post("/api/setup", {"code": code, "username": username, "password": password})


def test_the_first_staff_account_is_made_with_the_setup_code(site: RunningSite) -> None:
    guest = site.client()
    assert guest.get("/api/setup").body == {"needed": True}
    code = site.setup_code()
    wrong = set_up(guest, "ABCD-EFGH-JKMN-PQRS")
    assert (wrong.status, wrong.error) == (403, "wrong_setup_code")
    weak = set_up(guest, code, "short")
    assert (weak.status, weak.error) == (422, "bad_password")
    assert set_up(guest, code, username="").error == "invalid_body"
    done = set_up(guest, code.lower().replace("-", " "))  # typed anyhow
    assert done.status == 201, done.body
    assert done.body["role"] == "staff" and "site_session" in done.cookies
    office = Client(site.url, done.body["token"])
    assert office.get("/api/me").body["username"] == STAFF
    assert site.login(STAFF, STAFF_PASSWORD).get("/api/accounts").status == 200
    # once set up: no form, and no second account by any code
    assert guest.get("/api/setup").body == {"needed": False}
    again = set_up(guest, site.setup_code(), username="intruder")
    assert (again.status, again.error) == (409, "set_up_already")
    assert [a.username for a in site.service.accounts.all()] == [STAFF]
    created = office.get("/api/audit?event=site_account_created").body["records"]
    assert [(r["actor"], r["details"]["username"]) for r in created] == [("setup", STAFF)]
    assert code not in str(office.get("/api/audit?limit=100").body)


def test_guessing_the_setup_code_is_stopped_for_everyone(site: RunningSite) -> None:
    """Five wrong codes in all (the quota is shared by every address): then 429, the right code
    too, and nothing is made."""
    code = site.setup_code()
    guest = site.client()
    for letter in "STUVW":
        assert set_up(guest, f"ABCD-EFGH-JKMN-PQR{letter}").status == 403
    locked = set_up(site.client(), code)
    assert (locked.status, locked.error) == (429, "too_many_attempts")
    assert site.service.accounts.all() == []


def test_two_set_ups_at_once_make_one_account(site: RunningSite) -> None:
    code = site.setup_code()
    first, second = site.client(), site.client()
    replies = all_at_once(
        [lambda: set_up(first, code, username="office"), lambda: set_up(second, code, username="x")]
    )
    assert sorted(r.status for r in replies) in ([201, 403], [201, 409]), [r.body for r in replies]
    assert len(site.service.accounts.all()) == 1


@pytest.mark.slow
def test_camera_site_run_shows_a_setup_code_that_makes_the_office_account(
    mqtt_broker: MqttBroker, tmp_path: Path
) -> None:
    path = site_config_file(mqtt_broker, tmp_path)
    command = [sys.executable, "-m", "site_app.cli", "run", "--config", str(path)]
    console = tmp_path / "console.txt"  # its standard error, as the journal would keep it
    with console.open("w") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        # the box comes right after the server listens
        assert wait_until(lambda: "new-setup-code" in console.read_text(), 10), console.read_text()
        shown = console.read_text()
        found = CODE.search(shown)
        assert found is not None and f"{url}/" in shown, shown
        assert set_up(Client(url), found.group(0)).status == 201
    finally:
        process.terminate()
        process.wait(timeout=10)
    # set up now: the console command says no code is needed
    assert main(["new-setup-code", "--config", str(path)]) == ExitCode.USAGE


def test_camera_site_new_setup_code_ends_the_one_before(
    mqtt_broker: MqttBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = site_config_file(mqtt_broker, tmp_path)
    codes = []
    for _ in range(2):
        assert main(["new-setup-code", "--config", str(path)]) == 0
        found = CODE.search(capsys.readouterr().err)
        assert found is not None
        codes.append(found.group(0))
    conn = open_site_database(tmp_path / "data")
    try:
        clock = SystemClock()
        setup = SiteSetup(conn, clock, SiteAccounts(conn, clock, 3600), AuditLog(conn, clock))
        with pytest.raises(SetupRefused, match="wrong, used or expired"):
            setup.check(codes[0])
        setup.check(codes[1])  # the newer one works
    finally:
        conn.close()
