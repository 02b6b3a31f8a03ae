"""MQTT: command validation, the outbox and discovery, and the device against a real broker."""
