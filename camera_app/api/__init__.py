"""The owner API: one asyncio HTTP(S) server for owners and viewers (and, later, WebRTC)."""

from camera_app.api.server import ApiServer

__all__ = ["ApiServer"]
