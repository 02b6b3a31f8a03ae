"""The viewer web page: one HTML page and its scripts and styles, served from the package.

The page is public (it holds nothing until its user logs in through the API) and is listed in
the route table like every other route, so the OpenAPI description and the 401 checks see it.
Only the files in ``web/`` are served, read once at start-up: a request names an asset, never a
path, so nothing outside that folder can be reached.

Its responses carry their own Content-Security-Policy (the security-header middleware keeps a
header a handler set): scripts, styles and connections from this origin only, no inline code,
no plugins, no framing, and Trusted Types, so the page's script cannot write HTML from strings.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import PUBLIC, Call, RouteTable

log = logging.getLogger(__name__)

routes = RouteTable()

PAGE = "index.html"
PAGE_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


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


def _send(request: web.Request, asset: Asset) -> web.Response:
    # no-cache, not no-store: the browser revalidates (a cheap 304) so an update shows at once
    headers = {
        "Cache-Control": "no-cache",
        "ETag": asset.etag,
        "Content-Security-Policy": PAGE_CSP,
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
    summary="The viewer web page: log in, pick a camera, watch it live",
    roles=PUBLIC,
    tag="web",
    content="text/html",
)
async def viewer_page(call: Call) -> web.Response:
    asset = ASSETS.get(PAGE)
    if asset is None:
        raise ApiError(404, "not_found", "the viewer page is not installed")
    return _send(call.request, asset)


@routes.add(
    "GET",
    "/web/{asset}",
    summary="A script, style sheet or icon of the viewer page",
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
    return _send(call.request, asset)
