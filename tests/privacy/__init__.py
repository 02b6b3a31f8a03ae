"""Tests of the privacy layer: the privacy stage and its detectors and models, offline redaction,
the leak judge, the streaming gates, real-name registration, the posted notice."""
