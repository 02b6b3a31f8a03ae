"""docs/home-assistant.md stays true: its YAML parses, the snapshot URL it fetches is a route an
``events:read`` token may call, the token it makes has exactly that scope, the picture is
fetched over HTTPS (MQTT only triggers), and the documented requests work against a real server
(``testkit.api``)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from camera_app.api.app import route_table
from camera_app.config import parse_config
from camera_app.monitor.pipeline import new_event_id
from camera_app.tokens import Scope
from testkit.api import MONDAY_10, ApiFactory, Client
from testkit.paths import REPO
from testkit.recordings import CAMERA, add_event

DOC = REPO / "docs" / "home-assistant.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def _yaml() -> list[Any]:
    return [yaml.safe_load(block) for block in _blocks("yaml")]


def _fetch_command() -> str:
    commands = [
        command
        for block in _yaml()
        if isinstance(block, dict)
        for command in (block.get("shell_command") or {}).values()
        if "snapshot.jpg" in command
    ]
    assert len(commands) == 1, commands
    # Home Assistant renders the template, then splits the words: "{{ event_id }}" is one
    return re.sub(r"\{\{\s*event_id\s*\}\}", "{event_id}", str(commands[0]))


def _automation() -> dict[str, Any]:
    [automations] = [b for b in _yaml() if isinstance(b, list)]
    [automation] = automations
    return dict(automation)


def _values(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a parsed YAML document."""
    if isinstance(node, dict):
        own = [node[key]] if key in node else []
        return own + [v for child in node.values() for v in _values(child, key)]
    if isinstance(node, list):
        return [v for child in node for v in _values(child, key)]
    return []


def _token_body() -> dict[str, Any]:
    [body] = [
        json.loads(found)
        for block in _blocks("sh")
        for found in re.findall(r"-d '(\{[^']*\})'", block)
        if "scopes" in found
    ]
    return dict(body)


def _snapshot_path() -> str:
    """The fetched URL's path, with its template as a route parameter."""
    match = re.search(r"(https?)://[^/\s]+(/\S+)", _fetch_command())
    assert match is not None
    assert match.group(1) == "https"
    return match.group(2)


def test_the_yaml_parses_and_names_a_route_an_events_read_token_may_call() -> None:
    assert len(_yaml()) >= 3  # configuration, automation, clean-up
    path = _snapshot_path()
    routes = [r for r in route_table().routes if r.method == "GET" and r.path == path]
    assert len(routes) == 1, f"{path} is not a GET route of the owner API"
    assert routes[0].scope is Scope.EVENTS_READ
    assert _token_body()["scopes"] == [Scope.EVENTS_READ.value]


def test_the_picture_comes_over_https_with_the_token_from_a_file_and_mqtt_only_triggers() -> None:
    command = _fetch_command()
    assert command.startswith("curl ")
    assert "--proto =https" in command and "--fail" in command
    assert "--header @/config/camera-token.header" in command
    assert "cat_" not in command and "Bearer" not in command  # the secret is only in the file
    written = re.search(r"--output (\S+)", command)
    assert written is not None

    automation = _automation()
    [trigger] = automation["triggers"]
    assert trigger["trigger"] == "mqtt"
    config = parse_config({"camera": {"id": CAMERA}})
    assert trigger["topic"] == f"{config.mqtt.prefix}/{CAMERA}/events/motion"
    actions = automation["actions"]
    fetch = next(a for a in actions if a.get("action") == "shell_command.camera_fetch_snapshot")
    assert fetch["response_variable"] == "fetched"
    called = _values(actions, "action")
    assert not [a for a in called if a.startswith("mqtt.")]  # nothing goes back over MQTT
    assert any(a.startswith("notify.mobile_app_") for a in called)
    # the notification shows the file the fetch wrote, as a media-source path (not /local/)
    image = written.group(1).replace("/media/", "/media/local/", 1)
    assert _values(actions, "image") == [image.replace("{event_id}", "{{ event_id }}")]


def test_the_event_id_check_admits_the_cameras_ids_and_nothing_that_could_leave_the_path() -> None:
    [condition] = _automation()["conditions"]
    found = re.search(r"is match\('([^']+)'\)", condition["value_template"])
    assert found is not None
    pattern = re.compile(found.group(1))
    for moment in (0.0, MONDAY_10, 4102444799.0):
        assert pattern.fullmatch(new_event_id(moment))
    for bad in ("../../config/secrets", "20261116-100000-a1b2c3/../x", "x y", ""):
        assert not pattern.fullmatch(bad), bad


def test_the_documented_token_fetches_the_snapshot_and_nothing_else(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    event_id = new_event_id(MONDAY_10 - 60)
    add_event(api, event_id, MONDAY_10 - 60)
    made = owner.post("/api/tokens", _token_body())
    assert made.status == 201, made.body
    # the header file's line, made the way the page makes it
    [form] = [f for b in _blocks("sh") for f in re.findall(r"printf '([^']*)' 'cat_", b)]
    header = form.replace("%s", made.body["token"]).replace("\\n", "\n")
    assert header.endswith("\n") and header.count("\n") == 1
    name, _, value = header.strip().partition(": ")
    ha = Client(api.url, headers={name: value})
    picture = ha.get(_snapshot_path().replace("{event_id}", event_id))
    assert picture.status == 200 and picture.headers["Content-Type"] == "image/jpeg"
    assert picture.raw.startswith(b"\xff\xd8")
    for method, path in (
        ("GET", "/api/device/health"),
        ("POST", f"/api/cameras/{CAMERA}/disarm"),
        ("DELETE", f"/api/events/{event_id}"),
    ):
        refused = ha.call(method, path)
        # beyond its scope the token is refused like anyone without the right: owner-only
        # routes answer 404 (as for an unknown id), the others 403 token_scope
        assert (refused.status, refused.error) in {(404, "not_found"), (403, "token_scope")}, (
            method,
            path,
            refused.status,
        )
