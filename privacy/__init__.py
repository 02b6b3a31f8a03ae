"""The privacy stage (detect → track → redact → gate) and the streaming gates.

Not built yet: until it is, nothing can be streamed. See DESIGN.md and the open issues.
"""
