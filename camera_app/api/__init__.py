"""The owner API: one asyncio HTTP(S) face for owners and viewers (and WebRTC signalling).

It only speaks HTTP: the composition root (``camera_app.app``) builds everything its handlers use.
"""
