"""The web app: one HTML page and its ES modules, styles, manifest and service worker, served
from the package (no build step, nothing from the internet).

The page is public (it holds nothing until its user logs in through the API) and is listed in
the route table like every other route, so the OpenAPI description and the 401 checks see it.
Only the files in ``web/`` are served, read once at start-up: a request names an asset, never a
path, so nothing outside that folder can be reached. The service worker and the manifest are
served from the root, since a service worker only controls pages under its own path.

Its responses carry their own Content-Security-Policy (the security-header middleware keeps a
header a handler set): scripts, styles, media and connections from this origin only, no inline
code, no plugins, no framing, and Trusted Types, so the page's script cannot write HTML from
strings; the one policy it may create (``app-sw``) admits the service worker's URL and nothing
else.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

import segno
from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, PUBLIC, Call, RouteTable
from camera_app.api.schemas import QrBody

log = logging.getLogger(__name__)

routes = RouteTable()

PAGE = "index.html"


def page_csp(relay: str | None = None) -> str:
    """The page's policy; ``relay``: the origin of the relay viewers watch on (the page sends
    their ticket there and gets the relay's SDP offer), the one other origin it may connect to."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {relay}" if relay else "connect-src 'self'",
            "img-src 'self' blob:",  # blob: the mask preview the app fetched itself
            "media-src 'self'",
            "manifest-src 'self'",
            "worker-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types app-sw",
        )
    )


PAGE_CSP = page_csp()
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
SERVICE_WORKER = "sw.js"
MANIFEST = "manifest.webmanifest"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the page, ready to send."""

    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every servable file of ``camera_app/api/web``, by file name."""
    assets: dict[str, Asset] = {}
    for entry in resources.files("camera_app.api.web").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if not entry.is_file() or suffix not in _TYPES:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        assets[entry.name] = Asset(body, _TYPES[suffix], etag)
    if PAGE not in assets:  # an install without package data: say so instead of 404s
        log.error("the viewer page is missing from the installed package (camera_app/api/web)")
    return assets


ASSETS = load_assets()


def _send(call: Call, asset: Asset) -> web.Response:
    request = call.request
    relay = call.ctx.config.streaming.relay
    # no-cache, not no-store: the browser revalidates (a cheap 304) so an update shows at once
    headers = {
        "Cache-Control": "no-cache",
        "ETag": asset.etag,
        "Content-Security-Policy": page_csp(relay.audience if relay.whip_url else None),
    }
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if asset.content_type.startswith("text/") else None
    return web.Response(
        body=asset.body, content_type=asset.content_type, charset=charset, headers=headers
    )


@routes.add(
    "GET",
    "/",
    summary="The web app: owner screens, live view for viewers, joining by invite",
    roles=PUBLIC,
    tag="web",
    content="text/html",
)
async def viewer_page(call: Call) -> web.Response:
    asset = ASSETS.get(PAGE)
    if asset is None:
        raise ApiError(404, "not_found", "the viewer page is not installed")
    return _send(call, asset)


@routes.add(
    "GET",
    "/web/{asset}",
    summary="A script, style sheet or icon of the web app",
    roles=PUBLIC,
    tag="web",
    content="*/*",
    responses={200: "The file", 404: "No such file"},
)
async def viewer_asset(call: Call) -> web.Response:
    name = call.param("asset")
    asset = ASSETS.get(name) if name != PAGE else None
    if asset is None:
        raise ApiError(404, "not_found", f"no file {name[:64]!r} in the viewer page")
    return _send(call, asset)


@routes.add(
    "GET",
    "/sw.js",
    summary="The service worker that keeps the app shell for offline start (never recordings)",
    roles=PUBLIC,
    tag="web",
    content="text/javascript",
)
async def service_worker(call: Call) -> web.Response:
    return _send(call, ASSETS[SERVICE_WORKER])


@routes.add(
    "GET",
    "/manifest.webmanifest",
    summary="The web app manifest (install on a phone's home screen)",
    roles=PUBLIC,
    tag="web",
    content="application/manifest+json",
)
async def manifest(call: Call) -> web.Response:
    return _send(call, ASSETS[MANIFEST])


@routes.add(
    "POST",
    "/api/qr",
    summary="A QR code's modules for an invite or viewing link, drawn by the app "
    "(made on the device: the link never goes to a QR service)",
    roles=OWNER,
    tag="web",
    body=QrBody,
)
async def qr_code(call: Call) -> web.Response:
    body = await call.body(QrBody)
    code = segno.make(body.text, error="m", micro=False)
    rows = ["".join("1" if cell else "0" for cell in row) for row in code.matrix]
    return web.json_response({"size": len(rows), "border": 4, "rows": rows})
