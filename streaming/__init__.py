"""Live streaming of redacted frames (WebRTC). Accepts only ``privacy.RedactedFrame``.

Not built yet: the app has no streaming path today.
"""
