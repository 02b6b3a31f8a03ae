"""Tests of the streaming layer: WebRTC viewer sessions and encoding, publishing over WHIP to a
relay."""
