"""The whole owner API fuzzed from its own OpenAPI description (schemathesis).

One real server (``testkit.api.launch``: the production ``OwnerServices`` on loopback, real
SQLite), its owner set up and logged in, the camera opted in, registered and streaming so the
live routes get past their gates, and a picture from the camera for the preview routes.
Schemathesis loads ``/api/openapi.json`` from that server and, for every operation, generates
requests that fit the description and requests that do not (hypothesis, derandomized: the same
examples every run). Each example is sent three ways: as the owner on the device's real camera
(so the handlers behind the route guard are reached), as the owner with the generated path ids,
and without a session. Every answer must be no 5xx, a status the description lists for the
operation, with the content type and (for errors) the body it documents. The first failure of
each kind per operation is reported (no shrinking), and every operation is run: about 66
operations x 24 examples, 1-4 minutes on this 2-core machine depending on its load.

Side effects that would end the run: ``POST /api/logout`` and ending one's own login session can
end the owner's session; the test then logs the owner in again (past the login limiter, which
the fuzzer's wrong passwords fill, by moving the server's fake clock beyond its window).
Changing the password needs the current one, which the fuzzer never guesses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from camera_app.api.app import route_table
from firmware.frames import Frame
from testkit.api import OWNER, OWNER_PASSWORD, RunningApi, launch, make_id, shutdown

# the WHEP offer is SDP text: sent as generated, like text/plain
schemathesis.serializer.alias("application/sdp", "text/plain")
schemathesis.serializer.alias("text/csv", "text/plain")  # a class list (onboarding)

CAMERA = "cam1"
SENT: Counter[int] = Counter()  # statuses received over the whole run (printed at the end)
EXAMPLES = 12  # per operation and generation mode; 3 requests each
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class Owner:
    """The owner's session token, renewed when the fuzzer ends it."""

    def __init__(self, api: RunningApi) -> None:
        self.api = api
        self.token = ""
        self.renewals = 0
        self.login()

    def login(self) -> None:
        client = self.api.client()
        reply = client.post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD})
        if reply.status == 429:  # the fuzzer's wrong passwords: wait out the limiter's window
            self.api.clock.advance(self.api.config.api.login_window_s + 1)
            reply = client.post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD})
        assert reply.status == 200, reply.body
        self.token = reply.body["token"]

    def renew(self) -> dict[str, str]:
        self.renewals += 1
        self.login()
        return self.headers()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApi, Owner]]:
    api = launch(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        api.owner()
        owner = Owner(api)
        # a picture from the camera, so the preview routes encode one (no capture loop here)
        picture = np.zeros((480, 640, 3), np.uint8)
        picture.flags.writeable = False
        api.preview.put(Frame(image=picture, timestamp=0.0, sequence=0))
        client = api.client().login(OWNER, OWNER_PASSWORD)
        client.post(f"/api/cameras/{CAMERA}/streaming/opt-in", {"confirmation": f"STREAM {CAMERA}"})
        registered = client.post(
            "/api/registrations", {"kind": "owner", "name": "王小明", "resident_id": make_id()}
        )
        assert registered.status == 201, registered.body
        started = client.post(f"/api/cameras/{CAMERA}/streaming/start")
        assert started.status == 200, started.body
        yield api, owner
    finally:
        shutdown(api)


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[RunningApi, Owner]) -> Iterator[BaseSchema]:
    """The description the server serves, aimed at the server."""
    api, _ = fuzzed
    loaded = schemathesis.openapi.from_url(f"{api.url}/api/openapi.json")
    loaded.config.update(base_url=api.url)
    yield loaded
    print(f"\nfuzzed {len(OPERATIONS)} operations: {sum(SENT.values())} requests, {dict(SENT)}")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive connection pool for the whole run; it keeps no cookies, so a session
    cookie never turns an anonymous request into the owner's."""
    with requests.Session() as session:
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        yield session


OPERATIONS = [(r.method, r.path) for r in route_table().routes]


def _label(case: schemathesis.Case, who: str, response: Any) -> str:
    body = "" if case.body is NOT_SET else f" body={case.body!r:.200}"
    return (
        f"{case.method} {case.formatted_path} as {who}{body} query={case.query!r:.120} -> "
        f"{response.status_code if response is not None else '-'}"
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_answers_as_described(
    method: str,
    path: str,
    api_schema: BaseSchema,
    fuzzed: tuple[RunningApi, Owner],
    http: requests.Session,
) -> None:
    _, owner = fuzzed
    operation = api_schema[path][method]
    failures: dict[str, str] = {}  # the first example of each kind of failure

    def send(case: schemathesis.Case, who: str) -> None:
        response = None
        headers = owner.headers() if who == "owner" else None
        try:
            response = case.call(session=http, headers=headers, timeout=30)
            if who == "owner" and response.status_code == 401:  # it logged the owner out
                headers = owner.renew()
                response = case.call(session=http, headers=headers, timeout=30)
            SENT[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Failure, FailureGroup) as err:
            for failure in err.exceptions if isinstance(err, FailureGroup) else [err]:
                failures.setdefault(failure.title, f"{_label(case, who, response)}: {failure}")

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            if "camera_id" in (case.path_parameters or {}):
                generated = case.path_parameters["camera_id"]
                case.path_parameters["camera_id"] = CAMERA
                send(case, "owner")
                case.path_parameters["camera_id"] = generated
            send(case, "owner")
            send(case, "anonymous")

        try:
            run()
        except Unsatisfiable:
            # nothing in the request to get wrong: no parameters, no body
            assert mode is GenerationMode.NEGATIVE, f"no valid request for {method} {path}"
    assert not failures, "\n".join(f"{title}: {text}" for title, text in failures.items())
