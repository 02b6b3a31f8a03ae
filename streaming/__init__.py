"""Live streaming of redacted frames (WebRTC). Accepts only ``privacy.RedactedFrame``.

``hub`` hands the newest redacted frame of each camera to viewers, ``track`` is the aiortc video
track that plays it, ``whep`` holds the viewer sessions. The signalling routes live in the owner
API (``camera_app.api.handlers_whep``), which authorises every offer first.
"""
