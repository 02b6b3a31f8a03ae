"""Tests of the application layer: accounts, the audit log, the config, the live privacy feed;
the owner API, monitoring, MQTT and updates in the subpackages."""
