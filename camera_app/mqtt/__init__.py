"""MQTT: availability, state, motion events, health and commands; Home Assistant discovery.

``topics`` names the topics, ``outbox`` keeps events on disk until the broker acknowledged them,
``commands`` validates what arrives, ``discovery`` describes the device to Home Assistant and
``bridge`` runs the connection.
"""
