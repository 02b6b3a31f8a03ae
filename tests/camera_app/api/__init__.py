"""The owner API through a real server on loopback: authentication, the streaming gates, bad
input, live view over WHEP, the viewer web page."""
